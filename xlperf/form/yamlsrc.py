"""Load YAML keeping the file and line of every mapping, so spec errors can point at them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Where:
    """A place in a spec file (1-based line)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class SpecError(Exception):
    """A form spec that cannot be compiled; names the file, line and key."""

    def __init__(self, where: Where | None, key: str, message: str) -> None:
        self.where = where
        self.key = key
        self.message = message
        place = f"{where}: " if where else ""
        super().__init__(f"{place}{key}: {message}")


class Node(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys stand."""

    where: Where
    key_lines: dict[str, int]

    def at(self, key: str) -> Where:
        return Where(self.where.file, self.key_lines.get(key, self.where.line))


# libyaml's parser when PyYAML was built with it (the wheels are): the same safe constructor and
# resolver on nodes with the same marks, ~10 times faster than the pure-Python parser. Every
# command that meets a form loads the four built-in specs first (a round's roll-up from the
# ledger spent more time there than in building its tables).
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    source_name = "<spec>"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> Node:
    # Plain PyYAML lets a repeated key silently win; a spec must say so instead.
    result = Node()
    result.where = Where(loader.source_name, node.start_mark.line + 1)
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in result:
            raise SpecError(Where(loader.source_name, line), key, "该键在同一层重复出现 (duplicate key)")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file into Nodes (dicts with lines), lists and scalars."""
    return load_yaml_text(path.read_text(encoding="utf-8"), path)


def load_yaml_text(text: str, path: Path) -> Any:
    """Parse YAML ``text`` (read from ``path``, or kept from it: a round's stored spec) like
    :func:`load_yaml`; errors name ``path``'s file name."""
    loader = _LineLoader(text)
    loader.source_name = path.name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = Where(path.name, mark.line + 1) if mark else Where(path.name, 0)
        raise SpecError(where, "yaml", f"YAML 语法错误: {exc.problem}") from None
    finally:
        loader.dispose()


class MappingReader:
    """Reads one YAML mapping, refusing keys it does not know (typos must not pass silently)."""

    def __init__(self, node: Any, what: str, where: Where) -> None:
        if not isinstance(node, Node):
            raise SpecError(where, what, "应为映射 (expected a mapping)")
        self.node = node
        self.what = what

    def where(self, key: str | None = None) -> Where:
        return self.node.at(key) if key else self.node.where

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(self.where(key), key, message)

    def get(self, key: str, default: Any = None) -> Any:
        return self.node.get(key, default)

    def need(self, key: str) -> Any:
        if key not in self.node:
            return_where = self.node.where
            raise SpecError(return_where, key, f"{self.what} 缺少必填项 (missing key) '{key}'")
        return self.node[key]

    def text(self, key: str, default: str | None = None) -> str:
        value = self.need(key) if default is None else self.node.get(key, default)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.fail(key, "应为文本 (expected text)")
        return value

    def number(self, key: str, default: float | None = None) -> float:
        value = self.need(key) if default is None else self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"应为数字 (expected a number), 得到 {value!r}")
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.node.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "应为 true/false")
        return value

    def only(self, *allowed: str) -> None:
        for key in self.node:
            if key not in allowed:
                raise self.fail(key, f"{self.what} 不认识的键 (unknown key); 可用: {', '.join(allowed)}")
