"""Roll many returns up into one summary workbook: check in parallel, tabulate, write.

``rollup(paths, output, roster=..., form=..., jobs=...)`` does all three; the parts are
:mod:`~xlperf.rollup.collect` (checking files over processes, nothing lost),
:mod:`~xlperf.rollup.tables` (records → pandas tables: matching, duplicates, statistics),
:mod:`~xlperf.rollup.workbook` (the xlsxwriter workbook, written atomically) and
:mod:`~xlperf.rollup.summary` (the Chinese paragraph). Nothing here re-validates a return.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xlperf.findings import CheckedReturn
    from xlperf.read.roster import Roster
    from xlperf.rollup.collect import Progress, collect_returns
    from xlperf.rollup.distributed import collect_on_cluster
    from xlperf.rollup.summary import Figures, figures, paragraph
    from xlperf.rollup.tables import Tables, build_tables
    from xlperf.rollup.workbook import SHEETS, write_summary
    from xlperf.workers.limits import Limits

__all__ = [
    "SHEETS", "Figures", "Progress", "Rollup", "Tables", "build_tables", "collect_records",
    "collect_on_cluster", "collect_returns", "figures", "paragraph", "rollup", "write_summary",
]

_LAZY = {
    "Progress": "collect", "collect_returns": "collect", "Figures": "summary", "figures": "summary",
    "paragraph": "summary", "Tables": "tables", "build_tables": "tables", "SHEETS": "workbook",
    "write_summary": "workbook", "collect_on_cluster": "distributed",
}
"""Names re-exported from the modules that hold them, imported when first used: the ledger and
intake import :mod:`xlperf.rollup.records` alone, and must not pay for pandas and xlsxwriter
(a second of start-up) on every command."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


@dataclass
class Rollup:
    output: Path
    tables: Tables
    paragraph: str


def collect_records(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
            limits: Limits | None = None, scheduler: Any = None,
            shared_folder: Path | None = None, roster: Roster | None = None) -> list[CheckedReturn]:
    """One record per path, in order: checked by this machine's process pool (``jobs``), or by
    the Dask cluster at ``scheduler`` (``tcp://HOST:PORT`` or a ``distributed.Client``; files
    under ``shared_folder`` go by path, the others as bytes). The records are the same either way.
    ``limits`` hold for every file, in the local pool and on the cluster's workers.
    ``roster``: the units expected, for the checks that need it (as ``check --roster``)."""
    if scheduler is None:
        from xlperf.rollup.collect import collect_returns

        return collect_returns(paths, jobs=jobs, progress=progress, limits=limits, roster=roster)
    from xlperf.rollup.distributed import collect_on_cluster

    return collect_on_cluster(paths, scheduler, shared_folder=shared_folder, progress=progress, roster=roster,
                              limits=limits)


def rollup(paths: Sequence[Path], output: Path, roster: Roster | None = None, form: str | None = None,
           jobs: int | None = None, progress: Progress | None = None,
           others: Sequence[tuple[Path, str]] = (), limits: Limits | None = None, scheduler: Any = None,
           shared_folder: Path | None = None) -> Rollup:
    """Check ``paths``, write the summary workbook at ``output``; returns the tables and paragraph.

    ``others``: files of the inbox that are not checked, each with the reason (see
    :func:`xlperf.read.inbox.find_inputs`); they are listed in 清单 so that inputs = rows there.
    ``limits``: per-file time and memory (:class:`xlperf.workers.limits.Limits`, default from the
    environment). ``scheduler`` / ``shared_folder``: check on a Dask cluster (see :func:`collect_records`)."""
    from xlperf.checks.check_files import file_stat
    from xlperf.rollup.gcpause import cycle_collection_paused
    from xlperf.rollup.records import ignored_record
    from xlperf.rollup.summary import paragraph
    from xlperf.rollup.tables import build_tables
    from xlperf.rollup.workbook import write_summary

    records = collect_records(paths, jobs=jobs, progress=progress, limits=limits, scheduler=scheduler,
                              shared_folder=shared_folder, roster=roster)
    records += [ignored_record(path, *file_stat(path), reason) for path, reason in others]
    with cycle_collection_paused():  # a batch of its own (the command, the demo): where the pause pays
        tables = build_tables(records, roster, form)
        del records  # the tables hold what the workbook shows: free the rest before writing it
        text = paragraph(tables)
        write_summary(tables, output, text)
    return Rollup(output, tables, text)
