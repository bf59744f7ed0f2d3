"""What the ledger tests share: the database under test, returns made from the templates, a roster."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from xlperf.cli import main
from xlperf.cli.demo import sample_values
from xlperf.excel.template import TemplateOptions, write_template
from xlperf.form.registry import builtin_layout
from xlperf.ledger import Ledger, open_ledger

ROSTER = """单位代码,单位名称,主管部门,联系人,邮箱
3001,东城区科技局,市科学技术局,张明,dongcheng@example.gov.cn
3002,西山县中小企业局,市工业和信息化局,李华,xishan@example.gov.cn
3003,南城区商务局,市商务局,王芳,nancheng@example.gov.cn
3004,北湖县工信局,市工业和信息化局,赵强,beihu@example.gov.cn
"""
FORM = "self_evaluation"
YEAR = int(sample_values(FORM)["year"])


@dataclass
class LedgerDb:
    kind: str
    """sqlite or postgresql"""
    url: str
    store: Path

    def args(self) -> list[str]:
        return ["--db", self.url, "--store", str(self.store)]

    def open(self) -> Ledger:
        return open_ledger(self.url, self.store)

    def run(self, *argv: str, ok: tuple[int, ...] = (0,), obj: dict[str, Any] | None = None,
            env: dict[str, str | None] | None = None) -> Result:
        """``xlperf round ARGV`` through click's runner; asserts the exit code is one of ``ok``."""
        env = {"XLPERF_SIGNING_KEY": None, "XLPERF_KEY_FILE": None, "XLPERF_SMTP_USER": None,
               "XLPERF_SMTP_PASSWORD": None, **(env or {})}
        result = CliRunner().invoke(main, ["round", *self.args(), *argv], env=env, obj=obj)
        assert result.exit_code in ok, (result.exit_code, result.output, result.exception)
        return result


CLEAN = {"budget_city": 40, "budget_other": 0, "released": 40, "spent_city": 38.6, "completion_rate_score": 8}
"""Changes that make the sample self-evaluation pass every check (money spent, targets met)."""


def values_of(unit: str, form: str = FORM, **changes: Any) -> dict[str, Any]:
    values = sample_values(form)
    layout = builtin_layout(form)
    for fld in layout.inputs():  # the samples hold dates as text; a unit's Excel holds dates
        if fld.type == "date" and isinstance(values.get(fld.key), str):
            values[fld.key] = dt.datetime.fromisoformat(values[fld.key])  # datetime: not fed to scores
    values.update({k: unit for k in values if k == "unit_name" or k.endswith("_unit_name")})
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def make_return(path: Path, unit: str, form: str = FORM, age: float = 0.0, saved: dt.datetime | None = None,
                **changes: Any) -> Path:
    """A filled return of ``unit`` at ``path`` (cached results written as a calculating program
    would); ``age``: seconds before now as its modification time and the time its core.xml says
    it was saved (as Excel writes it), so that order is explicit; ``saved``: that saved time
    instead (UTC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_template(builtin_layout(form), path, TemplateOptions(values=values_of(unit, form, **changes),
                                                              lock_prefilled=False))
    stamp = time.time() - age
    set_saved(path, saved or dt.datetime.fromtimestamp(stamp, dt.timezone.utc).replace(tzinfo=None))
    os.utime(path, (stamp, stamp))
    return path


def set_saved(path: Path, when: dt.datetime) -> None:
    """Write ``when`` (naive UTC) as the workbook's last-saved time in its docProps/core.xml, as a
    spreadsheet program does on every save (the templates all carry one fixed time)."""
    with zipfile.ZipFile(path) as zf:
        parts = [(info, zf.read(info)) for info in zf.infolist()]
    stamp = when.isoformat(timespec="microseconds" if when.microsecond else "seconds") + "Z"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in parts:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            zf.writestr(info, data)


def write_roster(folder: Path, text: str = ROSTER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path
