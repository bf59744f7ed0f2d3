"""The yearly cycle: templates issued per unit, prefilled from earlier returns, checked against them.

- :mod:`~xlperf.cycle.declared`: accepted declarations (target_declaration, target_table) by
  unit, project and year;
- :mod:`~xlperf.cycle.placement`: where a declaration's content goes in a later form (used by the
  prefill and by ``check --against``, so the two agree);
- :mod:`~xlperf.cycle.issue`: writing the templates (per roster unit, or prefilled), signed with
  :mod:`xlperf.form.signature`;
- :mod:`~xlperf.cycle.demo`: the whole cycle on the demo's fictional units.
"""

from __future__ import annotations

from xlperf.cycle.declared import (
    DECLARATION_FORMS,
    Declaration,
    DeclarationIndex,
    Indicator,
    declarations_of,
)
from xlperf.cycle.issue import Issued, file_stem, prefilled_templates, roster_templates
from xlperf.cycle.placement import Placement, place

__all__ = [
    "DECLARATION_FORMS", "Declaration", "DeclarationIndex", "Indicator", "Issued", "Placement",
    "declarations_of", "file_stem", "place", "prefilled_templates", "roster_templates",
]
