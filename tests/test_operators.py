"""One definition of the target operators and the overshoot threshold, for the forms' choice lists,
their conditional formats and the checks."""

from __future__ import annotations

import pytest

from xlperf.form import alerts, operators
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.spec import TableSection
from xlperf.model.targets import normalise_op, parse_value

REFS = {"op": "A1", "target": "B1", "actual": "C1", "reason": "D1"}


def test_the_forms_offer_exactly_the_operators() -> None:
    offered = [(form, c.choices, sec.row_score is not None) for form in builtin_forms()
               for sheet in builtin_layout(form).spec.sheets
               for sec in sheet.sections if isinstance(sec, TableSection) and sec.missed_target
               for c in sec.columns if c.key == sec.missed_target.op]
    assert offered and any(scored for *_, scored in offered)
    # a table whose rows are scored by formula offers 定性 too (the unit then types the score)
    assert all(choices == operators.OPERATORS + ((operators.QUALITATIVE,) if scored else ())
               for _, choices, scored in offered), offered


def test_the_conditional_format_takes_the_overshoot_from_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "N(C1)>=N(B1)*1.3" in alerts.missed_target_no_reason(REFS, {})
    monkeypatch.setattr(alerts, "OVERSHOOT", 0.5)
    assert "N(C1)>=N(B1)*1.5" in alerts.missed_target_no_reason(REFS, {})


@pytest.mark.parametrize("op", operators.OPERATORS)
def test_every_spelling_of_an_operator_reads_as_it(op: str) -> None:
    spellings = [op, operators.ASCII[op], *(w for w, o in operators.WRITTEN if o == op)]
    assert {normalise_op(s) for s in spellings} == {op}
    parsed = parse_value(f"{operators.ASCII[op]}12次", ("次",))
    assert parsed is not None and (parsed.op, parsed.number, parsed.unit) == (op, 12.0, "次")
    assert (op in operators.POSITIVE) != (op in operators.REVERSE)
