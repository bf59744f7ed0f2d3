"""The signing key of template signatures (:mod:`xlperf.form.signature`): where it comes from,
how it is checked, its fingerprint.

The key: ``--key-file`` on the command line, else ``XLPERF_SIGNING_KEY`` (the secret itself),
else ``XLPERF_KEY_FILE`` (a file holding it). ``python -m xlperf.form.signature`` prints a new random
key. Without a key nothing is signed, and ``check`` notes that signatures were not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "FROM_ENV", "KEY_ENV", "KEY_FILE_ENV", "UNVERIFIED_NOTE", "SigningKeyError", "generate_key",
    "key_from_env", "key_id", "load_key",
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
        raise SigningKeyError(f"{where}是空的：请写入签名密钥（可用 python -m xlperf.form.signature 生成）")
    if len(secret) < MIN_KEY_BYTES:
        raise SigningKeyError(f"{where}太短（{len(secret)} 字节，至少 {MIN_KEY_BYTES} 字节）："
                              "请使用 python -m xlperf.form.signature 生成的密钥")
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


def key_from_env() -> bytes | None:
    """:func:`load_key` from the environment only."""
    return load_key(None)


def key_id(key: bytes) -> str:
    """A short fingerprint of a key (an HMAC of a fixed text: it reveals nothing of the key)."""
    return hmac.new(key, b"xlperf signing key id", hashlib.sha256).hexdigest()[:12]
