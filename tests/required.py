"""The one guard for the real components the tests need (LibreOffice, Gnumeric, PostgreSQL,
Dovecot, Chromium, Dask, ...).

Where a component is missing, a test calls :func:`missing`: with ``XLPERF_REQUIRE_ALL=1`` (set by
``.ci/run``, and by anyone who wants a run that cannot pass without them) the test fails naming
the component; otherwise it is skipped, and the reason says what to install. The variable is
the only switch: ``CI`` is not looked at (CI systems set it to "true", "1" or not at all).
conftest.py also turns every other skip into a failure under the same variable, so a skip
written elsewhere (a ``skipif``, an ``importorskip``) cannot let such a run pass either.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest

REQUIRE_ENV = "XLPERF_REQUIRE_ALL"


def require_all() -> bool:
    """Whether every test must run (``XLPERF_REQUIRE_ALL=1``)."""
    return os.environ.get(REQUIRE_ENV, "") == "1"


def missing(component: str, install: str) -> NoReturn:
    """``component`` is not there: fail under ``XLPERF_REQUIRE_ALL=1``, else skip; both name it and
    say what to install (``install``: the package or the step that provides it)."""
    message = f"{component} is missing: {install}"
    if require_all():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: every component is required)", pytrace=False)
    pytest.skip(message)


def importable(module: str, component: str, install: str) -> Any:
    """``import module``, or :func:`missing` (instead of ``pytest.importorskip``)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        missing(component, install)
