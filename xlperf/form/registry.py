"""The forms xlperf knows: the specs shipped in the package plus a bureau's forms folders.

A bureau adds its own specs by folder: ``XLPERF_FORMS`` (one folder, or several joined by
``os.pathsep``) and the top-level option ``xlperf --forms DIR`` (its folders come before those
of the variable). Every ``*.yaml`` / ``*.yml`` file there is a spec. A bureau's spec with the id of
a built-in one replaces it (:attr:`Known.replaces` says which); of two bureau specs with one id,
the one found first (folder order, then file name) is used and the other is reported. A spec that
does not load is a :class:`Problem` (file, line, key, message) and the other forms still work.

Every lookup of a form by id (:func:`builtin_forms`, :func:`builtin_layout`, :func:`get_form`,
:func:`form_title`; the names are the ones callers have always used, the forms are now the built-in
ones and the bureau's) goes through here, so one setting reaches every command. Worker processes
see the same forms as their parent: :func:`setting` is what this process read (the bureau's spec
texts, not folder names, so a fork server started earlier, a spawned process or a Dask host on
another machine needs no files and no environment), and :func:`adopt` makes a worker use it.

A round of the ledger keeps the text of its spec; while its files are checked, :func:`pinned`
makes that spec the one its form id means (in this thread only), whatever the folders hold.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from xlperf.form.layout import FormLayout
from xlperf.form.placing import layout_form
from xlperf.form.spec import FormSpec
from xlperf.form.specload import FORMS_DIR, load_spec_text
from xlperf.form.yamlsrc import SpecError
from xlperf.workers.pool import hand_over

__all__ = ["BUILTIN", "FORMS_ENV", "Known", "Problem", "Setting", "adopt", "builtin_forms", "builtin_layout",
           "folders_from_env", "folders_to_environment", "forms_folders", "form_title", "get_form", "known", "known_forms", "pinned", "problems",
           "setting", "spec_digest", "spec_of_text", "use_folders"]

FORMS_ENV = "XLPERF_FORMS"
BUILTIN_PRELOAD = "xlperf.form.builtinpreload"
"""The module a fork server of checking workers imports to load the built-in forms once (by name:
importing it here would load them in every process that only names it)."""
BUILTIN = "内置"
"""The source shown for a spec shipped in the package."""
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    """A bureau's spec (or folder) that could not be used: where and why, in Chinese."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}" if self.line else f"{self.file}: {self.key}: {self.message}"


@dataclass(frozen=True)
class Setting:
    """The bureau's forms as this process read them: ``(path, text)`` of every spec file of the
    folders in order, and what could not be read. Small and picklable: handed to workers."""

    texts: tuple[tuple[str, str], ...] = ()
    unreadable: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Known:
    """A form xlperf knows, with where its spec comes from."""

    spec: FormSpec
    text: str
    """The spec file's text (what a round stores)."""
    source: str
    """:data:`BUILTIN` or the bureau's file."""
    replaces: str = ""
    """The built-in form this one replaces, as people know it ("" when none)."""

    @cached_property
    def digest(self) -> str:
        """:func:`spec_digest` of the text, hashed once: every return checked asks for its layout by it."""
        return spec_digest(self.text)


@dataclass(frozen=True)
class _Registry:
    forms: dict[str, Known]
    specs: dict[str, FormSpec]
    problems: tuple[Problem, ...]


def spec_digest(text: str) -> str:
    """SHA-256 of a spec's text (UTF-8): what the ledger stores beside a round's spec."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folders_from_env(value: str | None = None) -> tuple[Path, ...]:
    raw = os.environ.get(FORMS_ENV, "") if value is None else value
    return tuple(Path(part) for part in raw.split(os.pathsep) if part.strip())


_chosen: tuple[Path, ...] = ()
"""Folders given on the command line (``--forms``), before those of the environment."""
_adopted: Setting | None = None
_pinned: ContextVar[Known | None] = ContextVar("xlperf_pinned_form", default=None)


def use_folders(folders: Sequence[Path]) -> None:
    """Folders named on the command line (``xlperf --forms``): searched before ``XLPERF_FORMS``."""
    global _chosen, _adopted
    _chosen, _adopted = tuple(Path(f) for f in folders), None


def folders_to_environment() -> None:
    """Put the folders of ``--forms`` into ``XLPERF_FORMS`` too, for processes started from here
    that read the environment (``xlperf serve --workers N``: uvicorn's own worker processes)."""
    folders = _folders()
    if folders:
        os.environ[FORMS_ENV] = os.pathsep.join(str(f) for f in folders)


def adopt(given: Setting) -> None:
    """Use the forms of ``given`` (a parent's :func:`setting`) instead of reading folders."""
    global _adopted
    _adopted = given


def setting() -> Setting:
    """The bureau's forms of this process (read from the folders once per set of folders)."""
    if _adopted is not None:
        return _adopted
    return _read(_folders())


def _folders() -> tuple[Path, ...]:
    return tuple(dict.fromkeys((*_chosen, *folders_from_env())))  # a folder named twice is read once


def forms_folders() -> tuple[Path, ...]:
    """The forms folders in use: ``--forms``, then ``XLPERF_FORMS`` (what a service must be given)."""
    return _folders()


@lru_cache(maxsize=8)
def _read(folders: tuple[Path, ...]) -> Setting:
    texts: list[tuple[str, str]] = []
    unreadable: list[Problem] = []
    for folder in folders:
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SPEC_SUFFIXES and p.is_file())
        except OSError as exc:
            unreadable.append(Problem(str(folder), 0, FORMS_ENV, f"表单文件夹无法读取：{exc.strerror or exc}"))
            continue
        for path in files:
            try:
                texts.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                unreadable.append(Problem(str(path), 0, "file", f"表单规格无法读取（应为 UTF-8 文本）：{exc}"))
    return Setting(tuple(texts), tuple(unreadable))


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Known]:
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        spec = load_spec_text(text, path)
        forms[spec.form_id] = Known(spec, text, BUILTIN)
    return forms


