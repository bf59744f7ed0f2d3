"""The package as a bureau's server gets it: a wheel built from the checkout holds every module and
every file of package data, installs into a new virtual environment from a folder of wheels with
no package index reachable (README: 离线安装), and ``xlperf demo`` runs from it in an empty folder
outside the checkout.

The folder of wheels is made as README says, on a machine that reaches an index: ``pip
download`` of the wheel's dependencies (``XLPERF_WHEELHOUSE`` names one made beforehand, for a
test machine without index access). The install then runs with pip's configuration files
ignored, no find-links but that folder, ``--no-index`` and an index address on a closed loopback
port: a package missing from the folder fails the install instead of being fetched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from required import missing

import xlperf

ROOT = Path(xlperf.__file__).resolve().parents[1]
WHEELHOUSE_ENV = "XLPERF_WHEELHOUSE"
BUILD_FILES = ("setup.cfg", "pyproject.toml", "README.md")
"""What setuptools reads besides the package (README is the long description)."""


def run(argv: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def package_files() -> set[str]:
    """Every file of the package in the checkout (not caches), as paths in a wheel."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "xlperf").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of the checkout (a build writes build/ and egg-info where
    it runs: not into the checkout other tests read)."""
    src = tmp_path_factory.mktemp("checkout")
    shutil.copytree(ROOT / "xlperf", src / "xlperf", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in BUILD_FILES:
        shutil.copy(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src])
    [built] = dist.glob("xlperf-*.whl")
    return built


def test_the_wheel_holds_every_module_and_all_package_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        held = {name for name in zf.namelist() if name.startswith("xlperf/")}
    assert held == package_files()
    # The data the package reads at run time, by kind (a pattern dropped from setup.cfg fails here too).
    for pattern in ("xlperf/form/specs/*.yaml", "xlperf/samples/*.json", "xlperf/samples/*.csv",
                    "xlperf/report/templates/*.j2", "xlperf/web/templates/*.html", "xlperf/web/static/*",
                    "xlperf/ledger/migrations/script.py.mako", "xlperf/ledger/migrations/versions/*.py",
                    "xlperf/model/__init__.py"):
        assert any(Path(name).match(pattern) for name in held), pattern


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wheelhouse(wheel: Path, folder: Path) -> Path:
    """The wheels of xlperf's dependencies and the wheel under test, in ``folder``."""
    given = os.environ.get(WHEELHOUSE_ENV)
    if given:
        for path in Path(given).glob("*.whl"):
            if not path.name.startswith("xlperf-"):  # never an older build of xlperf itself
                shutil.copy(path, folder)
    else:  # the connected machine's step of README
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(folder), str(wheel)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            missing(f"a package index for `pip download` ({done.stderr.strip()[-300:]})",
                    f"run where pip reaches an index, or set {WHEELHOUSE_ENV} to a folder of the dependencies' wheels")
    shutil.copy(wheel, folder)
    return folder


def offline_env(home: Path) -> dict[str, str]:
    """The environment of a machine without index access: no pip configuration files, no
    find-links or index of ours, an index address that refuses connections, and nothing of the
    checkout (PYTHONPATH) in reach."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"http://127.0.0.1:{closed_port()}/simple",
               PIP_NO_CACHE_DIR="1", HOME=str(home))
    return env


@pytest.mark.timeout(1500)
def test_offline_install_into_a_new_venv_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    house = wheelhouse(wheel, (tmp_path / "wheels"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    env = offline_env(tmp_path)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", "--no-index", "--find-links", house, "xlperf"], env=env)
    where = run([python, "-c", "import xlperf, sys; print(xlperf.__file__)"], env=env, cwd=tmp_path).strip()
    assert Path(where).is_relative_to(venv), where  # the installed package, not the checkout
    work = tmp_path / "空文件夹"
    work.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    output = run([venv / "bin" / "xlperf", "demo"], env=env, cwd=work)
    out = work / "output"
    assert sorted(p.name for p in (out / "templates").glob("*.xlsx")) == [
        "evaluation_report.xlsx", "performance_monitoring.xlsx", "project_self_evaluation.xlsx", "rectification.xlsx",
        "self_evaluation.xlsx", "target_declaration.xlsx", "target_table.xlsx"]
    for made in ("summary.xlsx", "xlperf.db", "cycle"):
        assert (out / made).exists(), made
    assert len(list((out / "reports").glob("*.html"))) == len(list((out / "returns").glob("*.xlsx"))) > 0
    assert "xlperf serve --db output/xlperf.db" in output
