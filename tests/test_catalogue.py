"""The finding-code catalogue: every code used is listed, checks register against it, the README
table is current."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import xlperf
from xlperf.checks import CHECKS
from xlperf.findings.catalogue import CATALOGUE, UnknownCode, markdown_table, with_table
from xlperf.form.registry import builtin_forms

PACKAGE = Path(xlperf.__file__).parent
README = PACKAGE.parent / "README.md"
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# Calls whose first argument (or ``code=``) is a finding code.
CODE_CALLS = {"Finding", "finding", "UnsafeFile", "ReadError", "failed_record", "Check"}


def _codes_in_source() -> dict[str, list[str]]:
    """Literal finding codes passed to CODE_CALLS (or as ``code=``), with where they are."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # A code kept in a constant of its own name (``FILE_TOO_COMPLEX = "FILE_TOO_COMPLEX"``).
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)
                    and node.value.value == node.targets[0].id and CODE_RE.match(node.targets[0].id)):
                found.setdefault(node.targets[0].id, []).append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = [kw.value for kw in node.keywords if kw.arg == "code"]
            if name in CODE_CALLS:
                args += node.args if name == "failed_record" else node.args[:1]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and CODE_RE.match(arg.value):
                    found.setdefault(arg.value, []).append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_every_code_reported_in_the_source_is_catalogued() -> None:
    found = _codes_in_source()
    # The scan must see the reader's, the checker's and the roll-up's codes, not just the checks'.
    assert {"FILE_EMPTY", "NOT_XLPERF", "CHECK_FAILED", "WORKER_CRASHED", "TARGET_MISSING"} <= set(found)
    missing = {c: where for c, where in found.items() if c not in CATALOGUE}
    assert not missing, f"codes not in xlperf/findings/catalogue.py: {missing}"


def test_every_catalogued_code_is_used() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")
                     if p.name != "catalogue.py")
    text += "\n".join(p.read_text(encoding="utf-8") for p in (PACKAGE / "form" / "specs").glob("*.yaml"))
    unused = [c for c in CATALOGUE if not re.search(rf"\b{c}\b", text)]
    assert not unused, f"catalogued codes nothing reports: {unused}"


def test_checks_take_severity_and_title_from_the_catalogue() -> None:
    for check in CHECKS:
        entry = CATALOGUE[check.code]
        assert (check.severity, check.title) == (entry.severity, entry.title)


def test_spec_consistency_rules_use_catalogued_codes_with_their_severity() -> None:
    rules = [(form, rule) for form, spec in builtin_forms().items() for rule in spec.consistency]
    assert rules
    for form, rule in rules:
        assert rule.code in CATALOGUE, f"{form}: consistency code {rule.code} is not in the catalogue"
        assert CATALOGUE[rule.code].severity == rule.severity, (form, rule.code)


def _severity_settings(tree: ast.AST) -> list[int]:
    """Lines of ``tree`` that choose a finding's severity: a ``Finding(...)`` made directly (its
    second argument is one) or a call given ``severity=`` "error" or "warning" (also inside an
    expression: ``"warning" if x else None``)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            chosen = [kw for kw in node.keywords if kw.arg == "severity" and any(
                isinstance(c, ast.Constant) and c.value in ("error", "warning") for c in ast.walk(kw.value))]
            if name == "Finding" or chosen:
                lines.append(node.lineno)
    return lines


def test_no_module_outside_findings_sets_a_severity() -> None:
    """Severities come only from the catalogue: findings are made by
    :func:`xlperf.findings.catalogue.finding` (or read back by ``stored_finding``)."""
    settings = {str(p.relative_to(PACKAGE.parent)): lines for p in sorted(PACKAGE.rglob("*.py"))
                if p.parent != PACKAGE / "findings"
                and (lines := _severity_settings(ast.parse(p.read_text(encoding="utf-8"))))}
    assert settings == {}
    planted = ast.parse('ctx.flag(None, "x", code="CHECK_FAILED", severity="warning" if w else None)\nFinding("A_B", "error", "m")')
    assert _severity_settings(planted) == [1, 2]  # the scan sees both kinds


def test_a_check_with_an_unknown_code_fails_at_import(tmp_path: Path) -> None:
    module = tmp_path / "planted_check.py"
    module.write_text("from xlperf.checks.base import Check\n\n"
                      "CHECKS = (Check('NO_SUCH_CODE', lambda ctx: None),)\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("planted_check", module)
    assert spec is not None and spec.loader is not None
    with pytest.raises(UnknownCode, match="NO_SUCH_CODE"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert "planted_check" not in sys.modules


def test_readme_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_table(text) == text, (
        "README.md's table of finding codes is stale: run "
        "`PYTHONPATH=. python -m xlperf.findings.catalogue --write README.md`")
    assert markdown_table().count("\n") == len(CATALOGUE) + 1


def test_stale_readme_table_is_detected() -> None:
    text = README.read_text(encoding="utf-8")
    stale = text.replace("| `WORKER_CRASHED` |", "| `WORKER_GONE` |")
    assert stale != text and with_table(stale) == text
