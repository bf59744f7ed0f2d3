"""Tables whose rows the unit sets and scores (a ``row_score`` column: :mod:`xlperf.form.rowrules`),
read from a return's values (no check).

Which column plays which part (指标性质, 指标值, 完成值, 权重, a 定性 row's typed score, 得分) is
the row score's operands in the spec; the section's ``points`` are what the weights must add up
to. A row is *numeric* when its 指标性质 is one of the operators the formula compares with (≥ ≤ ＝
＞ ＜, or their ASCII spellings), *qualitative* when it is 定性; only numbers count in a numeric
row's 指标值 and 完成值 (the formula reads text there as nothing: :func:`numeric_text_keys`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.operators import ASCII, QUALITATIVE
from xlperf.form.rowrules import MET
from xlperf.form.spec import TableSection
from xlperf.model.values import is_blank

__all__ = ["NUMERIC_OPS", "ScoredRow", "ScoredTable", "numeric_text_cells", "numeric_text_keys", "scored_rows", "scored_tables"]

NUMERIC_OPS = frozenset({*MET, *(ASCII[op] for op in MET)})
"""指标性质 values the row score compares numbers for."""
NUMERIC_PARTS = ("target", "actual")
"""The operands that must hold numbers on a numeric row."""


@dataclass(frozen=True)
class ScoredTable:
    section: TableSection
    sheet: str
    operands: dict[str, str]
    """Operand of the row score (op, target, actual, weight, typed) → column key."""
    score: str
    """The key of the row score's column."""

    @property
    def points(self) -> float:
        return float(self.section.points or 0)

    def key(self, n: int, operand: str) -> str:
        """The cell key of an operand (or ``score``) in row n."""
        return self.section.row_key(n, self.score if operand == "score" else self.operands[operand])

    def label(self, operand: str) -> str:
        """The printed header of an operand's column (or of the column keyed ``operand``: unit, reason)."""
        column = self.score if operand == "score" else self.operands.get(operand, operand)
        return next((c.label for c in self.section.columns if c.key == column), operand)


@dataclass(frozen=True)
class ScoredRow:
    table: ScoredTable
    n: int
    op: object
    """The 指标性质 cell as typed."""

    def key(self, operand: str) -> str:
        return self.table.key(self.n, operand)

    @property
    def numeric(self) -> bool:
        return isinstance(self.op, str) and self.op in NUMERIC_OPS

    @property
    def qualitative(self) -> bool:
        return isinstance(self.op, str) and self.op.strip() == QUALITATIVE


@per_layout
def scored_tables(layout: FormLayout) -> tuple[ScoredTable, ...]:
    """Every table of the form with a row score, in sheet order (one per project-sheet copy)."""
    out = []
    for sheet in layout.sheets:
        for section in sheet.spec.sections:
            if isinstance(section, TableSection) and section.row_score is not None:
                column = section.row_score
                out.append(ScoredTable(section, sheet.name, dict(column.calc_operands), column.key))
    return tuple(out)


def scored_rows(table: ScoredTable, inputs: Mapping[str, object]) -> Iterator[ScoredRow]:
    """Every row of the table, with its 指标性质 (used or not: the checks decide what matters)."""
    for n in range(1, table.section.rows + 1):
        yield ScoredRow(table, n, inputs.get(table.key(n, "op")))


def numeric_text_cells(layout: FormLayout, inputs: Mapping[str, object]) -> dict[str, ScoredRow]:
    """指标值 and 完成值 cells of numeric rows holding text (``完成``, ``100%`` typed as text), with
    their rows, in cell order: WRONG_TYPE, and they feed no score."""
    found = {}
    for table in scored_tables(layout):
        for row in scored_rows(table, inputs):
            if not row.numeric:
                continue
            for part in NUMERIC_PARTS:
                value = inputs.get(row.key(part))
                if isinstance(value, str) and not is_blank(value):
                    found[row.key(part)] = row
    return found


def numeric_text_keys(layout: FormLayout, inputs: Mapping[str, object]) -> set[str]:
    return set(numeric_text_cells(layout, inputs))
