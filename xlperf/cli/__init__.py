"""Command-line interface (click). Thin commands; exit codes."""

from xlperf.cli.commands import main

__all__ = ["main"]
