"""The signing key of template signatures (:mod:`xlperf.form.signature`): where it comes from,
how it is checked, its fingerprint.

The key: ``--key-file`` on the command line, else ``XLPERF_SIGNING_KEY`` (the secret itself),
else ``XLPERF_KEY_FILE`` (a file holding it). ``python -m xlperf.form.signkeys -o FILE`` writes a
new random key to FILE, readable by its owner only (mode 0600; shell redirection cannot set the
mode, and a key others can read lets them sign forged templates); without ``-o`` it prints the
key. Commands that read a key file warn when others can read it (:func:`key_file_exposed`).
Without a key nothing is signed, and ``check`` notes that signatures were not verified.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
import stat
import sys
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "FROM_ENV", "KEY_ENV", "KEY_FILE_ENV", "UNVERIFIED_NOTE", "SigningKeyError", "generate_key",
    "key_file_exposed", "key_file_in_use", "key_from_env", "key_id", "load_key", "write_key_file",
]

KEY_ENV = "XLPERF_SIGNING_KEY"
KEY_FILE_ENV = "XLPERF_KEY_FILE"
MIN_KEY_BYTES = 16
"""Shorter secrets are refused: a signature is only as strong as its key."""

UNVERIFIED_NOTE = (f"本报表带有财政局签名，但未配置签名密钥（环境变量 {KEY_ENV} 或 {KEY_FILE_ENV}，"
                   "或 --key-file），签名未核验")


class _FromEnv:
    def __repr__(self) -> str:
        return "FROM_ENV"

    def __reduce__(self) -> str:
        return "FROM_ENV"  # pickled by name: the same object in a worker process


FROM_ENV: Any = _FromEnv()
"""Default of ``key`` arguments: take the key from the environment (:func:`key_from_env`)."""


class SigningKeyError(ValueError):
    """A configured key that cannot be used; the message is Chinese and says what to do."""



def generate_key() -> str:
    """A new random key (64 hex digits) for a key file or ``XLPERF_SIGNING_KEY``."""
    return secrets.token_hex(32)


def _checked(secret: bytes, where: str) -> bytes:
    secret = secret.strip()
    if not secret:
        raise SigningKeyError(f"{where}是空的：请写入签名密钥（可用 python -m xlperf.form.signkeys -o 密钥文件 生成）")
    if len(secret) < MIN_KEY_BYTES:
        raise SigningKeyError(f"{where}太短（{len(secret)} 字节，至少 {MIN_KEY_BYTES} 字节）："
                              "请使用 python -m xlperf.form.signkeys 生成的密钥")
    return secret


@lru_cache(maxsize=8)
def _read_key_file(path: str, mtime_ns: int) -> bytes:
    # Cached by modification time: a batch checks thousands of returns with one key.
    return _checked(Path(path).read_bytes(), f"密钥文件“{path}”")


def load_key(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The signing key: ``key_file``, else ``XLPERF_SIGNING_KEY``, else ``XLPERF_KEY_FILE``; or None.

    Raises :class:`SigningKeyError` for a configured key that cannot be used (missing file,
    empty or short key): a misconfigured key must not silently turn verification off."""
    env = os.environ if environ is None else environ
    if key_file is None:
        secret = env.get(KEY_ENV)
        if secret is not None and secret.strip():
            return _checked(secret.encode("utf-8"), f"环境变量 {KEY_ENV}")
        named = env.get(KEY_FILE_ENV, "").strip()
        if not named:
            return None
        key_file = Path(named)
    try:
        return _read_key_file(str(key_file), key_file.stat().st_mtime_ns)
    except OSError as exc:
        raise SigningKeyError(f"无法读取密钥文件“{key_file}”（{exc.strerror or exc}）：请检查路径和权限") from None


def write_key_file(path: Path) -> None:
    """Write a new key to ``path``, created readable and writable by its owner only (0600).

    An existing file is never overwritten: replacing the key would invalidate every template
    signed with it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(generate_key() + "\n")
    os.chmod(path, 0o600)  # whatever the umask left


def key_file_in_use(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The key file :func:`load_key` reads (``key_file``, else ``XLPERF_KEY_FILE`` when
    ``XLPERF_SIGNING_KEY`` is not set), or None."""
    if key_file is not None:
        return key_file
    env = os.environ if environ is None else environ
    if (env.get(KEY_ENV) or "").strip():
        return None
    named = env.get(KEY_FILE_ENV, "").strip()
    return Path(named) if named else None


def key_file_exposed(path: Path) -> str | None:
    """The permissions of ``path`` (as ``0644``) when users other than its owner may read or
    write it; None when they may not, or where file modes do not say (Windows)."""
    if os.name == "nt":
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return f"{mode:04o}" if mode & 0o077 else None


def key_from_env() -> bytes | None:
    """:func:`load_key` from the environment only."""
    return load_key(None)


def key_id(key: bytes) -> str:
    """A short fingerprint of a key (an HMAC of a fixed text: it reveals nothing of the key)."""
    return hmac.new(key, b"xlperf signing key id", hashlib.sha256).hexdigest()[:12]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m xlperf.form.signkeys [-o FILE]``: a new key, to FILE (mode 0600) or printed."""
    parser = argparse.ArgumentParser(prog="python -m xlperf.form.signkeys",
                                     description="生成新的签名密钥（随机 64 位十六进制）。")
    parser.add_argument("-o", "--output", type=Path,
                        help="写入该文件，权限为 0600（仅本人可读写）；不覆盖已有文件。"
                             "不用 -o 时打印到标准输出（用 > 重定向得到的文件其他用户也可能读取）")
    args = parser.parse_args(argv)
    if args.output is None:
        print(generate_key())
        return 0
    try:
        write_key_file(args.output)
    except FileExistsError:
        print(f"密钥文件“{args.output}”已存在，未覆盖（更换密钥会使已签发的模板全部无法核验）", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"无法写入密钥文件“{args.output}”：{exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"已生成签名密钥：{args.output}（权限 0600，仅本人可读写，请妥善保管）", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
