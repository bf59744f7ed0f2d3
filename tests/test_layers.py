"""Imports point down the package layers, and no module imports itself round a cycle.

Every ``import`` of every module under xlperf/ counts: at module level, inside functions, under
``if TYPE_CHECKING:``, relative ones (resolved against the module's package). The layers, bottom
to top (a package may import its own modules and any package of a lower rank):

====  ===================================  ==================================================
rank  packages                             job
====  ===================================  ==================================================
0     findings, workers                    what a check finds; the catalogue of codes; worker
                                           processes that run a work on files under per-file
                                           limits (below everything: they import nothing of
                                           xlperf, so any work can run in them)
1     form                                 form specs, layout, rules, formulas, meta sheet
2     excel                                writing workbooks (templates, signed templates)
3     read                                 reading returns back (guard, readers, roster)
4     model                                what a return holds (values, indicators, projects,
                                           declarations, placement)
5     checks                               the checks and the checker
6     report, rollup, mail, cycle          what is done with checked returns
7     ledger                               collection rounds: files, checks, decisions, events
8     intake                               files from folders, uploads and the mailbox
9     web                                  the web desk for finance staff
10    cli                                  the commands (``xlperf.__main__`` belongs here)
====  ===================================  ==================================================

Packages of rank 6 may not import each other, except :data:`SIDEWAYS`: mail sends the reports
that report wrote, and reads them back with report's names (file suffix, status colours).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import xlperf

RANKS: dict[str, int] = {
    "findings": 0, "workers": 0, "form": 1, "excel": 2, "read": 3, "model": 4, "checks": 5,
    "report": 6, "rollup": 6, "mail": 6, "cycle": 6,
    "ledger": 7, "intake": 8, "web": 9, "cli": 10,
}
SIDEWAYS = {("mail", "report")}
"""(importer, imported) pairs of the same rank that are allowed."""
TOP_LEVEL = {"xlperf": ("xlperf", -1), "xlperf.__main__": ("cli", RANKS["cli"])}
"""Modules outside any package, with their layer and rank: the package's own __init__ (only a
version string: below everything) and ``python -m xlperf`` (the command line)."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module (dotted)."""
    target: str
    """The imported module (dotted), resolved to the deepest module that exists."""
    file: Path
    line: int
    text: str
    """The import statement as written."""

    def where(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every .py file under ``root`` (the package's folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([package, *parts])] = path
    return out


def imports_of(module: str, path: Path, modules: Mapping[str, Path], package: str) -> Iterator[Import]:
    """Every import of ``package``'s modules in ``path`` (anywhere in the file)."""
    source = path.read_text(encoding="utf-8")
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(source, str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            # ``from a.b import c`` imports the module a.b.c when there is one, else names of a.b.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        text = ast.get_source_segment(source, node) or ""
        for target in dict.fromkeys(targets):
            if target != package and not target.startswith(package + "."):
                continue
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]  # import a.b.name: the module a.b
            yield Import(module, target, path, node.lineno, " ".join(text.split()))


def rank_of(module: str, package: str, ranks: Mapping[str, int],
            top: Mapping[str, tuple[str, int]]) -> tuple[str, int]:
    """(layer name, rank) of a module."""
    if module in top:
        return top[module]
    layer = module.split(".")[1]
    if layer not in ranks:
        raise AssertionError(f"{module}: package {layer!r} has no rank in the layer table")
    return layer, ranks[layer]


def find_violations(root: Path, package: str, ranks: Mapping[str, int] = RANKS,
                    sideways: set[tuple[str, str]] = SIDEWAYS,
                    top: Mapping[str, tuple[str, int]] | None = None) -> list[str]:
    """Upward and sideways imports, and import cycles, of the package at ``root``: one message each."""
    top = TOP_LEVEL if top is None else top
    modules = module_files(root, package)
    edges: dict[str, list[Import]] = {m: [] for m in modules}
    problems = []
    for module, path in modules.items():
        layer, rank = rank_of(module, package, ranks, top)
        for imp in imports_of(module, path, modules, package):
            if imp.target == module:
                continue
            edges[module].append(imp)
            their_layer, their_rank = rank_of(imp.target, package, ranks, top)
            if their_layer == layer:
                continue
            if their_rank > rank:
                problems.append(f"{imp.where()}  -- {layer} (rank {rank}) imports {their_layer} "
                                f"(rank {their_rank}): imports must point down the layers")
            elif their_rank == rank and (layer, their_layer) not in sideways:
                problems.append(f"{imp.where()}  -- {layer} imports {their_layer}, of the same rank {rank}")
    problems += ["import cycle: " + "  ->  ".join(cycle) for cycle in _cycles(edges)]
    return problems


def _cycles(edges: Mapping[str, list[Import]]) -> list[list[str]]:
    """One import cycle (as 'file:line: import' steps) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for imp in edges[v]:
            w = imp.target
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in edges:
        if v not in index:
            visit(v)
    out = []
    for group in groups:
        start = min(group)
        path, seen, here = [], {start}, start
        while True:  # follow edges inside the group until a module repeats: a cycle
            imp = next(i for i in edges[here] if i.target in group)
            path.append(imp.where())
            here = imp.target
            if here in seen:
                break
            seen.add(here)
        out.append(path)
    return out


# -- the tests ----------------------------------------------------------------------------------


def test_imports_point_down_and_form_no_cycle() -> None:
    root = Path(xlperf.__file__).parent
    problems = find_violations(root, "xlperf")
    assert not problems, "layer violations:\n" + "\n".join(problems)


def test_every_package_has_a_rank() -> None:
    root = Path(xlperf.__file__).parent
    packages = {p.parent.name for p in root.glob("*/__init__.py")}
    assert packages and packages <= set(RANKS), packages - set(RANKS)


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


RANKS_ABC = {"low": 0, "mid": 1, "high": 2}
ROOT = {"pkg": ("pkg", -1)}


def test_a_planted_upward_import_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/values.py": "def f():\n    from pkg.high.cmd import main  # hidden in a function\n    return main\n",
        "mid/__init__.py": "",
        "mid/ok.py": "from pkg.low.values import f\n",
        "high/__init__.py": "",
        "high/cmd.py": "from pkg.mid import ok\n\ndef main():\n    return ok\n",
    })
    problems = find_violations(root, "pkg", RANKS_ABC, set(), ROOT)
    upward = [p for p in problems if "must point down" in p]
    assert len(upward) == 1, problems
    assert f"{root / 'low' / 'values.py'}:2: from pkg.high.cmd import main" in upward[0]
    assert "low (rank 0) imports high (rank 2)" in upward[0]
    # The same import also closes a cycle low -> high -> mid -> low.
    assert any(p.startswith("import cycle:") and "values.py" in p for p in problems), problems


def test_type_checking_and_relative_imports_count(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..mid import b\n",
        "low/c.py": "from . import a\n",
        "mid/__init__.py": "",
        "mid/b.py": "from ..low.c import *\n",
    })
    problems = find_violations(root, "pkg", RANKS_ABC, set(), ROOT)
    assert any("low/a.py:3: from ..mid import b" in p and "must point down" in p for p in problems), problems
    assert not any("low/c.py" in p and "must point down" in p for p in problems)
    assert any(p.startswith("import cycle:") for p in problems), problems


def test_a_clean_tree_passes_and_sideways_needs_leave(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "import os\n",
        "mid/__init__.py": "from pkg.low import a\n",
        "high/__init__.py": "import pkg.mid\n",
        "side/__init__.py": "import pkg.high\n",
    })
    ranks = {**RANKS_ABC, "side": 2}
    assert find_violations(root, "pkg", {**RANKS_ABC, "side": 3}, set(), ROOT) == []
    same = find_violations(root, "pkg", ranks, set(), ROOT)
    assert len(same) == 1 and "side imports high, of the same rank 2" in same[0]
    assert find_violations(root, "pkg", ranks, {("side", "high")}, ROOT) == []


def test_every_folder_of_modules_is_a_package_a_wheel_carries() -> None:
    """``packages = find:`` (setup.cfg) skips a folder without ``__init__.py``: the editable
    install would still import it, an installed wheel would not."""
    root = Path(__file__).resolve().parent.parent / "xlperf"
    folders = {p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").exists()) == []
