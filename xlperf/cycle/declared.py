"""The accepted declarations of a folder: checked, the newest of each project kept.

:class:`DeclarationIndex` checks every return of a folder (:func:`xlperf.checks.check_return.check_file`,
with the signing key) and keeps the accepted ones (accepted, or accepted with warnings) of the
declaration forms (:mod:`xlperf.model.declarations` reads them). Several accepted returns of one
unit, project and year: the newest counts, as in the roll-up (latest modification time, then the
file name sorting last); the others are listed in ``skipped`` with the reason, as are rejected
returns and returns of other forms. The index is what ``check --against`` hands the checks
(:class:`xlperf.model.declarations.Declarations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlperf.checks.check_files import CheckContext, check_files
from xlperf.checks.check_return import find_returns
from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, STATUS_LABELS, CheckedReturn
from xlperf.form.signkeys import FROM_ENV
from xlperf.model.declarations import Declaration, declarations_of, declares_targets
from xlperf.read.roster import normalise_name
from xlperf.workers.limits import Limits
from xlperf.workers.run import in_order

__all__ = ["NOT_DECLARATION", "DeclarationIndex"]

NOT_DECLARATION = "不是绩效目标申报表"


@dataclass
class DeclarationIndex:
    """Accepted declarations by (unit, project, year), the newest of each; and what was left out."""

    declarations: list[Declaration] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """(file, why it is not used), in Chinese."""
    checked: list[CheckedReturn] = field(default_factory=list)
    """Every return looked at, as checked."""

    def find(self, unit: object, project: object, year: int | None) -> Declaration | None:
        wanted = (normalise_name(unit), normalise_name(project), year)
        return next((d for d in self.declarations if d.identity == wanted), None)

    def projects_of(self, unit: object, year: int | None) -> list[str]:
        """Declared project names of a unit in a year (for a message when a project does not match)."""
        name = normalise_name(unit)
        return [d.project for d in self.declarations if normalise_name(d.unit) == name and d.year == year]

    @classmethod
    def build(cls, paths: Sequence[Path], key: Any = FROM_ENV, limits: Limits | None = None) -> DeclarationIndex:
        """Check every return under ``paths`` (files or folders), each under ``limits`` (default
        from the environment, as ``xlperf check``), and index the accepted declarations."""
        index = cls()
        newest: dict[tuple[str, str, int | None], Declaration] = {}
        for checked in in_order(check_files(find_returns(list(paths)), CheckContext.with_key(key), limits=limits)):
            path = checked.file
            index.checked.append(checked)
            if not declares_targets(checked.form):
                index.skipped.append((path, NOT_DECLARATION if checked.form else "无法识别的文件"))
                continue
            if checked.status not in (ACCEPTED, ACCEPTED_WITH_WARNINGS):
                codes = "、".join(dict.fromkeys(f.code for f in checked.errors))
                index.skipped.append((path, f"审核结果为“{STATUS_LABELS[checked.status]}”（{len(checked.errors)} 个错误：{codes}）"))
                continue
            mtime = path.stat().st_mtime_ns
            for decl in declarations_of(checked, mtime):
                old = newest.get(decl.identity)
                if old is not None and _newness(old) > _newness(decl):
                    decl, old = old, decl
                if old is not None:
                    index.skipped.append((old.file, f"“{old.unit}”“{old.project}”{old.year} 年另有更新的申报表 {decl.file.name}"))
                newest[decl.identity] = decl
        index.declarations = sorted(newest.values(), key=lambda d: (str(d.file), d.prefix))
        return index


def _newness(decl: Declaration) -> tuple[int, str, str]:
    return decl.mtime_ns, decl.file.name, str(decl.file)
