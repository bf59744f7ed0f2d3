"""Cell decoding shared by both xlsx sheet readers (:mod:`fastsheet` and :mod:`treesheet`)."""

from __future__ import annotations

import datetime as dt
import re

from xlperf.read.book import Book, TooLarge
from xlperf.read.returns import CellRef, Value

_XESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
MAX_SHARED_WORK = 200_000
"""References one sheet's shared-formula children may cost to translate (a reference once per
child and distinct offset). A return re-saved by Excel needs a few thousand; a crafted file whose
long master has thousands of children (79 KB took 79 s) is refused instead."""


class SheetSink:
    """Receives the cells of one worksheet from either reader and files them in the book."""

    def __init__(self, sheet: str, strings: list[str], book: Book) -> None:
        self.sheet = sheet
        self.strings = strings
        self.book = book
        self.reset()

    def reset(self) -> None:
        self.cells: dict[CellRef, Value] = {}
        self.formulas: dict[CellRef, str] = {}
        self.no_cache: set[CellRef] = set()
        self.errors: dict[CellRef, str] = {}
        self.masters: dict[str, tuple[str, str]] = {}  # shared formula index → (cell, text)
        self.children: list[tuple[str, str]] = []  # (cell, shared formula index)
        self.bad_strings = 0

    def cell(self, ref: str, t: str, v: str | None, inline: str | None,
             f: tuple[str, str | None, str | None] | None) -> None:
        """One cell: type, <v> text (None: no <v>), inline string, (f type, si, f text)."""
        key = (self.sheet, ref)
        value: Value = None
        if t == "s":
            if v:
                try:
                    value = self.strings[int(v)]
                except (ValueError, IndexError):
                    self.bad_strings += 1
        elif t == "inlineStr":
            value = inline if inline is not None else v
        elif t in ("str", "e"):
            value = v
            if t == "e" and v:
                self.errors[key] = v
        elif t == "b":
            value = v is not None and v.strip() in ("1", "true")
        elif t == "d":
            value = _iso_serial(v)
        elif v is not None and v != "":
            try:
                value = float(v)
            except ValueError:
                value = v
        if value is not None and value != "":
            self.cells[key] = value
        if f is not None:
            ftype, si, text = f
            if ftype == "shared" and si is not None:
                if text:
                    self.masters[si] = (ref, text)
                else:
                    self.children.append((ref, si))
                    text = None
            if text is not None:
                self.formulas[key] = "=" + text
            # A string result may be empty; a number or boolean result may not.
            if v is None or (v == "" and t not in ("str", "inlineStr", "s")):
                self.no_cache.add(key)

    def finish(self) -> None:
        shared: dict[str, _Shared] = {}
        work = 0
        for ref, si in self.children:
            master = self.masters.get(si)
            if master is None:
                text = "="
            else:
                translator = shared.get(si)
                if translator is None or translator.origin != master[0]:
                    translator = shared[si] = _Shared(master[1], master[0])
                text, cost = translator.at(ref)
                work += cost
                if work > MAX_SHARED_WORK:
                    raise TooLarge(f"工作表“{self.sheet}”的共享公式过多（{len(self.children)} 个单元格共用公式）")
            self.formulas[(self.sheet, ref)] = text
        book = self.book
        book.add_sheet_cells(self.sheet, self.cells)
        book.formulas.update(self.formulas)
        book.no_cache |= self.no_cache
        book.errors.update(self.errors)
        if self.bad_strings:
            book.notes.append(f"工作表“{self.sheet}”有 {self.bad_strings} 个单元格引用了不存在的共享字符串，按空值处理")


class _Shared:
    """One shared formula's master, tokenized once; its text moved to each child, once per offset."""

    def __init__(self, text: str, origin: str) -> None:
        from openpyxl.formula.tokenizer import Token
        from openpyxl.formula.translate import Translator  # only re-saved files use shared formulas
        from openpyxl.utils.cell import coordinate_to_tuple

        self.text, self.origin = text, origin
        self._position = coordinate_to_tuple
        self.by_offset: dict[tuple[int, int], str] = {}
        try:
            self.translator: Translator | None = Translator("=" + text, origin=origin)
            self.cost = 1 + sum(1 for t in self.translator.get_tokens()
                                if t.type == Token.OPERAND and t.subtype == Token.RANGE)
        except Exception:  # an unparsable master: children keep its text, still marked as formulas
            self.translator, self.cost = None, 1

    def at(self, dest: str) -> tuple[str, int]:
        """The child's formula text at ``dest``, and the work it cost (0 when known)."""
        if self.translator is None:
            return "=" + self.text, 0
        try:
            row, col = self._position(dest)
            offset = (row - self.translator.row, col - self.translator.col)
            known = self.by_offset.get(offset)
            if known is not None:
                return known, 0
            text = str(self.translator.translate_formula(row_delta=offset[0], col_delta=offset[1]))
        except Exception:  # noqa: BLE001 - a reference that cannot move (#REF!): keep the master's text
            return "=" + self.text, self.cost
        self.by_offset[offset] = text
        return text, self.cost


def _iso_serial(v: str | None) -> float | None:
    if not v:
        return None
    try:
        moment = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    delta = moment - dt.datetime(1899, 12, 30)
    return delta.days + delta.seconds / 86400


def xstring(s: str) -> str:
    """Undo OOXML's ``_xHHHH_`` escaping of characters XML cannot hold (ST_Xstring)."""
    return _XESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s) if "_x" in s else s

