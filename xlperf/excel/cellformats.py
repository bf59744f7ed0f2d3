"""Cell formats of a template: fonts, fills and number formats, one xlsxwriter Format each."""

from __future__ import annotations

from typing import Any

from xlsxwriter.workbook import Format, Workbook

__all__ = ["ALERT_FILL", "FONT", "FORMULA_FILL", "INPUT_FILL", "NUM_FORMATS", "PREFILLED_FILL", "CellFormats"]

FONT = "宋体"
INPUT_FILL = "#FFF2CC"
FORMULA_FILL = "#E2EFDA"
PREFILLED_FILL = "#EDEDED"
ALERT_FILL = "#FFC7CE"

NUM_FORMATS = {
    "amount": "#,##0.00",
    "percent": "0.00%",
    "date": "yyyy-mm-dd",
    "year": "0",
    "integer": "0",
    "text": "@",
    "longtext": "@",
    "phone": "@",
}


class CellFormats:
    """One xlsxwriter Format per (style, number format, locked) combination."""

    BASE: dict[str, dict[str, Any]] = {
        "title": {"bold": True, "font_size": 18, "align": "center", "valign": "vcenter"},
        "subtitle": {"font_size": 12, "align": "center", "valign": "vcenter"},
        "note": {"font_size": 10, "align": "left", "valign": "vcenter", "text_wrap": True},
        "label": {"border": 1, "align": "center", "valign": "vcenter", "text_wrap": True},
        "header": {"border": 1, "bold": True, "align": "center", "valign": "vcenter",
                   "text_wrap": True},
        "section": {"border": 1, "bold": True, "align": "left", "valign": "vcenter"},
        "text": {"border": 1, "align": "left", "valign": "vcenter", "text_wrap": True,
                 "font_size": 10},
        "fixed": {"border": 1, "align": "center", "valign": "vcenter"},
        "input": {"border": 1, "valign": "vcenter", "text_wrap": True, "bg_color": INPUT_FILL,
                  "locked": False},
        "prefilled": {"border": 1, "valign": "vcenter", "text_wrap": True, "bg_color": PREFILLED_FILL},
        "formula": {"border": 1, "align": "center", "valign": "vcenter", "bg_color": FORMULA_FILL},
    }

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.cache: dict[tuple[str, str, bool], Format] = {}
        self.alert = workbook.add_format({"bg_color": ALERT_FILL, "font_color": "#9C0006"})
        self.percent = workbook.add_format({"num_format": "0.00%"})

    def get(self, style: str, num_format: str = "", alert: bool = False) -> Format:
        key = (style, num_format, alert)
        if key not in self.cache:
            props = {"font_name": FONT, "font_size": 11, **self.BASE[style]}
            if num_format:
                props["num_format"] = num_format
            if alert:
                props["bg_color"] = ALERT_FILL
            self.cache[key] = self.workbook.add_format(props)
        return self.cache[key]
