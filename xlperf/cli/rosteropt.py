"""``--roster``: the roster a command was given, read once, or a usage error naming every problem."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, overload

import click

if TYPE_CHECKING:
    from xlperf.read.roster import Roster

__all__ = ["roster_option"]


@overload
def roster_option(path: Path) -> Roster: ...


@overload
def roster_option(path: Path | None) -> Roster | None: ...


def roster_option(path: Path | None) -> Roster | None:
    """The roster at ``path`` (None: none given); a bad one is the option's error (exit 2)."""
    if path is None:
        return None
    from xlperf.read.roster import (  # imported when used: start-up stays light
        RosterError,
        read_roster,
    )

    try:
        return read_roster(path)
    except RosterError as exc:
        raise click.BadParameter(f"单位名单有误：\n{exc}", param_hint="--roster") from None
