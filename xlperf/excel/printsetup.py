"""A4 print setup shared by every workbook xlperf writes (templates, the roll-up summary).

One page wide, as many pages long as the content needs: staff print the official forms and
auditors print the summary, and a sheet split across pages sideways cannot be read on paper.
"""

from __future__ import annotations

from xlsxwriter.worksheet import Worksheet

A4 = 9
FOOTER = "&C第 &P 页，共 &N 页"


def a4_one_page_wide(ws: Worksheet, landscape: bool = False, repeat_rows: int = 0, header: str = "",
                     pages: int = 0) -> None:
    """A4, fit to one page wide, centred, page numbers in the footer; the first ``repeat_rows``
    rows printed again at the top of every page; ``header`` (xlsxwriter's header codes) on top;
    ``pages``: fit to that many pages tall (the official form's), else as many as needed (a
    sheet a little too long would otherwise print a last page holding a row or two)."""
    ws.set_paper(A4)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, pages)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    if repeat_rows:
        ws.repeat_rows(0, repeat_rows - 1)
    if header:
        ws.set_header(header)
    ws.set_footer(FOOTER)
