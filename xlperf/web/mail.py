"""Mail: preview the replies each unit would get (the round's mail built in memory, nothing sent)
and the reminders (催报) to units that have not reported or were sent back, send either, list
what the ledger recorded as sent, and settle uncertain sends (待确认: handed to the server, no
answer) as 已送达 or resend them. Sending is :func:`xlperf.ledger.mail.round_mail` and
:func:`xlperf.intake.remind.round_remind`, as ``xlperf round mail`` and ``round remind`` do it:
each message is claimed in the ledger first, so 发送 pressed twice (or on two workers) mails a
unit once; a unit is not mailed twice for the same result, nor reminded again within the set
interval. One unit's bad data is shown as that unit's failure; the page still answers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from xlperf.intake.remind import RemindRun, round_remind
from xlperf.ledger.mail import round_mail
from xlperf.ledger.models import REPLY_UNCERTAIN, Reply, Round
from xlperf.ledger.sendclaims import CONFIRM, RESEND_ONE, settle_uncertain
from xlperf.mail import (
    Clock,
    ConfigError,
    SmtpConfig,
    read_config_file,
    sender_address,
    smtp_config,
)
from xlperf.mail.outgo import SEND_LABELS, WRITTEN
from xlperf.mail.run import MailRun
from xlperf.web.auth import action
from xlperf.web.render import page
from xlperf.web.state import ledger_of, round_by_id
from xlperf.web.users import User

PREVIEW_CHARS = 1500


@dataclass(frozen=True)
class Preview:
    unit: str
    to: str
    subject: str
    text: str
    attachments: list[str]
    line: str


def _round(request: Request) -> Round:
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, int(request.path_params["round_id"]))
        session.expunge(rnd)
    return rnd


def _settings(request: Request) -> dict[str, str]:
    path = request.app.state.config.mail_config
    return read_config_file(Path(path)) if path else {}


def _preview(message: EmailMessage, unit: str, line: str) -> Preview:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    names = [part.get_filename() or "" for part in message.iter_attachments()]
    return Preview(unit, str(message["To"]), str(message["Subject"]), text[:PREVIEW_CHARS], names, line)


@dataclass
class Previews:
    replies: list[Preview]
    run: MailRun
    reminders: list[Preview]
    remind_run: RemindRun


def _previews(request: Request, rnd: Round, only_failed: bool) -> Previews:
    """What sending would send now, built in memory (nothing sent, nothing recorded)."""
    settings = _settings(request)
    sender = sender_address(request.app.state.config.mail_from, settings, dry_run=True)
    run = round_mail(ledger_of(request), rnd, sender=sender, preview=True, only_failed=only_failed)
    replies = [_preview(r.message, r.unit.name, r.line()) for r in run.results if r.message is not None]
    remind_run = round_remind(ledger_of(request), rnd, sender=sender, preview=True)
    reminders = [_preview(r.message, r.unit, r.line()) for r in remind_run.results
                 if r.action == WRITTEN and r.message is not None]
    return Previews(replies, run, reminders, remind_run)


def _sent(request: Request, rnd: Round) -> list[Reply]:
    with ledger_of(request).session() as session:
        return list(session.scalars(select(Reply).where(Reply.round_id == rnd.id).order_by(Reply.id.desc())
                                    .limit(200)))


def _uncertain(request: Request, rnd: Round) -> list[Reply]:
    """Sends staff must settle: handed to the server without an answer (all of them, however old)."""
    with ledger_of(request).session() as session:
        return list(session.scalars(select(Reply).where(Reply.round_id == rnd.id, Reply.outcome == REPLY_UNCERTAIN)
                                    .order_by(Reply.id)))


def _page(request: Request, rnd: Round, *, status_code: int = 200, p: Previews | None = None, error: str = "",
          notice: str = "", outcome: MailRun | None = None, reminded: RemindRun | None = None,
          only_failed: bool = False) -> Response:
    """The mail page: previews, or the outcome of an action, with what was sent and what is uncertain."""
    config = request.app.state.config
    return page(request, "mail.html", status_code=status_code, rnd=rnd, p=p, sent=_sent(request, rnd), error=error,
                notice=notice, outcome=outcome, reminded=reminded, only_failed=only_failed,
                smtp_configured=bool(config.smtp or config.mail_config), uncertain=_uncertain(request, rnd),
                send_labels=SEND_LABELS)


async def mail_page(request: Request) -> Response:
    rnd = _round(request)
    only_failed = request.query_params.get("only_failed") == "1"
    error = ""
    previews: Previews | None = None
    try:
        previews = await run_in_threadpool(_previews, request, rnd, only_failed)
    except ConfigError as exc:
        error = str(exc)
    return _page(request, rnd, p=previews, error=error, only_failed=only_failed)


def _smtp(request: Request) -> tuple[str, SmtpConfig]:
    settings = _settings(request)
    config = request.app.state.config
    return (sender_address(config.mail_from, settings, dry_run=False),
            smtp_config(config.smtp, None, settings, os.environ))


def _clock(request: Request) -> Clock | None:
    """The clock of the rate limit: the system's, unless the app was given one (tests)."""
    clock: Clock | None = getattr(request.app.state, "mail_clock", None)
    return clock


def _send(request: Request, rnd: Round, only_failed: bool, resend: bool, actor: str) -> MailRun:
    sender, smtp = _smtp(request)
    return round_mail(ledger_of(request), rnd, sender=sender, smtp=smtp, only_failed=only_failed, resend=resend,
                      actor=actor, clock=_clock(request))


def _remind(request: Request, rnd: Round, actor: str) -> RemindRun:
    sender, smtp = _smtp(request)
    return round_remind(ledger_of(request), rnd, sender=sender, smtp=smtp, actor=actor, clock=_clock(request))


async def send_action(request: Request, form: FormData, user: User) -> Response:
    rnd = _round(request)
    only_failed = form.get("only_failed") == "1"
    resend = form.get("resend") == "1"
    try:
        outcome = await run_in_threadpool(_send, request, rnd, only_failed, resend, user.name)
    except ConfigError as exc:
        return _page(request, rnd, status_code=409, error=f"无法发送：{exc}", only_failed=only_failed)
    return _page(request, rnd, outcome=outcome, only_failed=only_failed)


send_endpoint = action(send_action)


async def remind_action(request: Request, form: FormData, user: User) -> Response:
    rnd = _round(request)
    try:
        reminded = await run_in_threadpool(_remind, request, rnd, user.name)
    except ConfigError as exc:
        return _page(request, rnd, status_code=409, error=f"无法发送：{exc}")
    return _page(request, rnd, reminded=reminded)


remind_endpoint = action(remind_action)


async def settle_action(request: Request, form: FormData, user: User) -> Response:
    """已送达 (the unit has it) or 重新发送 (due again) for one uncertain send."""
    rnd = _round(request)
    what = str(form.get("action", ""))
    if what not in (CONFIRM, RESEND_ONE):
        return _page(request, rnd, status_code=400, error="未知的操作。")
    try:
        with ledger_of(request).session() as session, session.begin():
            settle_uncertain(session, rnd.id, int(request.path_params["reply_id"]), what, user.name)
    except LookupError as exc:
        return _page(request, rnd, status_code=409, error=str(exc))
    return _page(request, rnd, notice="已确认送达。" if what == CONFIRM else
                 "已安排重新发送：审核结果和催报邮件在下次点“发送”时发出，回复邮件由收件监视的下一遍发出。")


settle_endpoint = action(settle_action)
