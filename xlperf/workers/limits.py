"""What checking one file may cost: :class:`Limits`, from the commands' options or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_SECONDS", "MEMORY_ENV", "SECONDS_ENV", "LimitError", "Limits"]

DEFAULT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 1024
SECONDS_ENV = "XLPERF_FILE_SECONDS"
MEMORY_ENV = "XLPERF_FILE_MEMORY_MB"


class LimitError(ValueError):
    """A setting of the workers given in the environment or an option that is not valid: a limit
    that is no positive number, a start method that is not offered (Chinese)."""


@dataclass(frozen=True)
class Limits:
    """What checking one file may cost."""

    seconds: float = DEFAULT_SECONDS
    """Wall time from the moment a worker takes the file."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Address space a file's check may add to the worker's size at its start (``RLIMIT_AS``), in
    MiB: a worker is not starved by what it holds before its first file."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, seconds: float | None = None,
                 memory_mb: int | None = None) -> Limits:
        """Given values first, then ``XLPERF_FILE_SECONDS`` / ``XLPERF_FILE_MEMORY_MB``, then defaults."""
        env = os.environ if env is None else env
        return cls(seconds=seconds if seconds is not None else _positive(env, SECONDS_ENV, float, DEFAULT_SECONDS),
                   memory_mb=memory_mb if memory_mb is not None else _positive(env, MEMORY_ENV, int, DEFAULT_MEMORY_MB))


def _positive(env: Mapping[str, str], name: str, kind: type[Any], default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        raise LimitError(f"环境变量 {name}={raw!r} 无效：应为正数")
    return value
