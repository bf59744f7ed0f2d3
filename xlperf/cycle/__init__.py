"""The yearly cycle: templates issued per unit, prefilled from earlier returns, checked against them.

- :mod:`~xlperf.cycle.declared`: the accepted declarations (returns of the forms whose spec says
  ``declares_targets``) of a folder by unit, project and year (what a declaration holds, and where its content goes in a
  later form, are :mod:`xlperf.model.declarations` and :mod:`xlperf.model.placement`: the prefill
  and ``check --against`` share them);
- :mod:`~xlperf.cycle.issue`: writing the templates (per roster unit, or prefilled), signed with
  :mod:`xlperf.form.signature`;
(The whole cycle on the demo's fictional units is :mod:`xlperf.cli.cycle_demo`: it checks and
rolls up too, so it sits above all of them.)
"""

from __future__ import annotations

from xlperf.cycle.declared import DeclarationIndex
from xlperf.cycle.issue import Issued, file_stem, prefilled_templates, roster_templates
from xlperf.model.declarations import Declaration, Indicator, declarations_of, declares_targets
from xlperf.model.placement import Placement, place

__all__ = [
    "Declaration", "DeclarationIndex", "Indicator", "Issued", "Placement",
    "declarations_of", "declares_targets", "file_stem", "place", "prefilled_templates", "roster_templates",
]
