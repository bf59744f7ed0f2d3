"""Values that must feed nothing: what they taint, and the findings that follow from them.

Two kinds of value are read but must not be computed with:

- a value typed as text into a number cell (``WRONG_TYPE``): the evaluator, like the
  spreadsheet's ``N()``, would count it as 0, and every figure computed from it (the 支出 total,
  the execution rate, the scores, total and grade) would be wrong, and so would every warning
  about them ("执行率仅 0.00%");
- a value whose cell moved because rows were inserted or deleted (``STRUCTURE_CHANGED``,
  :mod:`xlperf.read.anchors`): it was read where the form's labels say it went, but no score is
  recomputed and no amount rolled up from a cell that moved; a cell that could not be placed at
  all gives nothing, and then the return gets no scores at all.

The calcs fed by them, directly or through other calcs, are taken out of the recomputed
results; the findings other checks make at those cells are dropped, and so are the cell-level
tamper findings that a shift explains (formulas whose references moved, labels "deleted" that
only moved down) on a sheet whose rows changed. The return is rejected anyway, by the one
finding that says why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from xlperf.checks.types import wrong_typed_keys
from xlperf.findings import Finding
from xlperf.form.layout import FormLayout, operand_keys
from xlperf.read import Return, Value

KEPT_CODES = frozenset({"WRONG_TYPE", "NUMBER_INVALID", "STRUCTURE_CHANGED", "SIGNATURE_MISMATCH",
                        "SIGNATURE_MISSING", "TEXT_UNENCODABLE"})
"""Codes never dropped: they say why the return is rejected, or what is wrong with the value itself."""
VALUE_TRUE_CODES = frozenset({"FORMULA_OVERWRITTEN", "FORMULA_ALTERED", "WEIGHT_ALTERED", "LOCKED_CELL_ALTERED",
                              "FORMULAS_UNVERIFIED"})
"""About the file's formulas and fixed cells (or, FORMULAS_UNVERIFIED, placed at the total: what the
.xls/.ods format keeps from being verified), true whatever the values: kept at a cell fed by a
wrong-typed value, dropped where a shift of rows explains them."""
NOT_ROLLED_UP = ("amount",)
"""Field types whose moved value is dropped, not only kept out of the scores (the roll-up sums them)."""


@dataclass
class Unusable:
    """What in one return must feed nothing, and why."""

    wrong_typed: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)
    """Keys whose cell moved and was read by the labels."""
    unplaced: set[str] = field(default_factory=set)
    """Keys whose cell could not be placed: their value is unknown."""
    withheld: set[str] = field(default_factory=set)
    """Moved keys whose value is not passed on at all (amounts: the roll-up would sum them)."""
    tainted: set[str] = field(default_factory=set)
    """Calcs fed by any of the above."""
    shifted: set[str] = field(default_factory=set)
    """Calcs fed by moved or unplaced cells: their formula references moved with the rows."""
    changed_sheets: set[str] = field(default_factory=set)
    unmappable: bool = False
    """Some cell could not be placed, or columns changed: no score at all."""

    @property
    def dropped(self) -> set[str]:
        """Keys at which other checks' findings are dropped."""
        return self.wrong_typed | self.unplaced | self.withheld | self.tainted


def tainted_by(layout: FormLayout, keys: Collection[str]) -> set[str]:
    """Keys of every calc that reads one of ``keys``, directly or through other calcs."""
    tainted: set[str] = set()
    if not keys:
        return tainted
    bad = set(keys)
    for calc in layout.calcs:  # in dependency order: operands before the calcs that read them
        if any(key in bad or key in tainted for key in operand_keys(calc)):
            tainted.add(calc.key)
    return tainted


def unusable_values(layout: FormLayout, ret: Return, inputs: Mapping[str, object]) -> Unusable:
    found = Unusable(wrong_typed=wrong_typed_keys(layout, inputs))
    structure = ret.structure
    if structure is not None and structure.changed:
        found.changed_sheets = {name for name, s in structure.sheets.items() if s.changed}
        found.unplaced = {k for k, place in structure.places.items() if place is None}
        found.moved = set(structure.places) - found.unplaced
        found.withheld = {k for k in found.moved if _type_of(layout, k) in NOT_ROLLED_UP}
        found.unmappable = bool(found.unplaced) or any(not s.mappable for s in structure.sheets.values())
        found.shifted = tainted_by(layout, found.moved | found.unplaced)
    found.tainted = tainted_by(layout, found.wrong_typed | found.moved | found.unplaced)
    return found


def usable_inputs(layout: FormLayout, inputs: Mapping[str, Value], unusable: Unusable) -> dict[str, Value]:
    """``inputs`` without the values nobody may sum: unplaced cells and moved amounts."""
    if not unusable.unplaced and not unusable.withheld:  # nothing moved (most returns)
        return dict(inputs)
    return {k: None if k in unusable.unplaced or k in unusable.withheld else v for k, v in inputs.items()}


def _type_of(layout: FormLayout, key: str) -> str | None:
    fld = layout.cells[key][1].field
    return fld.type if fld is not None else None


def without_follow_ons(findings: list[Finding], unusable: Unusable) -> list[Finding]:
    """``findings`` without those that follow from an unusable value or a shift of rows."""
    out = []
    for f in findings:
        if f.code in KEPT_CODES:
            out.append(f)
        elif f.code in VALUE_TRUE_CODES and (f.sheet in unusable.changed_sheets or f.field in unusable.shifted):
            continue
        elif f.field and f.field in unusable.dropped and f.code not in VALUE_TRUE_CODES:
            continue
        else:
            out.append(f)
    return out