@lru_cache(maxsize=8)
def _registry(given: Setting) -> _Registry:
    forms = dict(_builtin())
    problems = list(given.unreadable)
    bureau: dict[str, str] = {}
    for name, text in given.texts:
        try:
            spec = load_spec_text(text, Path(name))
        except SpecError as exc:
            where = exc.where
            problems.append(Problem(name, where.line if where else 0, exc.key, exc.message))
            continue
        if spec.form_id in bureau:
            problems.append(Problem(name, 1, "form", f"表单编号“{spec.form_id}”与 {bureau[spec.form_id]} 重复：本文件未使用"))
            continue
        bureau[spec.form_id] = name
        old = forms.get(spec.form_id)
        forms[spec.form_id] = Known(spec, text, name, replaces=f"“{old.spec.title}”（版本 {old.spec.version}）" if old else "")
    return _Registry(forms, {k: v.spec for k, v in forms.items()}, tuple(problems))


def _current() -> _Registry:
    return _registry(setting())


def known_forms() -> dict[str, Known]:
    """Every form by id, with its source (a pinned round's spec in its place)."""
    forms = _current().forms
    pin = _pinned.get()
    return forms if pin is None else {**forms, pin.spec.form_id: pin}


def known(form_id: str) -> Known:
    """The form ``form_id`` with its source and text; KeyError when xlperf does not know it."""
    return known_forms()[form_id]


def problems() -> tuple[Problem, ...]:
    """The bureau's specs and folders that could not be used."""
    return _current().problems


def builtin_forms() -> dict[str, FormSpec]:
    """The forms xlperf knows, by form id: the built-in specs and the bureau's (see above)."""
    specs = _current().specs
    pin = _pinned.get()
    return specs if pin is None else {**specs, pin.spec.form_id: pin.spec}


def get_form(form_id: str) -> FormSpec:
    forms = builtin_forms()
    if form_id not in forms:
        raise KeyError(form_id)
    return forms[form_id]


def form_title(form_id: str | None) -> str:
    """A form as people know it: its title ("—" for none; an unknown id as it is). Ids stay in JSON."""
    if not form_id:
        return "—"
    forms = builtin_forms()
    return forms[form_id].title if form_id in forms else form_id


def builtin_layout(form_id: str) -> FormLayout:
    """The layout of the form ``form_id`` means here now (KeyError for an unknown id)."""
    pin = _pinned.get()
    form = pin if pin is not None and pin.spec.form_id == form_id else _current().forms[form_id]
    layout = _layouts.get(form.digest)
    if layout is None:
        layout = _layouts[form.digest] = layout_form(form.spec)
    return layout


_layouts: dict[str, FormLayout] = {}
"""Layouts by spec digest: a spec's layout depends on its text alone."""


def spec_of_text(text: str, name: str = "spec.yaml", source: str = "") -> Known:
    """A spec from its text (a round's stored spec); SpecError naming ``name``, line and key."""
    return _spec_of_text(text, name, source or name)


@lru_cache(maxsize=32)
def _spec_of_text(text: str, name: str, source: str) -> Known:
    return Known(load_spec_text(text, Path(name)), text, source)


@contextmanager
def pinned(form: Known | None) -> Iterator[None]:
    """Within this block (this thread or task), ``form``'s id means ``form`` (None: no change)."""
    token = _pinned.set(form) if form is not None else None
    try:
        yield
    finally:
        if token is not None:
            _pinned.reset(token)


# Every worker process checks with this process's forms: handed over, not inherited (a fork
# server started before --forms or XLPERF_FORMS took effect would have others).
hand_over(setting, adopt)
