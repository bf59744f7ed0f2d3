"""Form specs: the dataclasses of a form (what a form is), as loaded from YAML.

A form spec is data (``xlperf/form/specs/*.yaml``). Everything else (template, reader, checker,
evaluator) is compiled from it. Loading and validating a spec is :mod:`xlperf.form.specload`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlperf.form.formsettings import AMOUNT_NAMES as AMOUNT_NAMES
from xlperf.form.formsettings import ExecutionRate as ExecutionRate
from xlperf.form.formsettings import ExplainWhen as ExplainWhen
from xlperf.form.formsettings import PrefillFrom as PrefillFrom
from xlperf.form.formsettings import TimeProgress as TimeProgress
from xlperf.form.formsettings import TrackedItems as TrackedItems
from xlperf.form.operators import OVERSHOOT
from xlperf.form.rules import KINDS
from xlperf.form.yamlsrc import Where

FIELD_TYPES = (
    "text", "longtext", "number", "amount", "percent", "integer", "year", "date", "choice", "phone",
    "value",
)
YES_NO = ("是", "否")
DEFAULT_GRADE_BANDS = ((Decimal(90), "优"), (Decimal(80), "良"), (Decimal(60), "中"))


@dataclass(frozen=True)
class Field:
    """An input cell: what the unit types, and what it may type."""

    key: str
    label: str
    type: str
    where: Where
    choices: tuple[str, ...] = ()
    strict_choices: bool = True
    required: bool = False
    hint: str = ""
    min: float | None = None
    max: float | None = None
    role: str = ""
    """What the field means to the code (:mod:`xlperf.form.roles`): unit, project, year …; "" none."""


@dataclass(frozen=True)
class Calc:
    """A computed cell: a rule kind applied to named operands."""

    key: str
    label: str
    kind: str
    operands: dict[str, str | tuple[str, ...]]
    params: dict[str, Any]
    where: Where
    weight: float | None = None
    percent: bool = False


@dataclass(frozen=True)
class GridCell:
    """One cell of a free grid: a printed label, a field, a calc or a note."""

    span: int
    rowspan: int
    text: str = ""
    field: Field | None = None
    calc: Calc | None = None
    style: str = "label"
    number: float | None = None
    """A fixed number printed in the cell (``weight_of``: the weight of a scored calc; ``text``
    is then its label in messages)."""
    key: str = ""
    """The key of a fixed number (``<calc>_weight``), so that a changed weight is found."""


@dataclass(frozen=True)
class GridSection:
    rows: tuple[tuple[GridCell, ...], ...]
    heights: tuple[float | None, ...]
    where: Where


@dataclass(frozen=True)
class TitleSection:
    text: str
    style: str
    where: Where
    height: float | None = None


@dataclass(frozen=True)
class TableColumn:
    key: str
    label: str
    span: int
    type: str = "text"
    choices: tuple[str, ...] = ()
    strict_choices: bool = True
    hint: str = ""
    fixed: bool = False
    calc: str | None = None
    calc_operands: dict[str, str] = field(default_factory=dict)
    """The calc's operands (its kind's names) → the column of the same row that holds each."""
    min: float | None = None
    max: float | None = None
    required: bool = False
    """Every row in use must have it (an indicator table's: every indicator; ``ROW_INCOMPLETE``)."""


@dataclass(frozen=True)
class TableGroup:
    values: dict[str, str]
    rows: int


@dataclass(frozen=True)
class MissedTarget:
    """Column keys that let a conditional format ask for a deviation reason."""

    op: str
    target: str
    actual: str
    reason: str
    overshoot: float | None = OVERSHOOT
    """Beating a ≥/＞/＝ target by this share or more needs a reason too; None: only a missed
    target does (a 未完成原因分析 column)."""


@dataclass(frozen=True)
class TableSection:
    """A repeating table: header row and numbered rows, optionally grouped by fixed columns."""

    key: str
    columns: tuple[TableColumn, ...]
    rows: int
    where: Where
    side: str = ""
    side_span: int = 0
    groups: tuple[TableGroup, ...] = ()
    missed_target: MissedTarget | None = None
    height: float | None = None
    title: str = ""
    """How messages name the table (labels of its cells: "<title>第3行<column>")."""
    points: float | None = None
    """The section's points (``points``): the rows' weights (the row score's ``weight`` column)
    must add up to them (WEIGHTS_NOT_SUM); None: a table without scores."""

    def row_key(self, n: int, column: str) -> str:
        return f"{self.key}_{n}_{column}"

    @property
    def row_score(self) -> TableColumn | None:
        """The column computing each row's score (``calc: row_score``), if the table scores rows."""
        return next((c for c in self.columns if c.calc == "row_score"), None)

    def scoring_column(self, operand: str) -> str | None:
        """The column that plays ``operand`` (weight, typed, op …) in the row score, if any."""
        column = self.row_score
        return column.calc_operands.get(operand) if column else None


@dataclass(frozen=True)
class ScoreRow:
    key: str
    label: str
    weight: float
    kind: str
    params: dict[str, Any]
    operands: dict[str, str | tuple[str, ...]]
    where: Where
    evidence: str = ""
    evidence_input: bool = False
    criteria: str = ""
    value_type: str = "number"
    parts: tuple[tuple[str, float], ...] = ()

    @property
    def score_key(self) -> str:
        return f"{self.key}_score"

    @property
    def weight_key(self) -> str:
        return f"{self.key}_weight"

    @property
    def value_key(self) -> str | None:
        """The row's own input cell (actual value, 是/否, or level), if the rule takes one."""
        operands = KINDS[self.kind].operands
        if self.kind == "checklist":
            return None
        if ("actual" in operands and "actual" not in self.operands) or "level" in operands:
            return f"{self.key}_value"
        return None

    @property
    def target_key(self) -> str | None:
        """The row's own target cell, when the rule compares with a target the unit types."""
        if self.needs_target and "target" not in self.operands:
            return f"{self.key}_target"
        return None

    @property
    def needs_target(self) -> bool:
        return "target" in KINDS[self.kind].operands_for(self.params)

    @property
    def part_keys(self) -> tuple[str, ...]:
        return tuple(f"{self.key}_part{i}" for i in range(1, len(self.parts) + 1))

    @property
    def evidence_key(self) -> str | None:
        return f"{self.key}_evidence" if self.evidence_input else None

    @property
    def score_is_input(self) -> bool:
        return "score" in KINDS[self.kind].operands

    def owned_keys(self, has_target_column: bool) -> list[str]:
        """Names a score row owns besides its own key: weight, score, inputs."""
        keys = [self.weight_key, self.score_key, *self.part_keys]
        keys += [k for k in (self.value_key, self.evidence_key) if k]
        if self.target_key and has_target_column:
            keys.append(self.target_key)
        return keys


@dataclass(frozen=True)
class ScoreGroup:
    label: str
    weight: float | None
    rows: tuple[ScoreRow, ...]


@dataclass(frozen=True)
class ScoreBlock:
    key: str
    label: str
    weight: float
    groups: tuple[ScoreGroup, ...]
    where: Where

    @property
    def rows(self) -> tuple[ScoreRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def weight_key(self) -> str:
        return f"{self.key}_weight"

    @property
    def score_key(self) -> str:
        return f"{self.key}_score"


SCORE_ROLES = (
    "l1", "l1_weight", "l1_score", "l2", "l2_weight", "label", "evidence", "criteria",
    "target", "value", "weight", "score",
)


@dataclass(frozen=True)
class ScoreColumn:
    role: str
    label: str
    span: int


@dataclass(frozen=True)
class ScorecardSection:
    columns: tuple[ScoreColumn, ...]
    blocks: tuple[ScoreBlock, ...]
    total_weight: float
    where: Where
    total_label: str = "合计"
    grade_label: str = "评价结果等次"
    side: str = ""

    @property
    def block_style(self) -> str:
        return "column" if any(c.role == "l1" for c in self.columns) else "header_row"


@dataclass(frozen=True)
class PageBreak:
    """``- page_break: true``: the next section starts a new printed page (the official form's
    page, where the automatic break would leave a page holding a row or two)."""

    where: Where


Section = TitleSection | GridSection | TableSection | ScorecardSection | PageBreak


@dataclass(frozen=True)
class SheetSpec:
    name: str
    widths: tuple[float, ...]
    sections: tuple[Section, ...]
    landscape: bool
    repeat_rows: int
    where: Where
    pages: int = 0
    """Pages the sheet prints on, as the official form does (fit to that many pages tall);
    0: as many as the content needs."""


@dataclass(frozen=True)
class Consistency:
    """A cross-field rule shown while typing: ``left`` must not exceed ``right``."""

    code: str
    left: str
    right: str
    message: str
    severity: str
    where: Where


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    version: str
    title: str
    amount_unit: str
    sheets: tuple[SheetSpec, ...]
    consistency: tuple[Consistency, ...]
    grade_bands: tuple[tuple[Decimal, str], ...]
    grade_else: str
    source: Path
    file_stem: str = ""
    """Short name that starts issued templates' file names (``file_stem``; default: the title)."""
    declares_targets: bool = False
    """Accepted returns of this form declare targets later forms are prefilled from and checked against."""
    amounts: tuple[tuple[str, str], ...] = ()
    """(amount name, key without project-sheet prefix) the roll-up reports (``amounts``)."""
    execution_rate: ExecutionRate | None = None
    prefill_from: PrefillFrom | None = None
    """None: this form takes nothing from declarations but its header (by roles)."""
    period_months: int = 0
    """The months the form reports on (``period: {months: 6}``: 1-6月); 0: not a progress form."""
    time_progress: TimeProgress | None = None
    explain_when: tuple[ExplainWhen, ...] = ()
    tracked_items: TrackedItems | None = None
    """None: no row of this form is followed until closed."""

    @property
    def stem(self) -> str:
        return self.file_stem or self.title

    def amount_key(self, name: str, prefix: str = "") -> str | None:
        """The key of amount ``name`` on the project sheet of ``prefix``; None when not named."""
        key = dict(self.amounts).get(name)
        return prefix + key if key else None

    def scorecards(self) -> Iterator[ScorecardSection]:
        for sheet in self.sheets:
            for section in sheet.sections:
                if isinstance(section, ScorecardSection):
                    yield section
