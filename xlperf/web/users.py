"""Accounts of the desk in server mode: name, role, argon2id password hash.

Why argon2 (argon2-cffi): argon2id is the memory-hard hash RFC 9106 and OWASP recommend first;
``PasswordHasher`` picks the salt and parameters, encodes them in the hash and says when an old
hash should be renewed; unlike bcrypt it has no 72-byte limit on the password, which matters
for passwords typed in Chinese (three bytes a character in UTF-8).

The table lives in the ledger's database; the ledger's Alembic migrations create it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

STAFF = "staff"
AUDITOR = "auditor"
ROLES = {STAFF: "经办人员", AUDITOR: "审计（只读）"}
MIN_PASSWORD = 8

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

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


def add_user(engine: sa.Engine, name: str, role: str, password: str) -> User:
    """Create an account; its password is stored only as an argon2id hash."""
    name = name.strip()
    if not name:
        raise UserError("用户名不能为空")
    if role not in ROLES:
        raise UserError(f"未知的角色 '{role}'；可用：{', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 个字符")
    with engine.begin() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
            raise UserError(f"用户 '{name}' 已存在")
        conn.execute(users.insert().values(name=name, role=role, password_hash=_hasher.hash(password),
                                           created_at=datetime.now(timezone.utc)))
    return User(name, role)


def has_users(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(users.c.id).limit(1)).first() is not None


def authenticate(engine: sa.Engine, name: str, password: str) -> User | None:
    """The account when the password is right, else None (same time either way)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(users.c.role, users.c.password_hash)
                           .where(users.c.name == name.strip())).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(users.update().where(users.c.name == name.strip())
                         .values(password_hash=_hasher.hash(password)))
    return User(name.strip(), row.role)
