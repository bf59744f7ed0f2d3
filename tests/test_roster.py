"""The roster of units: headers in English or Chinese, and clear messages naming row and column."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from xlperf.cli.demo import DEMO_RETURNS, SAMPLES_DIR
from xlperf.read.roster import RosterError, normalise_name, read_roster

HEADER = "单位代码,单位名称,主管部门,联系人,邮箱\n"


def write_csv(tmp_path: Path, text: str, name: str = "名单.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RosterError) as info:
        read_roster(path)
    return info.value.problems


def test_reads_chinese_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,张明,a@example.gov.cn\n"
                                       "\n"
                                       "1002,西山县中小企业局,市工业和信息化局,,\n")
    roster = read_roster(path)
    assert [(u.code, u.name, u.dept, u.contact, u.email, u.row) for u in roster.units] == [
        ("1001", "东湖区科技局", "市科学技术局", "张明", "a@example.gov.cn", 2),
        ("1002", "西山县中小企业局", "市工业和信息化局", "", "", 4),
    ]


def test_reads_english_headers_gbk_and_extra_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Code,Name,dept,备注,contact,EMAIL\n1001,东湖区科技局,市科学技术局,x,张明,a@example.gov.cn\n",
                     encoding="gb18030")
    unit, = read_roster(path).units
    assert (unit.code, unit.name, unit.dept, unit.contact, unit.email) == (
        "1001", "东湖区科技局", "市科学技术局", "张明", "a@example.gov.cn")


def test_reads_xlsx_with_numeric_codes(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["单位代码", "单位名称", "主管部门", "联系人", "邮箱"])
    ws.append([1001, "东湖区科技局", "市科学技术局", "张明", "a@example.gov.cn"])
    wb.save(tmp_path / "名单.xlsx")
    unit, = read_roster(tmp_path / "名单.xlsx").units
    assert (unit.code, unit.name, unit.row) == ("1001", "东湖区科技局", 2)


def test_missing_header_names_row_and_column(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, "单位代码,主管部门,邮箱\n1001,市科学技术局,a@example.gov.cn\n"))
    assert len(found) == 1
    assert "名单.csv 第 1 行（表头）缺少“单位名称”列" in found[0]


def test_duplicate_code_names_both_rows(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,,\n"
                                                 "1002,西山县中小企业局,市工业和信息化局,,\n"
                                                 "1001,南城区商务局,市商务局,,\n"))
    assert found == ["名单.csv 第 4 行 A 列（单位代码）“1001”与第 2 行重复：每个单位的代码应唯一"]


def test_duplicate_name_after_normalising(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,,\n"
                                                 "1002,东湖区 科技局　,市科学技术局,,\n"))
    assert len(found) == 1 and found[0].startswith("名单.csv 第 3 行 B 列（单位名称）")
    assert "与第 2 行重复" in found[0]


def test_bad_email_names_row_and_column(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,张明,a@example.gov.cn\n"
                                                 "1002,西山县中小企业局,市工业和信息化局,李华,lihua#example\n"))
    assert found == ["名单.csv 第 3 行 E 列（邮箱）“lihua#example”不是有效的电子邮箱地址："
                     "请填写如 name@example.gov.cn 的地址（多个地址用分号隔开）"]


def test_a_unit_may_list_several_addresses(tmp_path: Path) -> None:
    roster = read_roster(write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,张明,a@example.gov.cn； B@Example.gov.cn，c@example.gov.cn\n"
                                                      "1002,西山县中小企业局,市工业和信息化局,李华,b@example.gov.cn\n"))
    donghu, xishan = roster.units
    assert donghu.email == "a@example.gov.cn"
    assert donghu.addresses == ("a@example.gov.cn", "B@Example.gov.cn", "c@example.gov.cn")
    assert roster.units_for_address("c@EXAMPLE.gov.cn ") == (donghu,)
    assert roster.units_for_address("b@example.gov.cn") == (donghu, xishan)  # a clerk shared by two units
    assert roster.units_for_address("stranger@example.com") == ()
    found = problems(write_csv(tmp_path, HEADER + "1001,东湖区科技局,市科学技术局,张明,a@example.gov.cn;oops\n"))
    assert len(found) == 1 and "“oops”不是有效的电子邮箱地址" in found[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, HEADER + ",东湖区科技局,市科学技术局,,\n"
                                                 "1002,,市工业和信息化局,,bad\n"))
    assert [p.split("）")[0] for p in found] == [
        "名单.csv 第 2 行 A 列（单位代码", "名单.csv 第 3 行 B 列（单位名称", "名单.csv 第 3 行 E 列（邮箱"]


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    assert "空的" in problems(write_csv(tmp_path, "\n\n"))[0]
    assert "没有任何单位" in problems(write_csv(tmp_path, HEADER))[0]
    (tmp_path / "坏.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    assert problems(tmp_path / "坏.xlsx")[0].startswith("坏.xlsx：无法读取单位名单")


def test_find_matches_names_as_typed() -> None:
    roster = read_roster(SAMPLES_DIR / "roster.csv")
    unit = roster.find(" 东湖区 科技局\u3000")
    assert unit is not None and unit.name == "东湖区科技局"
    assert roster.find("东湖区科技局（公章）") is None
    assert normalise_name("ＡＢＣ 局") == normalise_name("abc局")


def test_demo_roster_lists_every_demo_unit_and_two_that_never_report() -> None:
    roster = read_roster(SAMPLES_DIR / "roster.csv")
    demo_units = {d.unit for d in DEMO_RETURNS}
    assert all(roster.find(name) for name in demo_units)
    assert len([u for u in roster.units if u.name not in demo_units]) == 2
    assert all(u.email.endswith("@example.gov.cn") and u.dept for u in roster.units)


PROJECT_HEADER = "单位代码,单位名称,主管部门,项目名称\n"


def test_project_column_gives_one_unit_with_its_projects(tmp_path: Path) -> None:
    path = write_csv(tmp_path, PROJECT_HEADER + "1001,东湖区科技局,市科学技术局,科技创新服务\n"
                                               "1002,西山县中小企业局,市工业和信息化局,\n"
                                               "1001,东湖区 科技局,市科学技术局,孵化器运营补助\n")
    roster = read_roster(path)
    assert [(u.code, u.name, u.projects, u.row) for u in roster.units] == [
        ("1001", "东湖区科技局", ("科技创新服务", "孵化器运营补助"), 2),
        ("1002", "西山县中小企业局", (), 3),
    ]
    assert roster.find("东湖区科技局") is roster.units[0]


def test_english_project_header(tmp_path: Path) -> None:
    unit, = read_roster(write_csv(tmp_path, "code,name,dept,Project\n1001,东湖区科技局,市科学技术局,科技创新服务\n")).units
    assert unit.projects == ("科技创新服务",)


def test_same_unit_and_project_twice_is_a_duplicate(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, PROJECT_HEADER + "1001,东湖区科技局,市科学技术局,科技创新服务\n"
                                                         "1001,东湖区科技局,市科学技术局,科技创新 服务\n"
                                                         "1002,西山县中小企业局,市工业和信息化局,\n"
                                                         "1002,西山县中小企业局,市工业和信息化局,\n"))
    assert [p.split("）")[0] for p in found] == ["名单.csv 第 3 行 B 列（单位名称", "名单.csv 第 5 行 B 列（单位名称"]
    assert all("每行应填写不同的项目名称" in p for p in found)


def test_rows_of_one_unit_must_agree_on_code_and_dept(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, PROJECT_HEADER + "1001,东湖区科技局,市科学技术局,科技创新服务\n"
                                                         "1009,东湖区科技局,市商务局,孵化器运营补助\n"))
    assert found == [
        "名单.csv 第 3 行 A 列（单位代码）“1009”与第 2 行同一单位“东湖区科技局”的代码“1001”不一致：同一单位各行的代码应相同",
        "名单.csv 第 3 行 C 列（主管部门）“市商务局”与第 2 行同一单位“东湖区科技局”的“市科学技术局”不一致：同一单位各行的主管部门应相同",
    ]


def test_a_code_shared_by_two_units_is_still_a_duplicate_with_projects(tmp_path: Path) -> None:
    found = problems(write_csv(tmp_path, PROJECT_HEADER + "1001,东湖区科技局,市科学技术局,科技创新服务\n"
                                                         "1001,南城区商务局,市商务局,会展补助\n"))
    assert found == ["名单.csv 第 3 行 A 列（单位代码）“1001”与第 2 行重复：每个单位的代码应唯一"]
