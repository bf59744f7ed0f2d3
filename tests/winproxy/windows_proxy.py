"""Windows by proxy: in this process, modules of xlperf cannot import ``resource`` or ``fcntl``.

Windows has neither module (nor ``fork``). This Linux machine stands in for a clerk's Windows PC
where this module is imported at every interpreter's start (a ``.pth`` file in a user site folder,
see :mod:`winenv`): spawned workers and ``xlperf`` subprocesses too, which keep the environment.
Only xlperf's own imports are refused, judged by the importing module's name, so third-party
libraries go on using what they use on Linux (filelock's ``fcntl``, multiprocessing's own
imports): what is tested is that xlperf does without them, as it must on Windows.

``python -m windows_proxy`` asserts that the proxy is in effect (in this process and in a
spawned one) and that workers start by spawn: a CI job that meant to test this way fails rather
than tests the Linux ways by mistake.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = frozenset({"resource", "fcntl"})
"""Modules Windows does not have, refused to xlperf's modules here."""

_import = builtins.__import__


def _windows_import(name: str, globals: Mapping[str, Any] | None = None, locals: Mapping[str, Any] | None = None,
                    fromlist: Sequence[str] = (), level: int = 0) -> Any:
    importer = str((globals or {}).get("__name__") or "")
    if level == 0 and name.partition(".")[0] in MISSING and importer.partition(".")[0] == "xlperf":
        raise ModuleNotFoundError(f"No module named {name!r} (Windows by proxy: {importer})", name=name)
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = _windows_import


def in_effect() -> dict[str, Any]:
    """What this process sees: whether an xlperf module can import each missing module, and
    whether xlperf's workers were left without rlimits."""
    import xlperf.workers.pool as pool

    seen: dict[str, Any] = {"rlimits": pool.resource is not None}
    for name in sorted(MISSING):
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

    expected = {"rlimits": False, **{name: False for name in MISSING}}
    with start_context().Pool(1) as pool:
        seen = {"this process": in_effect(), "a spawned worker": pool.apply(windows_proxy.in_effect)}
    problems = [f"{where} sees {what}" for where, what in seen.items() if what != expected]
    if start_method() != "spawn":
        problems.append(f"workers start by {start_method()}, not spawn")
    if (sys.stdout.encoding or "").lower() != "gbk":
        problems.append(f"standard output is {sys.stdout.encoding}, not gbk")
    if problems:
        raise SystemExit("the Windows proxy is not in effect: " + "; ".join(problems))
    print(f"Windows proxy in effect: workers spawned, xlperf without {' and '.join(sorted(MISSING))}, "
          f"standard output {sys.stdout.encoding}")


if __name__ == "__main__":
    main()
