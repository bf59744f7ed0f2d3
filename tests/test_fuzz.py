"""Fuzzing: mutated real returns always end as exactly one result each, no traceback, within limits.

Hypothesis draws batches of mutations of real returns (every form's template filled with its
sample values): cut short, bytes flipped, zip members swapped, duplicated or dropped, XML parts
re-encoded (UTF-16 with and without BOM, Latin-1), DTDs injected, pathological XML (deep
nesting, unclosed tags, huge attributes), extreme numbers and strings in cells. Each batch is
checked through :func:`xlperf.checks.check_files.check_files` as ``xlperf check`` does.

The property: one :class:`CheckedReturn` per file, in order; every result is writable as standard
JSON and as terminal text; no reader raised an unexpected exception (no
``CHECK_FAILED`` finding, which is what a traceback becomes) and none needed the limits to stop
it (no ``FILE_TOO_COMPLEX`` / ``WORKER_CRASHED``): the readers refuse hostile input by themselves.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hostile_corpus as corpus
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlperf.checks.check_files import check_files
from xlperf.cli.console import finding_line, return_line
from xlperf.form.registry import builtin_forms
from xlperf.workers.limits import Limits
from xlperf.workers.run import in_order

FORMS = tuple(builtin_forms())
LIMITS = Limits(seconds=30, memory_mb=1024)
BUG_CODES = {"CHECK_FAILED", "FILE_TOO_COMPLEX", "WORKER_CRASHED"}


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of one filled return of every built-in form."""
    folder = tmp_path_factory.mktemp("fuzz-base")
    return {form: corpus.good_return(folder / f"{form}.xlsx", form=form).read_bytes() for form in FORMS}


