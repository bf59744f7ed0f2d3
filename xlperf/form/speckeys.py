"""Keys of a form spec while it is built: each defined once, every reference resolved."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xlperf.form.levels import FRAMEWORKS
from xlperf.form.yamlsrc import MappingReader, Node, SpecError, Where

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecKeys:
    """The keys, references and choice lists of the form being built; ``prefix`` is the key
    prefix of the repeated sheet being built (``p1_`` …), empty elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.choices: dict[str, tuple[str, ...]] = {}
        self.keys: dict[str, Where] = {}
        self.references: list[tuple[str, Where, str]] = []
        self.prefix = ""
        self.tables: dict[str, Any] = {}
        """Table sections built so far, by key: a grid's calc may sum a column of one above it."""
        self.roles: dict[tuple[str, str], str] = {}
        """(role, sheet prefix) → the key that has it (a role is given once per sheet copy)."""

    def define(self, key: str, where: Where) -> str:
        if not KEY_RE.match(key):
            raise SpecError(where, key, "键只能用小写字母、数字和下划线，并以字母开头")
        full = self.prefix + key
        if full in self.keys:
            raise SpecError(where, key, f"键重复 (duplicate key), 已在第 {self.keys[full].line} 行定义")
        self.keys[full] = where
        return full

    def refer(self, key: str, where: Where, what: str) -> str:
        full = key if key.startswith(self.prefix) and self.prefix else self.prefix + key
        self.references.append((full, where, what))
        return full

    def choice_list(self, value: Any, reader: MappingReader, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            if value not in self.choices:
                raise reader.fail(key, f"未定义的选项表 (unknown choice list) '{value}'")
            return self.choices[value]
        if isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
            return tuple(str(v) for v in value)
        if isinstance(value, Node):
            return _levels(MappingReader(value, key, reader.where(key)))
        raise reader.fail(key, "选项应为选项表名称、非空列表或 {indicator_levels: 指标体系, level: 1 或 2}")

    def check_references(self) -> None:
        """Raise for the first reference to a key the form does not define."""
        for full, where, what in self.references:
            if full not in self.keys:
                raise SpecError(where, full, f"{what} 引用了不存在的键 (missing reference)")


def _levels(r: MappingReader) -> tuple[str, ...]:
    """A dropdown of 一级 or 二级 indicators from the one table of levels (:mod:`xlperf.form.levels`)."""
    r.only("indicator_levels", "level")
    name = r.text("indicator_levels")
    if name not in FRAMEWORKS:
        raise r.fail("indicator_levels", f"未知的指标体系 '{name}'; 可用: {', '.join(FRAMEWORKS)}")
    level = r.number("level")
    if level not in (1, 2):
        raise r.fail("level", "level 应为 1（一级指标）或 2（二级指标）")
    return FRAMEWORKS[name].names(int(level))
