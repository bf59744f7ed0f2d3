"""One e-mail per unit: letter and report pages (HTML with a plain-text alternative), the annotated
workbooks, and for a rejected return a fresh template with the unit and year prefilled."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from xlperf.excel.signed import write_signed_template
from xlperf.excel.template import TemplateError, TemplateOptions, template_bytes
from xlperf.findings import REJECTED
from xlperf.form.registry import builtin_layout
from xlperf.form.signkeys import SigningKeyError, key_from_env
from xlperf.mail.body import html_body, subject, text_body
from xlperf.mail.message import Original, addressees, new_message
from xlperf.mail.reports import Report
from xlperf.read import read_return
from xlperf.read.roster import RosterUnit

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def compose(unit: RosterUnit, reports: Sequence[Report], sender: str, now: dt.datetime, *,
            original: Original | None = None) -> EmailMessage:
    """The message telling ``unit`` (which has an e-mail address) the outcome of ``reports``;
    with ``original``, the answer to that message of the unit's (see :func:`addressees`).

    ``sender`` is the From header (``name <addr>`` or ``addr``); ``now`` (aware) the Date header.
    Attachment names are Chinese: the email package writes them as RFC 2231 UTF-8 parameters.
    """
    attachments = [(r.workbook_name, r.workbook) for r in reports if r.workbook is not None]
    templates, notes = fresh_templates(unit, reports)
    attachments += templates
    names = [name for name, _ in attachments]

    to, cc = addressees(unit, original)
    msg = new_message(subject=subject(unit, reports), sender=sender, to=to, cc=cc, now=now, original=original)
    # base64: Chinese text in 8bit needs 8BITMIME on every relay, and report pages have long lines.
    msg.set_content(text_body(unit, reports, names, notes), cte="base64")
    msg.add_alternative(html_body(unit, reports, names, notes), subtype="html", cte="base64")
    for name, data in attachments:
        msg.add_attachment(data, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=name)
        # No Content-Type ``name`` parameter as well: the email package (3.11) folds a non-ASCII
        # one by RFC 2047-encoding the MIME type itself, and clients then see a broken type.
    return msg


def fresh_templates(unit: RosterUnit, reports: Sequence[Report]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(file name, bytes) of a new template for each form and year with a rejected return, the
    unit's name (as in the roster) and the year prefilled; and notes for those that could not be made."""
    files: list[tuple[str, bytes]] = []
    notes: list[str] = []
    wanted: dict[tuple[str, int | None], Report] = {}
    for report in reports:
        if report.status != REJECTED:
            continue
        if report.form is None:
            notes.append(f"{report.file_name} 无法识别表单，未附新模板：请使用财政局下发的模板重新填报。")
        else:
            wanted.setdefault((report.form, report.year), report)
    for (form, year), report in wanted.items():
        year_part = f"_{year}年度" if year is not None else ""
        name = f"新模板_{report.form_title}{year_part}.xlsx"
        options = TemplateOptions(year=year, unit=unit.name)
        try:
            # Signed like the templates the bureau issues, when a key is configured.
            key = key_from_env()
            if key is None:
                data = template_bytes(builtin_layout(form), options)
            else:  # what is signed is read back from the written template (xlperf.excel.signed)
                with tempfile.TemporaryDirectory(prefix="xlperf-mail-") as tmp:
                    path = write_signed_template(builtin_layout(form), Path(tmp) / f"{form}_{year}.xlsx", options,
                                                 key=key, read_back=read_return)
                    data = path.read_bytes()
        except (TemplateError, SigningKeyError) as exc:
            notes.append(f"{report.file_name} 的新模板未能生成（{exc}）：请使用财政局下发的模板重新填报。")
            continue
        files.append((name, data))
    return files, notes


__all__ = ["compose", "fresh_templates"]
