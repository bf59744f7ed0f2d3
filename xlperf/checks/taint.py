"""Values that must feed nothing: what they taint, and the findings that follow from them.

A value typed as text into a number cell (``WRONG_TYPE``) is an error, and the return is
rejected for it; but the evaluator, like the spreadsheet's ``N()``, would count it as 0, and
every figure computed from it (the 支出 total, the execution rate, the scores, total and grade)
would be wrong, and so would every warning about them ("执行率仅 0.00%"). So such a value feeds no
derived figure and no other check: the calcs that depend on it, directly or through other calcs,
are taken out of the recomputed results, and other checks' findings at those cells are dropped.
"""

from __future__ import annotations

from collections.abc import Collection

from xlperf.findings import Finding
from xlperf.form.layout import FormLayout, operand_keys

KEPT_CODES = frozenset({
    # about the file's formulas and structure, true whatever the values
    "FORMULA_OVERWRITTEN", "FORMULA_ALTERED", "STRUCTURE_CHANGED", "WEIGHT_ALTERED",
    "LOCKED_CELL_ALTERED", "SIGNATURE_MISMATCH",
})
"""Codes reported at a tainted cell all the same."""


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


def without_follow_ons(findings: list[Finding], unusable: Collection[str], tainted: Collection[str],
                       own_codes: Collection[str]) -> list[Finding]:
    """``findings`` without those of other checks at an unusable value or a calc it taints
    (``own_codes``: the codes that flagged the values unusable, always kept)."""
    skip = set(unusable) | set(tainted)
    return [f for f in findings
            if f.code in own_codes or f.code in KEPT_CODES or not f.field or f.field not in skip]
