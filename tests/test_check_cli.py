"""`xlperf check` as a finance clerk runs it: files and folders, JSON, exit codes, bad files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlperf.cli import main
from xlperf.cli.demo import sample_values
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR

JSON_KEYS = {"file", "form", "form_version", "unit", "year", "valid", "total_score", "grade", "values",
             "scores", "findings"}
FINDING_KEYS = {"code", "severity", "sheet", "cell", "field", "label", "message", "expected", "found"}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, lo_recalc: Callable[..., dict[Path, Path]]) -> Path:
    """A folder as a clerk receives it: a clean return, one with a typed grade, junk files."""
    work = tmp_path_factory.mktemp("filled")
    clean = fill_workbook(TEMPLATES_DIR / "evaluation_report.xlsx", sample_values("evaluation_report"),
                          work / "clean.xlsx")
    values = sample_values("self_evaluation") | {"grade": "差"}
    typed = fill_workbook(TEMPLATES_DIR / "self_evaluation.xlsx", values, work / "typed_grade.xlsx")
    inbox = tmp_path_factory.mktemp("inbox")
    (inbox / "sub").mkdir()
    lo_recalc([clean], inbox)
    lo_recalc([typed], inbox / "sub")
    (inbox / "sub" / "notes.txt").write_text("not a return", encoding="utf-8")
    (inbox / "broken.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    return inbox


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.output


def test_clean_return_exits_zero(inbox: Path) -> None:
    code, out = run(str(inbox / "clean.xlsx"))
    assert code == 0, out
    assert "[通过]" in out and "100.00" in out and "优" in out


def test_folder_is_searched_and_every_file_accounted_for(inbox: Path) -> None:
    code, out = run("--json", str(inbox))
    assert code == 1
    doc = json.loads(out)
    files = sorted(Path(r["file"]).name for r in doc["returns"])
    assert files == ["broken.xlsx", "clean.xlsx", "typed_grade.xlsx"]  # .txt is not a spreadsheet
    assert [(Path(o["file"]).name, o["reason"].startswith("文本文件")) for o in doc["not_checked"]] == [
        ("notes.txt", True)]
    assert doc["summary"]["not_checked"] == 1
    for r in doc["returns"]:
        assert JSON_KEYS <= set(r)
        for f in r["findings"]:
            assert FINDING_KEYS <= set(f)
    by_name = {Path(r["file"]).name: r for r in doc["returns"]}
    assert by_name["broken.xlsx"]["valid"] is False
    assert by_name["broken.xlsx"]["findings"][0]["message"].count("broken.xlsx") == 1
    typed = by_name["typed_grade.xlsx"]
    assert typed["total_score"] == 96.35 and typed["grade"] == "优"
    grade = [f for f in typed["findings"] if f["code"] == "GRADE_MISMATCH"]
    assert grade and (grade[0]["expected"], grade[0]["found"], grade[0]["severity"]) == ("优", "差", "error")


def test_a_bad_file_does_not_stop_the_batch(inbox: Path) -> None:
    code, out = run(str(inbox / "broken.xlsx"), str(inbox / "clean.xlsx"))
    assert code == 1
    assert "broken.xlsx" in out and "clean.xlsx" in out and "Traceback" not in out
    assert "共审核 2 份报表" in out


def test_strict_counts_warnings(inbox: Path, tmp_path: Path) -> None:
    # A return saved without calculating is accepted with a warning, rejected under --strict.
    values = sample_values("evaluation_report")
    path = fill_workbook(TEMPLATES_DIR / "evaluation_report.xlsx", values, tmp_path / "uncalculated.xlsx")
    code, out = run(str(path))
    assert code == 0 and "CACHE_MISSING" in out, out
    code, _ = run("--strict", str(path))
    assert code == 1


def test_files_that_are_not_returns_are_listed_with_the_reason(inbox: Path) -> None:
    code, out = run(str(inbox))
    assert code == 1
    assert "[未审核]  notes.txt  文本文件" in out
    assert "共审核 3 份报表" in out and "另有 1 个文件不是报表，未审核" in out


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    assert run(str(tmp_path / "missing.xlsx"))[0] == 2
    assert run(str(tmp_path))[0] == 2  # an empty folder: nothing to check
    assert run()[0] == 2
    (tmp_path / "returns.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    code, out = run(str(tmp_path))  # only a zip: says what it found and what to do
    assert code == 2 and "returns.zip：压缩包" in out and "请解压" in out


def test_report_dir_gets_a_report_per_return(inbox: Path, tmp_path: Path) -> None:
    code, _ = run("--report-dir", str(tmp_path / "reports"), str(inbox))
    assert code == 1
    names = {p.name for p in (tmp_path / "reports").iterdir()}
    for stem in ("clean", "typed_grade", "broken"):
        assert f"{stem}.html" in names and f"{stem}.json" in names


def test_every_kind_of_bad_file_gets_its_finding_and_the_batch_goes_on(tmp_path: Path) -> None:
    from test_guard import cfb, zeros_member

    from xlperf.excel.recalc import recalculate

    good = fill_workbook(TEMPLATES_DIR / "evaluation_report.xlsx", sample_values("evaluation_report"),
                         tmp_path / "good.xlsx")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    xls = recalculate([good], tmp_path / "xls", fmt="xls")[good]
    (inbox / "saved_as_xls.xlsx").write_bytes(xls.read_bytes())  # an .xls renamed to .xlsx
    data = good.read_bytes()
    (inbox / "truncated.xlsx").write_bytes(data[: len(data) // 2])
    (inbox / "encrypted.xlsx").write_bytes(cfb({"EncryptionInfo": bytes(300), "EncryptedPackage": bytes(9000)}))
    (inbox / "foreign.xlsx").write_bytes(b"%PDF-1.4\n" + bytes(200))
    zeros_member(inbox / "bomb.xlsx", "xl/worksheets/sheet1.xml", 300)
    (inbox / "good.xlsx").write_bytes(data)

    code, out = run("--json", str(inbox))
    assert code == 1
    results = {Path(r["file"]).name: r for r in json.loads(out)["returns"]}
    assert len(results) == 6
    expected = {"truncated.xlsx": "FILE_TRUNCATED", "encrypted.xlsx": "FILE_ENCRYPTED",
                "foreign.xlsx": "FILE_FOREIGN", "bomb.xlsx": "ZIP_BOMB"}
    for name, code_ in expected.items():
        (finding,) = results[name]["findings"]
        assert (finding["code"], finding["severity"]) == (code_, "error")
        assert name in finding["message"]
    renamed = results["saved_as_xls.xlsx"]
    assert renamed["valid"] and renamed["total_score"] == 100
    assert "FORMULAS_UNVERIFIED" in {f["code"] for f in renamed["findings"]}
    # .xlsx files read the unit's data even when the rest of the folder is junk
    assert results["good.xlsx"]["total_score"] == 100
