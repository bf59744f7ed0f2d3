"""Command-line interface (click). Thin commands; exit codes."""

from xlperf.cli import desk  # noqa: F401  (registers serve and user on main)
from xlperf.cli.commands import main

__all__ = ["main"]
