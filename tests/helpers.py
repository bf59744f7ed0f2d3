"""Small helpers shared by the check and report tests."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.cli.demo import sample_values
from xlperf.findings import CheckedReturn
from xlperf.form.layout import FormLayout
from xlperf.form.operators import QUALITATIVE
from xlperf.form.qualitative import SHORT_LEVELS
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.spec import Field
from xlperf.model.scoredrows import NUMERIC_OPS, ScoredTable, scored_tables


def scored_forms() -> tuple[str, ...]:
    """The forms that compute a total and a grade (the engine tests fill them at random)."""
    return tuple(sorted(f for f in builtin_forms() if any(c.kind == "grade" for c in builtin_layout(f).calcs)))


def sample(form: str) -> dict[str, Any]:
    """A fresh copy of the seed-derived sample values of ``form``."""
    return sample_values(form)


def cell_of(form: str, key: str) -> tuple[str, str]:
    """(sheet, A1) of a field key, from the layout."""
    sheet, row, col = builtin_layout(form).address(key)
    return sheet, xl_rowcol_to_cell(row, col)


def flat(checked: CheckedReturn, codes: Collection[str]) -> set[tuple[str, str, str, str]]:
    """Findings as (code, severity, sheet, cell), for the codes asked about."""
    return {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings if f.code in codes}


# Share of inputs left blank, by return: 15% on average, some returns complete.
BLANK_SHARES = (0.0, 0.15, 0.15, 0.3)
# Texts a clerk might type in a value cell, including ones that look like numbers or formulas.
VALUE_TEXTS = ("规范", "有效", "达标", "≥90%", "95%", "12", "较好", "=1+1", "提高")
TEXTS = ("无", "按计划完成", "晋中市中小企业局", "项目A", "良好", "见附件")


def random_value(rng: random.Random, fld: Field, quality: float) -> Any:
    """A valid value for ``fld``, biased towards the boundaries the rules turn on.

    ``quality`` (0..1) is how well the return's project did: the share of 是 answers and where
    typed scores fall, so that the totals of the returns spread over every grade.
    """
    t = fld.type
    if t == "choice":
        if "是" in fld.choices and rng.random() < quality:
            return "是"
        return rng.choice(fld.choices)
    if t == "amount":
        return 0.0 if rng.random() < 0.08 else round(rng.uniform(0, 1000), 2)
    if t == "percent":
        if rng.random() < 0.3:
            return rng.choice((0.0, 0.05, 0.06, 0.0599, 0.6, 0.7, 0.7999, 0.8, 0.8999, 0.9, 0.95, 1.0))
        return round(rng.uniform(0, 1.5), rng.randint(0, 4))
    if t == "number":
        low = fld.min if fld.min is not None else 0.0
        high = fld.max if fld.max is not None else 200.0
        if rng.random() < 0.15:
            return rng.choice((low, high))
        if fld.max is not None:
            share = min(1.0, max(0.0, rng.gauss(quality, 0.1)))
            return round(low + (high - low) * share, 2)
        return round(rng.uniform(low, high), 2)
    if t == "integer":
        return rng.randint(0, 500)
    if t == "year":
        return rng.randint(2000, 2100)
    if t == "date":
        return (dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 36500))).isoformat()
    if t == "value":
        r = rng.random()
        if r < 0.3:
            return rng.choice(VALUE_TEXTS)
        if r < 0.4:
            return 0
        if r < 0.7:
            return rng.randint(1, 200)
        return round(rng.uniform(0, 200), rng.randint(1, 2))
    if t == "phone":
        return "0" + "".join(rng.choice("0123456789") for _ in range(10))
    return rng.choice(TEXTS) + str(rng.randint(1, 99))


def random_values(layout: FormLayout, seed: str) -> dict[str, Any]:
    rng = random.Random(seed)
    values = {}
    quality = rng.random() ** 0.3
    blank_share = rng.choice(BLANK_SHARES)
    for fld in layout.inputs():
        if rng.random() < blank_share:
            continue
        values[fld.key] = random_value(rng, fld, quality)
    # Sometimes the actual is exactly the target, so "met exactly" is exercised.
    for key in list(values):
        if key.endswith("_actual") or key.endswith("_value"):
            target = key.rsplit("_", 1)[0] + "_target"
            if target in values and rng.random() < 0.2:
                values[key] = values[target]
    for table in scored_tables(layout):
        _score_rows(rng, table, values, quality)
    return values


def _score_rows(rng: random.Random, table: ScoredTable, values: dict[str, Any], quality: float) -> None:
    """Rows the unit scores as a unit would fill them: the weights mostly adding up to the points
    (so that totals spread over the grades), a 定性 row's 完成值 mostly a level and its typed score
    near the level's band."""
    rows = range(1, table.section.rows + 1)
    used = [n for n in rows if table.key(n, "weight") in values]
    if used and rng.random() < 0.75:
        weights = [float(values[table.key(n, "weight")]) + 1 for n in used]
        shares = [round(table.points * w / sum(weights), 2) for w in weights]
        shares[-1] = round(table.points - sum(shares[:-1]), 2)
        for n, share in zip(used, shares, strict=True):
            values[table.key(n, "weight")] = share
    for n in used:
        target = values.get(table.key(n, "target"))
        if values.get(table.key(n, "op")) in NUMERIC_OPS and rng.random() < 0.85:
            if not isinstance(target, int | float):
                target = values[table.key(n, "target")] = rng.choice((1, 12, 30, 0.95, 100))
            factor = rng.choice((1, 1, quality, quality, 0.9, 1.2, 0.5, 2))
            values[table.key(n, "actual")] = round(target * factor, 2)
        if values.get(table.key(n, "op")) != QUALITATIVE:
            continue
        if rng.random() < 0.8:
            values[table.key(n, "actual")] = rng.choice((*SHORT_LEVELS, *SHORT_LEVELS.values()))
        if rng.random() < 0.8:
            weight = float(values[table.key(n, "weight")])
            values[table.key(n, "typed")] = round(weight * rng.choice((0, 0.6, 0.8, 1, rng.random())), 2)
