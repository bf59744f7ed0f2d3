"""Write untrusted text with xlsxwriter so that it stays text, whatever it holds.

xlsxwriter passes a string that starts with ``<r>`` and ends with ``</r>`` into the sheet XML
unescaped (it takes it for pre-built rich text), so such text from a return would corrupt the
workbook we write. Written as a rich string of two plain fragments it is escaped like any text.
"""

from __future__ import annotations

from typing import Any

from xlsxwriter.worksheet import Worksheet


def write_text(ws: Worksheet, row: int, col: int, text: str, fmt: Any = None) -> None:
    """``ws.write_string``, safe for any text (formula-looking text stays text too)."""
    if text.startswith("<r>") and text.endswith("</r>") and len(text) > 3:
        # Three plain fragments: xlsxwriter wants more than two to write a rich string.
        fragments = (text[:1], text[1:3], text[3:])
        ws.write_rich_string(row, col, *fragments, *([fmt] if fmt is not None else []))
    else:
        ws.write_string(row, col, text, fmt)
