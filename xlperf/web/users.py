"""Accounts of the desk in server mode: name, role, argon2id password hash.

Why argon2 (argon2-cffi): argon2id is the memory-hard hash RFC 9106 and OWASP recommend first;
``PasswordHasher`` picks the salt and parameters, encodes them in the hash and says when an old
hash should be renewed; unlike bcrypt it has no 72-byte limit on the password, which matters
for passwords typed in Chinese (three bytes a character in UTF-8).

The accounts are rows of the ledger's ``users`` table (:class:`xlperf.ledger.Account`).
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from xlperf.ledger import Account, Ledger

STAFF = "staff"
AUDITOR = "auditor"
ROLES = {STAFF: "经办人员", AUDITOR: "审计（只读）"}
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verifying against this when the name is unknown takes as long as a real check, so the time
# of a failed login does not tell whether the account exists.
_DUMMY_HASH = _hasher.hash("xlperf-no-such-user")


class UserError(ValueError):
    """A user cannot be added as asked (message in Chinese, for the CLI)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role == STAFF

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


def add_user(ledger: Ledger, name: str, role: str, password: str) -> User:
    """Create an account; its password is stored only as an argon2id hash."""
    name = name.strip()
    if not name:
        raise UserError("用户名不能为空")
    if role not in ROLES:
        raise UserError(f"未知的角色 '{role}'；可用：{', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 个字符")
    with ledger.session() as session, session.begin():
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            raise UserError(f"用户 '{name}' 已存在")
        session.add(Account(name=name, role=role, password_hash=_hasher.hash(password)))
    return User(name, role)


def has_users(ledger: Ledger) -> bool:
    with ledger.session() as session:
        return session.scalar(select(Account.id).limit(1)) is not None


def authenticate(ledger: Ledger, name: str, password: str) -> User | None:
    """The account when the password is right, else None (same time either way)."""
    name = name.strip()
    with ledger.session() as session, session.begin():
        account = session.scalar(select(Account).where(Account.name == name))
        try:
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        return User(account.name, account.role)
