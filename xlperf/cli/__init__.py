"""Command-line interface (click). Thin commands; exit codes."""

from xlperf.cli import (
    backupcmd,  # noqa: F401  (registers backup, restore and verify on main)
    chaincmd,  # noqa: F401  (registers round chain)
    desk,  # noqa: F401  (registers serve and user on main)
    formcmd,  # noqa: F401  (registers form check / form new on main)
    issuecmd,  # noqa: F401  (registers round templates / round issue)
    rectify,  # noqa: F401  (registers round rectify-forms)
    results,  # noqa: F401  (registers round results / round consequence)
)
from xlperf.cli.commands import main

__all__ = ["main"]
