"""Accounts of the desk in server mode: name, role, argon2id password hash.

Why argon2 (argon2-cffi): argon2id is the memory-hard hash RFC 9106 and OWASP recommend first;
``PasswordHasher`` picks the salt and parameters, encodes them in the hash and says when an old
hash should be renewed; unlike bcrypt it has no 72-byte limit on the password, which matters
for passwords typed in Chinese (three bytes a character in UTF-8).

The accounts are rows of the ledger's ``users`` table (:class:`xlperf.ledger.Account`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xlperf.ledger import Account, DeskSession, Ledger
from xlperf.ledger.accounts import audit, end_sessions_of

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
    id: int | None = None
    """The account's row (None in local mode, which has no accounts)."""

    @property
    def can_act(self) -> bool:
        return self.role == STAFF

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


@dataclass(frozen=True)
class AccountInfo:
    """One line of ``xlperf user list``."""

    name: str
    role_label: str
    disabled: bool
    created_at: dt.datetime
    sessions: int
    """Live sessions (signed-in browsers) now."""


def add_user(ledger: Ledger, name: str, role: str, password: str, actor: str = "") -> User:
    """Create an account; its password is stored only as an argon2id hash."""
    name = name.strip()
    if not name:
        raise UserError("用户名不能为空")
    if role not in ROLES:
        raise UserError(f"未知的角色 '{role}'；可用：{', '.join(ROLES)}")
    _check_password(password)
    with ledger.session() as session, session.begin():
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            raise UserError(f"用户 '{name}' 已存在")
        account = Account(name=name, role=role, password_hash=_hasher.hash(password))
        session.add(account)
        audit(session, "user_added", name, actor=actor, note=ROLES[role])
        session.flush()
        return User(name, role, account.id)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 个字符")


def _account(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name.strip()))
    if account is None:
        known = session.scalars(select(Account.name).order_by(Account.id)).all()
        raise UserError(f"没有名为 '{name}' 的账户" + (f"（已有：{'、'.join(known)}）" if known else "（还没有任何账户）"))
    return account


def list_users(ledger: Ledger) -> list[AccountInfo]:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    live = (select(DeskSession.user_id, func.count().label("n")).where(DeskSession.expires_at > now)
            .group_by(DeskSession.user_id).subquery())
    with ledger.session() as session:
        rows = session.execute(select(Account, live.c.n).outerjoin(live, live.c.user_id == Account.id)
                               .order_by(Account.id)).all()
    return [AccountInfo(a.name, ROLES.get(a.role, a.role), a.disabled, a.created_at, int(n or 0)) for a, n in rows]


def remove_user(ledger: Ledger, name: str, actor: str = "") -> int:
    """Delete an account; its sessions end with it. How many sessions ended."""
    with ledger.session() as session, session.begin():
        account = _account(session, name)
        ended = end_sessions_of(session, account.id)
        session.delete(account)
        audit(session, "user_removed", account.name, actor=actor, note=_ended(ended))
    return ended


def set_password(ledger: Ledger, name: str, password: str, actor: str = "", keep_token: str | None = None) -> int:
    """A new password; every session of the account ends (but ``keep_token``'s: the browser that
    changed it). How many ended."""
    _check_password(password)
    with ledger.session() as session, session.begin():
        account = _account(session, name)
        account.password_hash = _hasher.hash(password)
        ended = end_sessions_of(session, account.id, keep_token)
        audit(session, "password_changed", account.name, actor=actor, note=_ended(ended))
    return ended


def set_disabled(ledger: Ledger, name: str, disabled: bool, actor: str = "") -> int:
    """Disable an account (it cannot sign in; its sessions end) or enable it again. Sessions ended."""
    with ledger.session() as session, session.begin():
        account = _account(session, name)
        account.disabled = disabled
        ended = end_sessions_of(session, account.id) if disabled else 0
        audit(session, "user_disabled" if disabled else "user_enabled", account.name, actor=actor,
              note=_ended(ended) if disabled else "")
    return ended


def _ended(count: int) -> str:
    return f"结束 {count} 个登录会话" if count else ""


def has_users(ledger: Ledger) -> bool:
    with ledger.session() as session:
        return session.scalar(select(Account.id).limit(1)) is not None


def authenticate(ledger: Ledger, name: str, password: str, address: str = "") -> User | None:
    """The account when the password is right and the account is not disabled, else None (same
    time either way). A failure is written to the audit log; a success is logged when its
    session starts (:func:`xlperf.web.session.sign_in`)."""
    name = name.strip()
    with ledger.session() as session, session.begin():
        account = session.scalar(select(Account).where(Account.name == name))
        try:
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            account_known = account is not None
            audit(session, "sign_in_failed", name[:200], actor=name[:200], address=address,
                  note="密码不正确" if account_known else "无此账户")
            return None
        if account is None:
            return None
        if account.disabled:
            audit(session, "sign_in_failed", name, actor=name, address=address, note="账户已停用")
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        return User(account.name, account.role, account.id)
