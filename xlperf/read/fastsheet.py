"""The fast xlsx reader: shared strings and worksheets by regular expressions.

Worksheets and shared strings written by spreadsheet programs are regular, so a regular
expression pass reads them several times faster than building an element tree. It handles only
parts that hold nothing unusual (comments, CDATA, processing instructions, unusual attribute
syntax, cells without an address); on anything else it raises :class:`Fallback` and the caller
reads the part with :mod:`xlperf.read.treesheet` (the tests check that both give the same result).

Every pattern runs in time linear in the part, also on hostile input: a match attempt that
starts at an element can never run past the start of the next element of the same kind (an
unclosed ``<si>`` or ``<c>`` stops at the next one, an attribute list at the next ``<``), so
60,000 unclosed elements cost one pass, not 60,000 passes to the end of the part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from xlperf.read.cells import SheetSink, xstring


class Fallback(Exception):
    """The regular-expression reader met XML it does not handle; use the element tree."""


_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _entity(m: re.Match[str]) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    raise Fallback  # not a legal XML character: let the parser report it


def _text(s: str) -> str:
    """Raw element text as an XML parser would give it (line ends normalised, references resolved)."""
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        if len(_ENTITY.findall(s)) != s.count("&"):
            raise Fallback
        s = _ENTITY.sub(_entity, s)
    return s



@dataclass(frozen=True)
class _Patterns:
    si: re.Pattern[str]
    t: re.Pattern[str]
    rph: re.Pattern[str]
    cell: re.Pattern[str]
    shared_cell: re.Pattern[str]
    shared_mark: str
    f: re.Pattern[str]
    v: re.Pattern[str]
    v_empty: tuple[str, ...]
    v_attr: str
    f_open: str
    t_attr: re.Pattern[str]
    c_any: str
    si_open: str
    sst: str
    sheetdata: str
    sheetdata_end: str


@cache
def _patterns(prefix: str) -> _Patterns:
    p = re.escape(prefix)

    def tag(name: str) -> str:
        return "<" + p + name

    def end(name: str) -> str:
        return "</" + p + name + ">"

    return _Patterns(
        # (simple text, rich content) of each <si>; <si/> gives ("", "")
        si=re.compile(tag("si") + r"(?:/>|>(?:" + tag("t") + r'(?: xml:space="preserve"|)>([^<]*)' + end("t")
                      + r"|([^<]*(?:<(?!/?" + p + r"si[\s/>])[^<]*)*))" + end("si") + ")"),
        t=re.compile(tag("t") + r"(?:\s[^>]*)?>(.*?)" + end("t"), re.S),
        rph=re.compile(tag("rPh") + r"\b.*?" + end("rPh"), re.S),
        # (address, t, other attributes, <v> text of a value-only cell, text of a plain inline
        # string, other content)
        # The optional attributes are written as "X or nothing" ((?:X|), which matches exactly
        # what (?:X)? does): sre runs a branch without the repeat machinery that ? costs on a
        # group, twice per cell. The other content is "normal* (special normal*)*": each
        # repetition starts at a "<", so a run of text is consumed once, not character by character.
        cell=re.compile(tag("c") + r' r="([A-Z]{1,3}[0-9]{1,7})"(?: s="[0-9]+"|)(?: t="([A-Za-z]+)"|)([^<>]*?)'
                        r"(?:/>|>(?:" + tag("v") + r">([^<]+)" + end("v") + end("c")
                        + "|" + tag("is") + ">" + tag("t") + r'(?: xml:space="preserve"|)>([^<]*)' + end("t")
                        + end("is") + end("c") + r"|([^<]*(?:<(?!" + p + r"c[\s/>])[^<]*)*?)" + end("c") + "))"),
        # (address, index) of a cell that holds nothing but a shared string's index, written as
        # spreadsheet programs write it (r, s, t in that order): every cell of the hidden meta sheet.
        shared_cell=re.compile(tag("c") + r' r="([A-Z]{1,3}[0-9]{1,7})"(?: s="[0-9]+"|) t="s">' + tag("v")
                               + r">([0-9]{1,9})" + end("v") + end("c")),
        shared_mark=' t="s">' + tag("v") + ">",
        f=re.compile(tag("f") + r"\b([^<>]*?)(?:/>|>(.*?)" + end("f") + ")", re.S),
        v=re.compile(tag("v") + r">([^<]*)" + end("v")),
        v_empty=(tag("v") + "/>", tag("v") + " />"),
        v_attr=tag("v") + " ",
        f_open=tag("f"),
        t_attr=re.compile(r"""\st\s*=\s*["']([A-Za-z]+)["']"""),
        c_any=tag("c"),
        si_open=tag("si"),
        sst=tag("sst"),
        sheetdata=tag("sheetData"),
        sheetdata_end=end("sheetData"),
    )


_PREFIX = re.compile(r"\s*(?:<\?[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([A-Za-z_][\w.-]*:)?(\w+)\b", re.S)


def _markup_decl(body: str) -> bool:
    """Comments, CDATA, DTD or processing instructions: scans in C, where a regular expression
    search stops at every "<" of the part. A one-character search is a memchr, several times
    faster than a two-character one in a part full of "<": most parts hold no "!" or "?"."""
    return ("!" in body and "<!" in body) or ("?" in body and "<?" in body)


