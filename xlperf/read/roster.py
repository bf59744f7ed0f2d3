"""The roster of reporting units (单位名单): read an .xlsx/.xls/.ods or .csv file and validate it.

A roster lists the units expected to report: 单位代码, 单位名称, 主管部门, 联系人, 邮箱. The
header row may use the English names (code, name, 主管部门/dept, contact, email) or the Chinese
ones; extra columns (备注 ...) are ignored. Required columns: code, name and 主管部门 (what a
roll-up needs); contact and email may be left out. Every problem is collected and reported at
once, each naming the file, the row (as the spreadsheet shows it: the header is usually row 1)
and the column, so the finance office can fix the file in one go:

- a required header missing, or two columns meaning the same thing;
- a row without code or name, a duplicate code, a duplicate name (compared after
  :func:`normalise_name`), an e-mail address that is not one;
- a line break (Alt+Enter in Excel) or another control character in a code, a name, a 主管部门
  or a 项目名称. These go into mail subjects, file names and the desk's one-line cells, and one
  cell with two lines is ambiguous there: a name wrapped by hand ("东城区⏎科技局") or two units
  (or projects) typed into one cell; only the clerk knows which, so the roster is refused with
  the row and column. A 联系人 cell with two lines is two people, as a clerk types them: it is
  kept as one line, "张明、李华". Line breaks between addresses in 邮箱 separate them like ";".

An optional 项目名称 (``project``) column lists the projects a unit reports on (``xlperf template
--roster`` issues one template per project). A unit may then take several rows, one per project:
the same name twice is a duplicate only with the same project (or both blank); its rows must
agree on code and 主管部门, and its first row gives contact and e-mail. :attr:`Roster.units` keeps
one :class:`RosterUnit` per unit (at its first row) with its ``projects``.

Matching a return to a unit (:meth:`Roster.find`) goes by unit name, compared after
:func:`normalise_name` (full-width forms folded to half-width, all whitespace removed, case
folded): the forms have no unit-code field yet, so the name as typed in the return is all there is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from xlperf.read.inbox import SPREADSHEET_SUFFIXES

__all__ = ["Roster", "RosterError", "RosterUnit", "normalise_name", "read_roster"]

# Accepted header spellings by column, compared after normalise_name; the first is the canonical
# Chinese header used in messages.
HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("单位代码", "code", "代码", "单位编码", "编码"),
    "name": ("单位名称", "name", "单位", "名称"),
    "dept": ("主管部门", "dept", "department"),
    "contact": ("联系人", "contact"),
    "email": ("邮箱", "email", "e-mail", "电子邮箱", "电子邮件"),
    "project": ("项目名称", "project", "项目"),
}
REQUIRED = ("code", "name", "dept")
EMAIL_SEPARATORS = re.compile(r"[;；,，、\s]+")
"""Between the addresses of a unit that lists several in its 邮箱 cell (as clerks type them)."""
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
MAX_SHOWN = 50
"""Problems listed in one error; a roster with more is probably the wrong file anyway."""
ONE_LINE = ("code", "name", "dept", "project")
"""Columns whose cells must be one line of text (see the module's docstring)."""
CONTACTS_JOINED_BY = "、"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters but tab and line feed, and Unicode's line and paragraph separators."""
"""Problems listed in one error; a roster with more is probably the wrong file anyway."""


def normalise_name(text: object) -> str:
    """A unit name as compared: NFKC (full-width to half-width), no whitespace, case folded."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


@dataclass(frozen=True)
class RosterUnit:
    """One unit expected to report; ``row`` is its row in the roster file."""

    code: str
    name: str
    dept: str
    contact: str = ""
    email: str = ""
    row: int = 0
    """The unit's first row."""
    projects: tuple[str, ...] = ()
    """Projects listed for the unit (optional 项目名称 column), in roster order; empty when none."""
    emails: tuple[str, ...] = ()
    """Every address of the 邮箱 cell (a unit may list several, separated by ; ， 、 or spaces);
    :attr:`email` is the first."""

    @property
    def addresses(self) -> tuple[str, ...]:
        """The unit's addresses: :attr:`emails`, or :attr:`email` for a unit made without them."""
        return self.emails or ((self.email,) if self.email else ())


@dataclass(frozen=True)
class Roster:
    path: Path
    units: tuple[RosterUnit, ...]
    _by_name: dict[str, RosterUnit] = field(default_factory=dict, repr=False, compare=False)
    _by_address: dict[str, tuple[RosterUnit, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({normalise_name(u.name): u for u in self.units})
        for unit in self.units:
            for address in unit.addresses:
                key = address.casefold()
                self._by_address[key] = (*self._by_address.get(key, ()), unit)

    def find(self, unit_name: object) -> RosterUnit | None:
        """The unit whose name equals ``unit_name`` after :func:`normalise_name`, if any."""
        return self._by_name.get(normalise_name(unit_name))

    def named_in(self, text: str) -> list[RosterUnit]:
        """Units whose name (after :func:`normalise_name`) occurs in ``text`` (after it too), in
        the order they occur. Every piece of the text is looked up, not every unit tried: a file
        name has a few hundred pieces, a province's roster ten thousand units."""
        words = normalise_name(text)
        found: dict[str, RosterUnit] = {}
        for start in range(len(words)):
            for end in range(start + 1, len(words) + 1):
                unit = self._by_name.get(words[start:end])
                if unit is not None:
                    found.setdefault(words[start:end], unit)
        return list(found.values())

    def units_for_address(self, address: str) -> tuple[RosterUnit, ...]:
        """The units listing ``address`` (case ignored); several when units share a clerk."""
        return self._by_address.get(address.strip().casefold(), ())


class RosterError(Exception):
    """A roster that cannot be used; ``problems`` are Chinese lines naming file, row and column."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_SHOWN]
        if len(problems) > MAX_SHOWN:
            shown.append(f"……另有 {len(problems) - MAX_SHOWN} 处问题")
        super().__init__("\n".join(shown))
        self.problems = problems


def read_roster(path: Path) -> Roster:
    """Read and validate the roster at ``path``; raises RosterError listing every problem."""
    rows = _read_rows(path)
    name = path.name
    start = next((i for i, row in enumerate(rows) if any(_text(v) for v in row)), None)
    if start is None:
        raise RosterError([f"{name}：文件是空的，请按“单位代码、单位名称、主管部门、联系人、邮箱”填写表头和各单位"])
    columns, problems = _columns(name, start + 1, rows[start])
    if problems:
        raise RosterError(problems)
    units: dict[str, RosterUnit] = {}
    projects: dict[str, list[str]] = {}
    first_code: dict[str, tuple[int, str]] = {}
    first_pair: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows[start + 1:], start=start + 2):
        if not any(_text(v) for v in row):
            continue
        cells = {key: _text(row[col]) if col < len(row) else "" for key, col in columns.items()}
        where = f"{name} 第 {i} 行"
        for key in ONE_LINE:
            if key in cells and (len(cells[key].splitlines()) > 1 or _CONTROL.search(cells[key])):
                shown = " ⏎ ".join(line.strip() for line in cells[key].splitlines())
                problems.append(f"{where} {_col(columns[key])} 列（{HEADERS[key][0]}）“{_CONTROL.sub('', shown)}”"
                                "含换行或控制字符：一个单元格只能写一行（多个单位或项目请各占一行）")
        if "contact" in cells:
            cells["contact"] = one_line_contacts(cells["contact"])
        for key in REQUIRED:
            if not cells[key]:
                problems.append(f"{where} {_col(columns[key])} 列（{HEADERS[key][0]}）为空：请填写")
        code, unit, project = _code(cells["code"]), cells["name"], cells.get("project", "")
        key = normalise_name(unit)
        if code and code in first_code and first_code[code][1] != key:
            problems.append(f"{where} {_col(columns['code'])} 列（单位代码）“{code}”与第 {first_code[code][0]} 行重复："
                            "每个单位的代码应唯一")
        pair = (key, normalise_name(project))
        if key and pair in first_pair:
            if "project" in columns:
                problems.append(f"{where} {_col(columns['name'])} 列（单位名称）“{unit}”（项目名称“{project}”）与第 "
                                f"{first_pair[pair]} 行重复：同一单位列多行时，每行应填写不同的项目名称")
            else:
                problems.append(f"{where} {_col(columns['name'])} 列（单位名称）“{unit}”与第 {first_pair[pair]} 行重复："
                                "请删除重复的单位")
        elif key in units:
            problems += _same_unit(where, columns, units[key], code, cells["dept"])
        emails = tuple(a for a in EMAIL_SEPARATORS.split(cells.get("email", "")) if a)
        for address in emails:
            if not EMAIL_RE.match(address):
                problems.append(f"{where} {_col(columns['email'])} 列（邮箱）“{address}”不是有效的电子邮箱地址："
                                "请填写如 name@example.gov.cn 的地址（多个地址用分号隔开）")
        first_code.setdefault(code, (i, key))
        first_pair.setdefault(pair, i)
        units.setdefault(key, RosterUnit(code, unit, cells["dept"], cells.get("contact", ""),
                                         emails[0] if emails else "", i, emails=emails))
        if project and project not in projects.setdefault(key, []):
            projects[key].append(project)
    if not units and not problems:
        problems.append(f"{name}：表头下没有任何单位，请逐行填写名单")
    if problems:
        raise RosterError(problems)
    return Roster(path, tuple(replace(u, projects=tuple(projects.get(k, ()))) for k, u in units.items()))


def _same_unit(where: str, columns: dict[str, int], first: RosterUnit, code: str, dept: str) -> list[str]:
    """Problems of a further row (another project) of a unit: its code and 主管部门 must agree."""
    problems = []
    if code and first.code and code != first.code:
        problems.append(f"{where} {_col(columns['code'])} 列（单位代码）“{code}”与第 {first.row} 行同一单位“{first.name}”"
                        f"的代码“{first.code}”不一致：同一单位各行的代码应相同")
    if dept and first.dept and normalise_name(dept) != normalise_name(first.dept):
        problems.append(f"{where} {_col(columns['dept'])} 列（主管部门）“{dept}”与第 {first.row} 行同一单位“{first.name}”"
                        f"的“{first.dept}”不一致：同一单位各行的主管部门应相同")
    return problems


def _columns(name: str, row: int, header: list[object]) -> tuple[dict[str, int], list[str]]:
    aliases = {normalise_name(a): key for key, names in HEADERS.items() for a in names}
    columns: dict[str, int] = {}
    problems: list[str] = []
    for col, value in enumerate(header):
        key = aliases.get(normalise_name(value))
        if key is None:
            continue
        if key in columns:
            problems.append(f"{name} 第 {row} 行（表头）{_col(col)} 列“{_text(value)}”与 {_col(columns[key])} 列"
                            f"都表示{HEADERS[key][0]}：请删除其中一列")
        else:
            columns[key] = col
    for key in REQUIRED:
        if key not in columns:
            spellings = "、".join(HEADERS[key][:2])
            problems.append(f"{name} 第 {row} 行（表头）缺少“{HEADERS[key][0]}”列：请在表头加上该列（可写作 {spellings}）")
    return columns, problems


def _read_rows(path: Path) -> list[list[object]]:
    try:
        if path.suffix.lower() in SPREADSHEET_SUFFIXES:
            from python_calamine import CalamineWorkbook, SheetVisibleEnum

            book = CalamineWorkbook.from_path(str(path))
            # The first visible sheet: a roster exported from a system may carry hidden helpers.
            sheet = next((s for s in book.sheets_metadata if s.visible == SheetVisibleEnum.Visible),
                         book.sheets_metadata[0])
            return [list(r) for r in book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)]
        return [list(r) for r in csv.reader(io.StringIO(_decode(path.read_bytes()), newline=""))]
    except (OSError, ValueError, csv.Error, IndexError) as exc:
        raise RosterError([f"{path.name}：无法读取单位名单（{type(exc).__name__}: {exc}）：请另存为 .xlsx 或 UTF-8 编码的 .csv"]) from None
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for damaged files
        raise RosterError([f"{path.name}：无法读取单位名单（{type(exc).__name__}）：请另存为 .xlsx 或 UTF-8 编码的 .csv"]) from None


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves "CSV" in GBK; a UTF-8 file may start with a BOM.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def one_line_contacts(text: str) -> str:
    """A 联系人 cell as one line: its lines (Alt+Enter) joined by "、", control characters dropped."""
    lines = (_CONTROL.sub("", line).strip() for line in text.splitlines())
    return CONTACTS_JOINED_BY.join(line for line in lines if line)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number comes back as 1001.0
    return str(value).strip()


def _code(text: str) -> str:
    return "".join(text.split())


def _col(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
