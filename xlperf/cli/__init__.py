"""Command-line interface (click). Thin commands; exit codes."""

from xlperf.cli import (
    desk,  # noqa: F401  (registers serve and user on main)
    formcmd,  # noqa: F401  (registers form check / form new on main)
)
from xlperf.cli.commands import main

__all__ = ["main"]
