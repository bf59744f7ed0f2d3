"""A full or read-only store as a command's error: what and where in Chinese, exit 2, no traceback
(:mod:`xlperf.ledger.storage_errors` tells the causes apart)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from xlperf.ledger import Ledger


class StorageError(click.ClickException):
    exit_code = 2


def storage_error(exc: BaseException, ledger: Ledger | None = None, db: str | None = None,
                  output: tuple[Path, str] | None = None) -> StorageError | None:
    """``exc`` as a StorageError when a full or read-only store caused it, else None. ``ledger``
    (or, before it is open, ``db`` as given to the command) names the database and the store;
    ``output``: a file the command writes and what it is (its errors may name no file)."""
    from xlperf.ledger.storage_errors import database_place, storage_problem  # start-up stays light

    places = {Path(ledger.store.root).resolve(): "原文件存档"} if ledger is not None else {}
    if output is not None:
        places[output[0].resolve()] = output[1]
    database = database_place(ledger.url if ledger is not None else db)
    problem = storage_problem(exc, places, database=database, unnamed=output[0].resolve() if output else None)
    return StorageError(problem.message()) if problem is not None else None


@contextmanager
def writing(output: Path, what: str) -> Iterator[None]:
    """Errors of writing the workbook ``output`` (``what`` it is) as a command's error in words:
    a full or read-only store, a file open in Excel or a folder that cannot be written."""
    try:
        yield
    except Exception as exc:  # xlsxwriter wraps a system error in its own
        error = storage_error(exc, output=(output, what))
        if error is not None:
            raise error from None
        if not isinstance(exc, OSError):
            raise
        raise click.ClickException(
            f"无法写入{what} {output}（{exc.strerror or exc}）：请关闭已打开的该文件或换一个位置") from None
