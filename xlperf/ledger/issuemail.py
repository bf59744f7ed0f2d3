"""``round issue``: mail each roster unit its own templates of the round (下发模板), once.

The templates are those of :func:`xlperf.ledger.roundtemplates.round_templates` (a chained
round's prefilled ones, else one per unit), written to a temporary folder and attached to the
unit's message: what to do, the deadline, and the mailbox to reply to (the From address: the
round's mailbox takes the replies in, ``round watch``). A unit given no template (无已通过的申报)
is listed and not mailed.

Once only, by the same claims as ``round mail`` and reminders (:class:`xlperf.ledger.sendclaims.
LedgerRecorder` through the one send loop :func:`xlperf.mail.outgo.send_all`): the message's row
in ``replies`` (kind ``issue``) is keyed on the unit and its addresses only, not on the
templates' bytes, so a unit is never mailed its templates twice, also when two runs go at once
or one was killed (a message left mid-transaction is uncertain, not sent again); ``resend``
sends again deliberately. A dry run writes .eml files and records nothing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from xlperf.cycle.issue import Issued
from xlperf.form.spec import FormSpec
from xlperf.ledger.db import Ledger
from xlperf.ledger.models import FOLLOWS_CHAIN, Round
from xlperf.ledger.roundform import round_spec
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.ledger.roundtemplates import round_templates
from xlperf.ledger.sendclaims import ClaimFacts, LedgerRecorder
from xlperf.mail import Clock, SmtpConfig, SmtpSender, SystemClock
from xlperf.mail.compose import XLSX_TYPE
from xlperf.mail.message import addressees, header_text, new_message, set_text
from xlperf.mail.outgo import (
    FAILURES,
    SEND_LABELS,
    WRITTEN,
    Outcome,
    Outgoing,
    send_all,
    send_key,
    write_all,
)
from xlperf.mail.run import eml_name
from xlperf.mail.send import DEFAULT_RATE
from xlperf.read.roster import RosterUnit

__all__ = ["ISSUE", "IssueRun", "Issuing", "round_issue"]

ISSUE = "issue"
"""The ``replies.kind`` of these messages."""
NO_ADDRESS, NO_TEMPLATE = "no_address", "no_template"
FOOTER = "本邮件由 xlperf 自动发送。如有疑问，请回复本邮件或与财政局绩效管理部门联系。"
LABELS = {**SEND_LABELS, NO_ADDRESS: "名单中没有邮箱", NO_TEMPLATE: "未生成模板"}


@dataclass(frozen=True)
class Issuing:
    """What became of one unit's message."""

    unit: str
    action: str
    detail: str = ""
    files: int = 0

    def line(self) -> str:
        head = f"{LABELS[self.action]}  {header_text(self.unit)}"
        if self.action == "already_sent":
            return f"{head}：模板此前已发给该单位，未再发送（重新发送请加 --resend）"
        files = f"（模板 {self.files} 份）" if self.files else ""
        return head + files + (f"：{self.detail}" if self.detail else "")


@dataclass
class IssueRun:
    results: list[Issuing] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    """What writing the templates said (one line per file and per unit left out)."""
    aborted: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.aborted) or any(r.action in FAILURES for r in self.results)

    def summary(self) -> str:
        counts = [f"{label} {n}" for action, label in LABELS.items()
                  if (n := sum(1 for r in self.results if r.action == action))]
        return f"共 {len(self.results)} 个单位" + (f"：{'，'.join(counts)}" if counts else "")


