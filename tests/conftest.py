"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from xlperf.excel.gnumeric import gnumeric_convert, ssconvert_path
from xlperf.excel.recalc import recalculate, soffice_path


@pytest.fixture(scope="session")
def lo_recalc() -> Callable[[Sequence[Path], Path], dict[Path, Path]]:
    """:func:`xlperf.excel.recalc.recalculate`; skips without LibreOffice, except on CI where it fails."""
    if soffice_path() is None:
        message = "LibreOffice (soffice) is not on PATH; the engine tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return recalculate


@pytest.fixture(scope="session")
def gn_convert() -> Callable[..., dict[Path, Path]]:
    """:func:`xlperf.excel.gnumeric.gnumeric_convert`; skips without Gnumeric, except on CI where it fails."""
    if ssconvert_path() is None:
        message = "Gnumeric (ssconvert) is not on PATH; the second-engine tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return gnumeric_convert
