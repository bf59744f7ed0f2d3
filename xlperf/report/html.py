"""The HTML report of one checked return: a self-contained page a clerk can read in a mail client."""

from __future__ import annotations

import datetime as dt
from functools import cache

import jinja2

from xlperf import __version__
from xlperf.findings import CheckedReturn
from xlperf.report.view import BLANK, RECOMPUTED_NOTE, SEVERITY_COLOURS, TITLE, build_view

TEMPLATE = "report.html.j2"


@cache
def _environment() -> jinja2.Environment:
    # Autoescape everywhere: units type anything, including pasted HTML, into their returns.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("xlperf.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def render_html(checked: CheckedReturn, *, annotated_name: str | None = None,
                generated: dt.datetime | None = None) -> str:
    """The report page of ``checked``.

    ``annotated_name`` is the file name of the annotated workbook sent with it, if any (the page
    then points the clerk to it); ``generated`` is the time printed in the footer (now if None).
    """
    when = (generated or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    return _environment().get_template(TEMPLATE).render(
        v=build_view(checked, annotated_name), title=TITLE, recomputed=RECOMPUTED_NOTE,
        blank=BLANK, colours=SEVERITY_COLOURS, version=__version__, generated=when,
    )