def round_issue(ledger: Ledger, rnd: Round, *, sender: str, smtp: SmtpConfig | None = None,
                dry_run: Path | None = None, resend: bool = False, key: bytes | None = None,
                rate: int = DEFAULT_RATE, clock: Clock | None = None, actor: str = "",
                progress: Callable[[Issuing], None] | None = None) -> IssueRun:
    """Mail each unit of ``rnd`` its templates through ``smtp``, or write them as .eml files in
    ``dry_run`` (nothing sent, nothing recorded)."""
    if (smtp is None) == (dry_run is None):
        raise ValueError("exactly one of smtp and dry_run")
    clock = clock or SystemClock()
    now = clock.now()
    run = IssueRun()

    def record(item: Issuing) -> None:
        run.results.append(item)
        if progress is not None:
            progress(item)

    with tempfile.TemporaryDirectory(prefix="xlperf-issue-") as tmp:
        with ledger.session() as session:
            units = units_of(session, rnd.id)
            issued = round_templates(session, rnd, Path(tmp), key=key)
            spec = round_spec(rnd)
            chained = rnd.follows_id is not None and rnd.follows_kind == FOLLOWS_CHAIN
        run.lines = issued.lines
        ids = {u.code: u.id for u in units}
        outgoing: list[Outgoing] = []
        facts: dict[str, ClaimFacts] = {}
        for unit in roster_of(rnd, units).units:
            files = issued.unit_files.get(unit.code, [])
            if not files:
                why = "；".join(dict.fromkeys(w for u, _, w in issued.left_out if u.code == unit.code))
                record(Issuing(unit.name, NO_TEMPLATE, why))
                continue
            if not unit.addresses:
                record(Issuing(unit.name, NO_ADDRESS, "请在名单中补充邮箱", len(files)))
                continue
            send = send_key(ISSUE, unit.addresses, [unit.code])
            facts[send] = ClaimFacts(ids.get(unit.code))

            def build(unit: RosterUnit = unit, files: list[Path] = files) -> EmailMessage:
                return issue_message(rnd, spec, unit, files, issued, sender, now, chained=chained)

            outgoing.append(Outgoing(send, tuple(unit.addresses), build, item=(unit, len(files)), label=unit.name))

        def outcome(o: Outcome) -> None:
            _unit, count = o.outgoing.item
            detail = str(o.path or "") if o.action == WRITTEN else o.detail
            record(Issuing(o.outgoing.label, o.action, detail, count))

        recorder = LedgerRecorder(ledger, rnd.id, ISSUE, facts, actor=actor, resend=resend,
                                  now=lambda: _utc(clock.now()), sent_event="issued")
        if dry_run is not None:
            shown = []
            for out in outgoing:
                refusal = recorder.peek(out)
                if refusal is not None:
                    record(Issuing(out.label, refusal, files=out.item[1]))
                else:
                    shown.append(out)
            write_all(shown, dry_run, lambda out: eml_name(out.item[0]), outcome)
            return run
        if outgoing and smtp is not None:
            with SmtpSender(smtp, rate=rate, clock=clock) as smtp_sender:
                run.aborted = send_all(outgoing, smtp_sender, recorder, outcome).aborted
    return run


def issue_message(rnd: Round, spec: FormSpec | None, unit: RosterUnit, files: list[Path], issued: Issued,
                  sender: str, now: dt.datetime, *, chained: bool = True) -> EmailMessage:
    """The message handing ``unit`` its templates: what to do, the deadline, where to reply."""
    title = spec.title if spec is not None else rnd.form
    reply_to = parseaddr(sender)[1] or sender
    lines = [f"{header_text(unit.contact or unit.name)}：", "",
             f"您好！现下发{rnd.year}年度{title}的填报模板（报送任务“{rnd.name}”），共 {len(files)} 份，见附件："]
    lines += [f"- {path.name}" for path in files]
    locked = "单位、项目、预算、绩效指标及目标值" if chained else "单位、年度"
    lines += ["", "填报说明：",
              f"1. 请用 Excel 或 WPS 打开附件中的模板填写。已预填的栏目（{locked}）已锁定，不能修改；"
              "如预填内容有误，请与财政局联系，不要另做表格。",
              "2. 每份模板请分别填写，保持 .xlsx 格式，不要合并，不要另存为其他格式。"]
    left = [(p, w) for u, p, w in issued.left_out if u.code == unit.code]
    if left:
        lines.append("3. 以下项目本次没有模板：" + "；".join(f"“{p}”{w}" if p else w for p, w in left)
                     + "。如有疑问，请与财政局联系。")
    if rnd.deadline is not None:
        lines += ["", f"报送截止日期：{rnd.deadline:%Y年%m月%d日}。"]
    lines += [f"填好后，请把模板作为附件直接回复本邮件（发至 {reply_to}），系统会自动审核并回复结果。", "", FOOTER]
    to, _ = addressees(unit)
    msg = new_message(subject=f"【下发模板】{rnd.year}年度{title}（{unit.name}）", sender=sender, to=to, now=now)
    set_text(msg, "\n".join(lines) + "\n")
    for path in files:
        msg.add_attachment(path.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=path.name)
    return msg


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
