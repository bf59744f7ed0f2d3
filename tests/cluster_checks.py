"""Checks of one file that the cluster tests send to Dask workers (module-level, so that the
workers' hosts can import them: the Dask processes get tests/ on their PYTHONPATH). Each forces
one path of the per-file memory limit, so each test knows its one outcome."""

from __future__ import annotations

import ctypes
from pathlib import Path

from xlperf.checks.check_files import SUMMARY, check_one
from xlperf.findings import CheckedReturn

BLOAT_BYTES = 256 * 1024 * 1024
"""More than the tests' limit (16 MB) and less than the default one (1 GiB): a limit that did not
reach the worker would let the allocation succeed, and the file would be checked normally."""

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]


def bloat_in_python(path: Path) -> CheckedReturn:
    """Python asks for more memory than the limit allows: MemoryError in the worker."""
    block = bytearray(BLOAT_BYTES)
    block[-1] = 1
    return check_one(path, keep=SUMMARY)


def bloat_natively(path: Path) -> CheckedReturn:
    """A native library asks for more than the limit allows and writes to what it was given
    without looking (as a C reader might): malloc returns NULL under the limit, the write kills
    the worker."""
    block = _libc.malloc(BLOAT_BYTES)
    ctypes.memset(block or 0, 1, BLOAT_BYTES)
    return check_one(path, keep=SUMMARY)