# -- mutations: (return bytes, drawn parameters) -> new file bytes ------------------------------------
def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _zip(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicated members are the point
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _xml_member(items: list[tuple[str, bytes]], pick: int) -> int:
    xml = [i for i, (name, _) in enumerate(items) if name.endswith((".xml", ".rels"))]
    return xml[pick % len(xml)]


def truncate(data: bytes, draw: Any) -> bytes:
    return data[: draw(st.integers(0, len(data) - 1))]


def flip(data: bytes, draw: Any) -> bytes:
    out = bytearray(data)
    for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        out[pos] ^= draw(st.integers(1, 255))
    return bytes(out)


def shuffle_members(data: bytes, draw: Any) -> bytes:
    items = _members(data)
    i, j = draw(st.integers(0, len(items) - 1)), draw(st.integers(0, len(items) - 1))
    action = draw(st.sampled_from(["swap", "duplicate", "drop"]))
    if action == "swap":
        items[i], items[j] = (items[i][0], items[j][1]), (items[j][0], items[i][1])
    elif action == "duplicate":
        items.insert(j, (items[i][0], items[draw(st.integers(0, len(items) - 1))][1]))
    else:
        del items[i]
    return _zip(items)


def reencode(data: bytes, draw: Any) -> bytes:
    items = _members(data)
    k = _xml_member(items, draw(st.integers(0, 99)))
    name, part = items[k]
    text = part.decode("utf-8").split("?>", 1)[-1] if part.startswith(b"<?xml") else part.decode("utf-8")
    codec, bom, declared = draw(st.sampled_from([
        ("utf-16-le", True, "UTF-16"), ("utf-16-le", False, "UTF-16"), ("utf-16-be", False, "UTF-16"),
        ("latin-1", False, "ISO-8859-1"), ("utf-8", True, "UTF-8")]))
    doc = f'<?xml version="1.0" encoding="{declared}"?>' + text
    items[k] = (name, (("\ufeff" if bom else "") + doc).encode(codec, "replace"))
    return _zip(items)


def inject_dtd(data: bytes, draw: Any) -> bytes:
    items = _members(data)
    k = _xml_member(items, draw(st.integers(0, 99)))
    name, part = items[k]
    text = part.decode("utf-8").split("?>", 1)[-1] if part.startswith(b"<?xml") else part.decode("utf-8")
    dtd = draw(st.sampled_from([corpus.laughs(draw(st.integers(1, 9))),
                                '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                                '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">']))
    codec = draw(st.sampled_from(["utf-8", "utf-16-le", "utf-16-be"]))
    items[k] = (name, (f'<?xml version="1.0" encoding="{codec[:6].upper()}"?>{dtd}{text}').encode(codec))
    return _zip(items)


def pathological(data: bytes, draw: Any) -> bytes:
    items = _members(data)
    k = _xml_member(items, draw(st.integers(0, 99)))
    name, part = items[k]
    n = draw(st.integers(1, 50_000))
    junk = draw(st.sampled_from([
        "<a>" * n + "</a>" * n, "<c r=\"A1\"><v>1</v>" * n, "<si><t>x</t>" * n, "<c r=\"A1\" " * n,
        f'<x a="{"y" * n}"/>', "<!--" + "-" * n, "<![CDATA[" * n, "&amp;" * n, "<f t=\"shared\" si=\"0\"/>" * n]))
    cut = draw(st.integers(0, len(part)))
    items[k] = (name, part[:cut] + junk.encode() + part[cut:])
    return _zip(items)


def extreme_cell(data: bytes, draw: Any) -> bytes:
    src = Path(tempfile.mkdtemp()) / "src.xlsx"
    src.write_bytes(data)
    dst = src.with_name("dst.xlsx")
    if draw(st.booleans()):
        number = draw(st.sampled_from(["1E+26", "1E+308", "1E+400", "-1E+400", "NaN", "INF", "-INF", "nan(0x1)",
                                       "0x10", "1_000", " 1", "-0", "4.9E-324", "１２"]))
        corpus.with_number(src, dst, number)
    else:
        text = draw(st.text(min_size=0, max_size=200)).replace("&", "&amp;").replace("<", "&lt;")
        text = "".join(c for c in text if c not in "\x00\ufffe\uffff" and not ("\ud800" <= c <= "\udfff"))
        text += draw(st.sampled_from(["", "_xD800_", "_xDFFF__xD800_", "_x0000_", "_x001F_", "x" * 40_000]))
        corpus.with_text(src, dst, text)
    return dst.read_bytes()


MUTATIONS: tuple[Callable[[bytes, Any], bytes], ...] = (
    truncate, flip, shuffle_members, reencode, inject_dtd, pathological, extreme_cell)


@st.composite
def batches(draw: Any, returns: dict[str, bytes]) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(draw(st.integers(4, 10))):
        mutation = draw(st.sampled_from(MUTATIONS))
        # extreme cells go into the keys of the corpus's form; the other mutations take any form
        form = corpus.FORM if mutation is extreme_cell else draw(st.sampled_from(FORMS))
        suffix = draw(st.sampled_from([".xlsx", ".xlsx", ".xlsm", ".xls", ".ods"]))
        out.append((f"{mutation.__name__}{suffix}", mutation(returns[form], draw)))
    return out


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_every_mutated_return_gives_one_clean_result(returns: dict[str, bytes], data: st.DataObject) -> None:
    batch = data.draw(batches(returns))
    folder = Path(tempfile.mkdtemp(prefix="xlperf-fuzz-"))
    paths = []
    for n, (name, content) in enumerate(batch):
        path = folder / f"{n:02d}_{name}"
        path.write_bytes(content)
        paths.append(path)
    results = list(in_order(check_files(paths, limits=LIMITS, jobs=2)))
    assert [r.file for r in results] == paths  # one result per file, in order
    for checked in results:
        codes = {f.code for f in checked.findings}
        assert not codes & BUG_CODES, (checked.file.name, [f.message for f in checked.findings])
        json.dumps(checked.to_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")
        for line in [return_line(checked), *map(finding_line, checked.findings)]:
            line.encode("utf-8")  # strict: no lone surrogate reaches the terminal
