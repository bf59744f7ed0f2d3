"""The environment of a Windows-by-proxy run (:mod:`windows_proxy`): for a test's subprocess, and
for the CI job (``python tests/winenv.py FOLDER`` prints the user base to set).

The proxy is loaded by a ``.pth`` file in a user site folder (``PYTHONUSERBASE``), not by a
``sitecustomize`` on ``PYTHONPATH``: many tests run ``xlperf`` with ``PYTHONPATH`` set to the
checkout alone, and the proxy must reach those processes and their spawned workers too.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

PROXY = Path(__file__).resolve().parent / "winproxy"


def user_base(folder: Path) -> Path:
    """A user base under ``folder`` whose site folder loads the proxy at every start."""
    base = folder / "windows-proxy"
    found = subprocess.run([sys.executable, "-c", "import site; print(site.getusersitepackages())"],
                           env={**os.environ, "PYTHONUSERBASE": str(base)}, capture_output=True, text=True,
                           check=True).stdout.strip()
    packages = Path(found)
    packages.mkdir(parents=True, exist_ok=True)
    (packages / "xlperf_windows_proxy.pth").write_text(f"{PROXY}\nimport windows_proxy\n", encoding="utf-8")
    return base


def windows_env(folder: Path, encoding: str = "gbk") -> dict[str, str]:
    """This process's environment as a clerk's Windows PC would give it: xlperf without
    ``resource`` and ``fcntl``, workers spawned, a console of ``encoding``."""
    assert site.ENABLE_USER_SITE is not False, "user site folders are off: the proxy would not load"
    return {**os.environ, "PYTHONUSERBASE": str(user_base(folder)), "XLPERF_START_METHOD": "spawn",
            "PYTHONIOENCODING": encoding}


if __name__ == "__main__":
    print(user_base(Path(sys.argv[1])))
