"""The files a batch is given: the returns to check, and every other file with why it is not one.

Folders are searched recursively. A file named on the command line is always a return to check
(the guard then says what it really is). A file found in a folder is checked when its name ends
like a spreadsheet; any other file found there (a Word report sent with the return, a zip of
returns, Excel's ``~$`` lock file) is not checked but is listed with the reason, so that no input
disappears without a word and the clerk sees what to ask the unit for. That includes entries that
are no file at all: a broken symbolic link, a FIFO, a socket or a device (never opened: reading a
FIFO blocks forever).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = ["SPREADSHEET_SUFFIXES", "Inputs", "find_inputs", "find_returns", "not_a_file", "not_a_return"]

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

_KINDS = (
    ((".zip", ".rar", ".7z", ".gz", ".tar", ".tgz"), "压缩包，未解压审核：请解压后把其中的报表放入收件箱再审核"),
    ((".et", ".ett"), "WPS 表格专有格式（.et），无法审核：请让单位在 WPS 中另存为 .xlsx 后重新报送"),
    ((".doc", ".docx", ".wps", ".wpt", ".rtf"), "Word/WPS 文字文档，不是报表，未审核（如是附送的说明材料，可另行查阅）"),
    ((".pdf", ".ofd"), "PDF/OFD 文件，不是可审核的电子表格：如是报表的扫描件或打印件，请让单位另报 .xlsx 文件"),
    ((".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff"), "图片，不是可审核的电子表格"),
    ((".csv", ".txt"), "文本文件，不是下发的报表模板，未审核"),
)


class Inputs(NamedTuple):
    returns: list[Path]
    """Files to check: named files as given, each folder's spreadsheets sorted; no repeats."""
    others: list[tuple[Path, str]]
    """Files found in folders that are not checked, each with the reason (Chinese), sorted."""
    stats: dict[Path, os.stat_result]
    """The stat of every regular file found in a folder and of every file named, taken once
    while listing (a folder of ten thousand files is listed in one pass: callers need not ask
    again)."""


def find_inputs(paths: Iterable[Path]) -> Inputs:
    """Every file of ``paths``: named files and spreadsheets found in folders to check, the rest listed."""
    returns: list[Path] = []
    others: list[tuple[Path, str]] = []
    stats: dict[Path, os.stat_result] = {}
    for path in paths:
        try:
            named = path.stat()
        except OSError:
            named = None
        if named is None or not stat.S_ISDIR(named.st_mode):
            returns.append(path)  # named on the command line: the guard says what it is
            if named is not None:
                stats[path] = named
            continue
        for found, status in sorted(_walk(path), key=lambda item: item[0]):
            reason = status if isinstance(status, str) else not_a_return(found)
            if not isinstance(status, str):
                stats[found] = status
            if reason is None:
                returns.append(found)
            else:
                others.append((found, reason))
    unique = list(dict.fromkeys(returns))
    checked = set(unique)
    return Inputs(unique, list(dict.fromkeys((p, r) for p, r in others if p not in checked)), stats)


def _walk(folder: Path) -> Iterable[tuple[Path, os.stat_result | str]]:
    """Every entry below ``folder`` that is no directory, with its stat (one call per entry), or
    why it is no regular file (:func:`not_a_file`). Like :meth:`Path.rglob`, a link to a
    folder is not followed and a folder that cannot be read is passed over."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.is_symlink():
                yield from _walk(Path(entry.path))
            continue
        path = Path(entry.path)
        try:
            status = entry.stat()
        except OSError as exc:
            yield path, not_a_file(exc)
            continue
        yield path, status if stat.S_ISREG(status.st_mode) else not_a_file(status.st_mode)


def find_returns(paths: Iterable[Path]) -> list[Path]:
    """:attr:`Inputs.returns` of :func:`find_inputs`: what a batch checks."""
    return find_inputs(paths).returns


def not_a_file(why: int | OSError) -> str:
    """Why a directory entry is no regular file (never opened): its mode, or the error of its stat."""
    if isinstance(why, FileNotFoundError):
        return "失效的快捷方式（符号链接指向的文件不存在），未审核：请让单位重新报送该文件"
    if isinstance(why, OSError):
        return f"无法访问（{why.strerror or why}），未审核：请检查该文件的权限"
    kind = "命名管道（FIFO）" if stat.S_ISFIFO(why) else "套接字" if stat.S_ISSOCK(why) else "设备文件"
    return f"不是普通文件（{kind}），未读取、未审核"


def not_a_return(path: Path) -> str | None:
    """Why a file found in a folder is not checked as a return; None when it is checked."""
    suffix = path.suffix.lower()
    if path.name.startswith("~$"):
        return "Excel/WPS 打开文件时生成的临时锁定文件，不是报表，未审核"
    if suffix in SPREADSHEET_SUFFIXES:
        return None
    for suffixes, reason in _KINDS:
        if suffix in suffixes:
            return reason
    shown = suffix or "（无扩展名）"
    return f"不是电子表格（扩展名 {shown}），未审核：如是报表，请让单位用下发的 .xlsx 模板填报后重新报送"
