"""Only :mod:`xlperf.findings.checked_return` writes or reads a checked return's JSON.

The JSON form of :class:`xlperf.findings.CheckedReturn` is versioned and owned by that one
module; a second writer or reader would drift from it (two codecs did, before version 2). An AST
scan of every other module under xlperf/ finds what building or parsing it takes:

- the value tags of the form (``$n``, ``$d``, ``$t``) or its text (``{"version"...``,
  ``{"values"...``) as string constants;
- a dict literal with two of its members (``values`` and ``scores``, ``projects`` and
  ``indicators``): one being built by hand;
- a ``dumps``/``loads``/``raw_decode`` call (json's or anyone's) given a stored result's text
  (``checked_json``, ``record_json``) or a return's ``to_json()``;
- a member of the form looked up in what a ``loads`` call returned.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import xlperf

PACKAGE = Path(xlperf.__file__).parent
OWNER = PACKAGE / "findings" / "checked_return.py"
TAGS = {"$n", "$d", "$t"}
TEXT_HEADS = ('{"version"', '{"values"', '{"summary"')
PAIRS = ({"values", "scores"}, {"projects", "indicators"})
MEMBERS = {"version", "summary", "values", "scores", "notes", "projects", "indicators", "total_score", "grade"}
STORED = {"checked_json", "record_json"}
CODEC_CALLS = {"dumps", "loads", "raw_decode"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _mentions_stored(node: ast.AST) -> bool:
    return any(_name(n) in STORED or isinstance(n, ast.Call) and _name(n.func) == "to_json" for n in ast.walk(node))


def _is_codec_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in CODEC_CALLS


def violations(path: Path, root: Path = PACKAGE.parent) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in TAGS or node.value.startswith(TEXT_HEADS):
                yield f"{where}: the JSON form's text {node.value!r}"
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if any(pair <= keys for pair in PAIRS):
                yield f"{where}: a dict built with the JSON form's members {sorted(keys & MEMBERS)}"
        elif _is_codec_call(node):
            assert isinstance(node, ast.Call)
            if any(_mentions_stored(arg) for arg in [*node.args, *(k.value for k in node.keywords)]):
                yield f"{where}: {_name(node.func)}() of a stored checked return"
        elif isinstance(node, ast.Subscript) and _is_codec_call(_unwrapped(node.value)):
            if isinstance(node.slice, ast.Constant) and node.slice.value in MEMBERS:
                yield f"{where}: [{node.slice.value!r}] of parsed JSON"
        elif (isinstance(node, ast.Call) and _name(node.func) == "get" and isinstance(node.func, ast.Attribute)
              and _is_codec_call(_unwrapped(node.func.value)) and node.args
              and isinstance(node.args[0], ast.Constant) and node.args[0].value in MEMBERS):
            yield f"{where}: .get({node.args[0].value!r}) of parsed JSON"


def _unwrapped(node: ast.AST) -> ast.AST:
    """``loads(x) or {}`` → ``loads(x)``."""
    if isinstance(node, ast.BoolOp):
        return node.values[0]
    return node


def test_no_module_but_the_owner_builds_or_parses_a_checked_returns_json() -> None:
    found = [v for path in sorted(PACKAGE.rglob("*.py")) if path != OWNER for v in violations(path)]
    assert found == []


def test_the_scan_finds_what_the_codecs_before_version_2_did(tmp_path: Path) -> None:
    """The scan is not blind: code as xlperf had it before one type owned the JSON is found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import json\n"
        "def encode(v):\n    return {'$n': str(v)}\n"
        "def checked_to_json(c):\n    return dumps({'values': c.values, 'scores': c.scores, 'notes': c.notes})\n"
        "def values_of(result):\n    return (loads(result.checked_json) or {}).get('values')\n"
        "def digest(checked_json):\n    return checked_json.startswith('{\"values\":{}')\n"
        "def record(r):\n    return json.loads(r.record_json)['projects']\n", encoding="utf-8")
    found = sorted(violations(sample, tmp_path))
    assert found == sorted([
        "sample.py:3: the JSON form's text '$n'",
        "sample.py:5: a dict built with the JSON form's members ['notes', 'scores', 'values']",
        "sample.py:7: loads() of a stored checked return",
        "sample.py:7: .get('values') of parsed JSON",
        "sample.py:9: the JSON form's text '{\"values\":{}'",
        "sample.py:11: loads() of a stored checked return",
        "sample.py:11: ['projects'] of parsed JSON",
    ])