def _decode(data: bytes) -> tuple[str, _Patterns]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Fallback from None
    if text.startswith("\ufeff"):
        text = text[1:]
    m = _PREFIX.match(text)
    if m is None:
        raise Fallback
    return text, _patterns(m.group(1) or "")


def strings_fast(data: bytes) -> list[str]:
    text, pat = _decode(data)
    start = text.find(pat.sst)
    if start < 0:
        raise Fallback
    body = text[start:]
    if _markup_decl(body):
        raise Fallback
    found = pat.si.findall(body)
    if len(found) != body.count(pat.si_open):
        raise Fallback
    out: list[str] = []
    append = out.append
    for simple, rich in found:
        if rich:
            if "rPh" in rich:
                rich = pat.rph.sub("", rich)
            simple = _text("".join(pat.t.findall(rich)))
        elif "&" in simple or "\r" in simple:
            simple = _text(simple)
        append(xstring(simple) if "_x" in simple else simple)
    return out


def sheet_fast(data: bytes, sink: SheetSink) -> None:
    text, pat = _decode(data)
    start = text.find(pat.sheetdata)
    if start < 0:
        return
    end = text.find(pat.sheetdata_end, start)
    if end < 0:
        close = text.find(">", start)
        if close > 0 and text[close - 1] == "/":
            return  # <sheetData/>
        raise Fallback
    body = text[start:end]
    # Every match of a cell pattern starts with "<c ", so as many matches as there are "<c"
    # mean that nothing else starts like a cell (<c>, <c/>, a tab or line break after the name,
    # other names beginning with c): those, comments, CDATA and processing instructions go
    # to the element tree.
    opened = body.count(pat.c_any)
    if _markup_decl(body):
        raise Fallback
    if body.count(pat.shared_mark) == opened and _shared_strings_only(pat, body, opened, sink):
        return
    found = pat.cell.findall(body)
    if len(found) != opened:
        raise Fallback  # a cell the pattern did not match (no address, or attributes reordered)
    cells = sink.cells
    strings = sink.strings
    sheet = sink.sheet
    for ref, t, extra, v, istr, inner in found:
        if extra and "t" in extra:
            m = pat.t_attr.search(extra)
            t = m.group(1) if m else t
        if istr and t == "inlineStr":
            if "&" in istr or "\r" in istr:
                istr = _text(istr)
            cells[(sheet, ref)] = xstring(istr) if "_x" in istr else istr
            continue
        if v:  # a plain value: the common case, filed directly
            if not t or t == "n":
                try:
                    cells[(sheet, ref)] = float(v)
                except ValueError:
                    raise Fallback from None
            elif t == "s":
                try:
                    string = strings[int(v)]
                except (ValueError, IndexError):
                    sink.cell(ref, t, v, None, None)
                else:
                    if string:
                        cells[(sheet, ref)] = string
            else:
                sink.cell(ref, t, xstring(_text(v)) if t == "str" else _text(v), None, None)
            continue
        if not inner:
            continue  # an empty (formatted) cell
        _cell_fast(pat, sink, ref, t or "n", inner)


def _shared_strings_only(pat: _Patterns, body: str, opened: int, sink: SheetSink) -> bool:
    """File a sheet whose every cell is a shared string's index (the hidden meta sheet: two
    thirds of a return's cells) in one pass in C and one comprehension, with what the general
    loop would file; False, with nothing filed, when a cell is of another form or an index lies
    past the shared strings (the general loop reads and notes those)."""
    found = pat.shared_cell.findall(body)
    if len(found) != opened:
        return False
    strings = sink.strings
    try:
        texts = [strings[int(index)] for _, index in found]
    except IndexError:
        return False
    sheet = sink.sheet
    sink.cells.update({(sheet, ref): text for (ref, _), text in zip(found, texts, strict=True) if text})
    return True


def _cell_fast(pat: _Patterns, sink: SheetSink, ref: str, t: str, inner: str) -> None:
    """A cell with more than a plain value: a formula, an inline string, an empty <v/>."""
    v: str | None = None
    m = pat.v.search(inner)
    if m is not None:
        v = _text(m.group(1))
    elif any(e in inner for e in pat.v_empty):
        v = ""
    elif pat.v_attr in inner:
        raise Fallback
    f = None
    j = inner.find(pat.f_open)
    if j >= 0:
        fm = pat.f.match(inner, j)
        if fm is None:
            raise Fallback
        fattrs, ftext = fm.groups()
        ft = _attr(fattrs, "t")
        f = (ft or "normal", _attr(fattrs, "si"), _text(ftext) if ftext else "")
    inline = None
    if t == "inlineStr":
        if "rPh" in inner:
            inner = pat.rph.sub("", inner)
        inline = xstring("".join(_text(x) for x in pat.t.findall(inner)))
    elif t == "str" and v is not None:
        v = xstring(v)
    sink.cell(ref, t, v, inline, f)


# (?<!...): a name starts only where a word starts, so a long word without "=" is scanned once.
_ATTR = re.compile(r"""(?<![\w:])([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attr(attrs: str, name: str) -> str | None:
    for m in _ATTR.finditer(attrs):
        if m.group(1) == name:
            return _text(m.group(2) if m.group(2) is not None else m.group(3))
    return None

