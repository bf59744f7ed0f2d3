"""Windows by proxy: in this process, xlperf's modules see the standard library as Windows has it.

Windows has no ``resource``, ``fcntl`` or other Unix-only modules (nor ``fork``), and its ``os``
and ``signal`` lack Unix-only names (``os.fchmod``, ``os.statvfs``, ``os.O_NONBLOCK``,
``os.killpg``, ``signal.SIGKILL``...). This Linux machine stands in for a clerk's Windows PC where
this module is imported at every interpreter's start (a ``.pth`` file in a user site folder, see
:mod:`winenv`): spawned workers and ``xlperf`` subprocesses too, which keep the environment.
Only xlperf's own imports are changed, judged by the importing module's name: an xlperf module
cannot import the missing modules and gets ``os`` and ``signal`` without the missing names.
Third-party libraries go on using what they use on Linux (filelock's ``fcntl``,
multiprocessing's own imports): what is tested is that xlperf does without them, as it must on
Windows. (The lists are what Python 3.11's documentation marks Unix-only among what xlperf or
its like might use; they are not Windows' own module, which cannot be read here.)

``python -m windows_proxy`` asserts that the proxy is in effect (in this process and in a
spawned one), that workers start by spawn and that standard output is GBK: a CI job meant to
test this way fails rather than test the Linux ways by mistake.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = frozenset({"resource", "fcntl", "termios", "tty", "pty", "pwd", "grp", "posix", "syslog"})
"""Modules Windows does not have (Unix only), refused to xlperf's modules here."""
UNIX_ONLY = {
    "os": frozenset({
        "fork", "forkpty", "register_at_fork", "fchmod", "lchmod", "fchown", "chown", "lchown", "killpg",
        "setsid", "setpgrp", "getpgid", "setpgid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
        "setuid", "setgid", "statvfs", "fstatvfs", "ST_RDONLY", "ST_NOSUID", "sync", "fdatasync", "uname",
        "mkfifo", "mknod", "nice", "pipe2", "openpty", "ttyname", "sysconf", "pathconf", "fpathconf",
        "confstr", "getloadavg", "sched_getaffinity", "wait", "wait3", "wait4", "WNOHANG", "O_NONBLOCK",
        "O_NDELAY", "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_SYNC", "O_DSYNC", "O_NOCTTY", "sendfile",
        "posix_fadvise", "posix_fallocate", "chroot", "getresuid", "initgroups", "EX_OK"}),
    "signal": frozenset({
        "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGALRM", "SIGPIPE", "SIGSTOP",
        "SIGCONT", "SIGTSTP", "alarm", "setitimer", "getitimer", "pause", "pthread_kill", "pthread_sigmask",
        "sigwait", "siginterrupt", "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"}),
}
"""Names of modules Windows has that its versions lack (Python 3.11 on Windows; ``fchmod`` and
``lchmod`` came to Windows in 3.13): xlperf's modules get these modules without them."""

_import = builtins.__import__


class _WindowsView(types.ModuleType):
    """A module as Windows has it: every attribute but the Unix-only ones."""

    def __init__(self, module: types.ModuleType, lacking: frozenset[str]) -> None:
        super().__init__(module.__name__, module.__doc__)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_lacking", lacking)

    def __getattr__(self, name: str) -> Any:
        if name in self._lacking:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (Windows by proxy)")
        return getattr(self._module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._module, name, value)


_views: dict[str, _WindowsView] = {}


def _windows_import(name: str, globals: Mapping[str, Any] | None = None, locals: Mapping[str, Any] | None = None,
                    fromlist: Sequence[str] | None = (), level: int = 0) -> Any:
    importer = str((globals or {}).get("__name__") or "")
    if level or importer.partition(".")[0] != "xlperf":
        return _import(name, globals, locals, fromlist, level)
    top = name.partition(".")[0]
    if top in MISSING:
        raise ModuleNotFoundError(f"No module named {name!r} (Windows by proxy: {importer})", name=name)
    module = _import(name, globals, locals, fromlist, level)
    if top in UNIX_ONLY and (name == top or not fromlist):  # "import os", "import os.path", "from os import x"
        if top not in _views:
            _views[top] = _WindowsView(sys.modules[top], UNIX_ONLY[top])
        return _views[top]
    return module


builtins.__import__ = _windows_import


def in_effect() -> dict[str, Any]:
    """What this process sees: whether an xlperf module can import each missing module, and
    whether xlperf's workers were left without rlimits."""
    import xlperf.workers.pool as pool

    seen: dict[str, Any] = {"rlimits": pool.resource is not None}
    probe: dict[str, Any] = {"__name__": "xlperf.windows_proxy_probe"}
    exec("import os, signal", probe)
    seen["os.fchmod"] = hasattr(probe["os"], "fchmod")
    seen["signal.SIGKILL"] = hasattr(probe["signal"], "SIGKILL")
    for name in ("resource", "fcntl"):
        try:
            exec(f"import {name}", {"__name__": "xlperf.windows_proxy_probe"})
        except ModuleNotFoundError:
            seen[name] = False
        else:
            seen[name] = True
    return seen


def main() -> None:
    import windows_proxy  # this module by its name (not __main__), for the spawned process to import

    from xlperf.workers.start import start_context, start_method

    expected = {"rlimits": False, "os.fchmod": False, "signal.SIGKILL": False, "resource": False, "fcntl": False}
    with start_context().Pool(1) as pool:
        seen = {"this process": in_effect(), "a spawned worker": pool.apply(windows_proxy.in_effect)}
    problems = [f"{where} sees {what}" for where, what in seen.items() if what != expected]
    if start_method() != "spawn":
        problems.append(f"workers start by {start_method()}, not spawn")
    if (sys.stdout.encoding or "").lower() != "gbk":
        problems.append(f"standard output is {sys.stdout.encoding}, not gbk")
    if problems:
        raise SystemExit("the Windows proxy is not in effect: " + "; ".join(problems))
    print(f"Windows proxy in effect: workers spawned, xlperf without {', '.join(sorted(MISSING))} and the "
          f"Unix-only names of os and signal, standard output {sys.stdout.encoding}")


if __name__ == "__main__":
    main()
