"""`xlperf mail` against a real SMTP server (aiosmtpd) started on loopback by each test.

The reports are written by really checking real returns (templates filled with the samples, one
with 差 typed over the grade); the roster has a unit without an e-mail address, and one return
comes from a unit the roster does not list. Time (send rate, back-off, Date) comes from a fake
clock handed to the command through click's context object, so nothing here sleeps.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from servers import FakeClock, Store, make_certificate, over_tls
from servers import SmtpStart as Start

from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.cli.demo import DemoReturn
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.form.registry import builtin_layout
from xlperf.mail import LOG_NAME, PASSWORD_ENV, USER_ENV
from xlperf.report import write_batch_reports

SENDER = "财政局绩效科 <jixiao@czj.example.gov.cn>"
ROSTER = """单位代码,单位名称,主管部门,联系人,邮箱
201001,东湖区科技局,市科学技术局,张明,donghu@example.gov.cn
201002,西山县中小企业局,市工业和信息化局,李华,xishan@example.gov.cn
201003,南城区商务局,市商务局,王芳,nancheng@example.gov.cn
201004,北湖县工信局,市工业和信息化局,赵强,
"""
RETURNS = (
    # Filled without calculating: CACHE_MISSING and other warnings → 通过（有提示）.
    DemoReturn("自评表_东湖区科技局.xlsx", "self_evaluation", "东湖区科技局"),
    # 差 typed over the grade formula → 退回; the same unit also filed a clean declaration.
    DemoReturn("自评表_西山县中小企业局.xlsx", "self_evaluation", "西山县中小企业局", {"grade": "差"}),
    DemoReturn("申报表_西山县中小企业局.xlsx", "target_declaration", "西山县中小企业局"),
    DemoReturn("申报表_南城区商务局.xlsx", "target_declaration", "南城区商务局"),
    DemoReturn("申报表_北湖县工信局.xlsx", "target_declaration", "北湖县工信局"),  # no e-mail
    DemoReturn("申报表_西湖区文旅局.xlsx", "target_declaration", "西湖区文旅局"),  # not in the roster
)
EXPECTED = {  # recipient → (subject, number of attachments)
    "donghu@example.gov.cn": ("【通过（有提示）】2019年度财政支出项目绩效自评表审核结果（东湖区科技局）", 1),
    "xishan@example.gov.cn": ("【退回】2019、2022年度绩效报表审核结果（共2份，西山县中小企业局）", 3),
    "nancheng@example.gov.cn": ("【通过】2022年度项目支出绩效目标申报表审核结果（南城区商务局）", 1),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_CREDENTIALS = {USER_ENV: None, PASSWORD_ENV: None}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reports as `xlperf check --report-dir` writes them, of every return of RETURNS."""
    work = tmp_path_factory.mktemp("returns")
    checked = [check_file(fill_workbook(TEMPLATES_DIR / f"{r.form}.xlsx", r.values(), work / r.file))
               for r in RETURNS]
    assert [c.status for c in checked] == ["accepted_with_warnings", "rejected", "accepted", "accepted",
                                           "accepted", "accepted"]
    reports = work / "reports"
    write_batch_reports(checked, reports)
    (reports / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return reports


@pytest.fixture
def reports(report_dir: Path, tmp_path: Path) -> Path:
    """A fresh copy per test: the send log is written into the report folder."""
    return Path(shutil.copytree(report_dir, tmp_path / "reports"))


def mail(reports: Path, *args: str, clock: FakeClock | None = None,
         env: dict[str, str | None] | None = None) -> Result:
    argv = ["mail", str(reports), "--roster", str(reports / "roster.csv"), *args]
    return CliRunner().invoke(main, argv, obj={"clock": clock or FakeClock()}, env={**NO_CREDENTIALS, **(env or {})})


def plain(controller: Controller) -> list[str]:
    return ["--smtp", f"127.0.0.1:{controller.port}", "--tls", "none", "--from", SENDER]


def log_entries(reports: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (reports / LOG_NAME).read_text(encoding="utf-8").splitlines()]


def parts(message: EmailMessage) -> list[tuple[str, str | None]]:
    return [(p.get_content_type(), p.get_filename()) for p in message.walk()]


def attachments(message: EmailMessage) -> dict[str, bytes]:
    found = {}
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        assert part.get_content_type() == XLSX
        name = part.get_filename()
        assert name is not None
        content = part.get_content()
        assert isinstance(content, bytes)
        found[name] = content
    return found


def assert_expected_message(recipient: str, message: EmailMessage) -> None:
    subject, n_attachments = EXPECTED[recipient]
    assert str(message["Subject"]) == subject
    assert message["To"].addresses[0].addr_spec == recipient
    assert message["From"].addresses[0].addr_spec == "jixiao@czj.example.gov.cn"
    assert message["Message-ID"] and message["Date"].datetime.year == 2025
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert message.get_content_type() == "multipart/mixed"
    files = attachments(message)
    assert len(files) == n_attachments
    for data in files.values():
        openpyxl.load_workbook(io.BytesIO(data)).close()
    html_text, plain_text = html.get_content(), text.get_content()
    assert "绩效报表审核报告" in html_text and "<table" in html_text
    assert "<" not in plain_text  # written from the JSON findings, not stripped HTML
    # One word for one outcome: the subject, the letter and the report page say the same.
    word = str(message["Subject"])[1:].partition("】")[0]
    assert f"：{word}，" in plain_text and f"审核结果：{word}" in plain_text and word in html_text
    assert "需修改，" not in plain_text and "需修改：" not in plain_text
    for name in files:
        assert name in plain_text


# ---------------------------------------------------------------- sending


def test_every_message_arrives_once_with_its_parts(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server()
    clock = FakeClock()
    result = mail(reports, *plain(controller), "--rate", "6", clock=clock)
    assert result.exit_code == 0, result.output
    received = store.by_recipient()
    assert len(store.received) == 3 and set(received) == set(EXPECTED)
    for recipient, message in received.items():
        assert_expected_message(recipient, message)
    assert all(r.mail_from == "jixiao@czj.example.gov.cn" for r in store.received)
    # At most 6 a minute: one every 10 s, the first at once.
    assert clock.sleeps == [10.0, 10.0]
    # The skipped units are listed, in Chinese.
    assert "名单中没有邮箱：北湖县工信局" in result.output
    assert "不在单位名单中：西湖区文旅局" in result.output
    assert "共 3 个单位：已发送 3；另有 2 个单位无法投递" in result.output
    # The send log names every report, recipient and message id.
    # A "sending" line when each SMTP transaction began, then its outcome.
    assert [e["outcome"] for e in log_entries(reports)] == ["sending", "sent"] * 3
    entries = [e for e in log_entries(reports) if e["outcome"] != "sending"]
    assert {e["message_id"] for e in entries} == {m["Message-ID"] for m in received.values()}
    xishan = next(e for e in entries if e["recipient"] == "xishan@example.gov.cn")
    assert sorted(r["file"] for r in xishan["reports"]) == ["申报表_西山县中小企业局.xlsx", "自评表_西山县中小企业局.xlsx"]


def test_rejected_return_carries_a_prefilled_fresh_template(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server()
    assert mail(reports, *plain(controller)).exit_code == 0
    message = store.by_recipient()["xishan@example.gov.cn"]
    files = attachments(message)
    assert set(files) == {"自评表_西山县中小企业局_批注.xlsx", "申报表_西山县中小企业局_批注.xlsx",
                          "新模板_财政支出项目绩效自评表_2019年度.xlsx"}
    wb = openpyxl.load_workbook(io.BytesIO(files["新模板_财政支出项目绩效自评表_2019年度.xlsx"]))
    layout = builtin_layout("self_evaluation")
    for key, value in (("unit_name", "西山县中小企业局"), ("year", 2019)):
        sheet, row, col = layout.address(key)
        assert wb[sheet].cell(row + 1, col + 1).value == value
    text = message.get_body(("plain",))
    assert text is not None and "GRADE_MISMATCH" in text.get_content()
    # The RFC 2231 file names survive the wire as UTF-8.
    assert b"filename*0*=utf-8''" in message.as_bytes() or b"filename*=utf-8''" in message.as_bytes()


def test_second_run_sends_nothing_and_resend_sends_again(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server()
    assert mail(reports, *plain(controller)).exit_code == 0
    again = mail(reports, *plain(controller))
    assert again.exit_code == 0, again.output
    assert len(store.received) == 3
    assert [line.split()[1] for line in again.output.splitlines() if line.startswith("已发送过")] == [
        "东湖区科技局", "西山县中小企业局", "南城区商务局"]
    resent = mail(reports, *plain(controller), "--resend")
    assert resent.exit_code == 0, resent.output
    assert len(store.received) == 6
    assert sorted(r.rcpt_tos[0] for r in store.received[3:]) == sorted(EXPECTED)


def test_changed_report_is_due_again(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server()
    assert mail(reports, *plain(controller)).exit_code == 0
    # The unit sent a corrected return and it was checked again: its report changed.
    path = reports / "申报表_南城区商务局.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "notes": ["重新报送"]}, ensure_ascii=False), encoding="utf-8")
    assert mail(reports, *plain(controller)).exit_code == 0
    assert [r.rcpt_tos for r in store.received[3:]] == [["nancheng@example.gov.cn"]]


def test_only_failed_mails_units_with_something_to_do(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server()
    result = mail(reports, *plain(controller), "--only-failed")
    assert result.exit_code == 0, result.output
    assert set(store.by_recipient()) == {"donghu@example.gov.cn", "xishan@example.gov.cn"}
    assert "无需发送  南城区商务局" in result.output


def test_temporary_failures_are_retried_with_backoff(reports: Path, smtp_server: Start) -> None:
    store = Store(replies=("451 4.3.0 try again later", "451 4.3.0 try again later"))
    controller, _ = smtp_server(store)
    clock = FakeClock()
    result = mail(reports, *plain(controller), clock=clock)
    assert result.exit_code == 0, result.output
    assert sorted(store.by_recipient()) == sorted(EXPECTED)  # each once, none twice
    assert store.data_calls == 5
    assert clock.sleeps[:2] == [2.0, 4.0]  # back-off 2 s then 4 s, on the injected clock
    assert "第 3 次尝试成功" in result.output
    first = [e for e in log_entries(reports) if e["outcome"] != "sending"][0]
    assert first["outcome"] == "sent" and first["tries"] == 3


def test_permanently_refused_recipient_is_reported_and_others_sent(reports: Path, smtp_server: Start) -> None:
    controller, store = smtp_server(Store(refuse="xishan@example.gov.cn"))
    result = mail(reports, *plain(controller))
    assert result.exit_code == 1, result.output
    assert set(store.by_recipient()) == {"donghu@example.gov.cn", "nancheng@example.gov.cn"}
    line = next(line for line in result.output.splitlines() if "西山县中小企业局" in line)
    assert line.startswith("发送失败") and "550" in line
    failed = [e for e in log_entries(reports) if e["outcome"] == "failed"]
    assert [e["recipient"] for e in failed] == ["xishan@example.gov.cn"] and failed[0]["tries"] == 1
    # A failed send is not "sent": the next run tries that unit (and only it) again.
    store.refuse = ""
    assert mail(reports, *plain(controller)).exit_code == 0
    assert [r.rcpt_tos for r in store.received[2:]] == [["xishan@example.gov.cn"]]


# ---------------------------------------------------------------- dry run


def test_dry_run_writes_eml_files_with_the_same_parts(reports: Path, tmp_path: Path, smtp_server: Start) -> None:
    outbox = tmp_path / "outbox"
    result = mail(reports, "--dry-run", str(outbox), "--from", SENDER)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outbox.iterdir()) == [
        "201001_东湖区科技局.eml", "201002_西山县中小企业局.eml", "201003_南城区商务局.eml"]
    assert not (reports / LOG_NAME).exists()  # nothing was sent
    controller, store = smtp_server()
    assert mail(reports, *plain(controller)).exit_code == 0
    sent = store.by_recipient()
    for path in outbox.iterdir():
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        assert isinstance(message, EmailMessage)
        recipient = message["To"].addresses[0].addr_spec
        assert_expected_message(recipient, message)
        assert parts(message) == parts(sent[recipient])


# ---------------------------------------------------------------- TLS and login


@dataclass
class Authenticator:
    user: bytes = b"jixiao"
    password: bytes = "密码-s3cret".encode()
    seen: list[tuple[bytes, bytes, bool]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.seen.append((auth_data.login, auth_data.password, over_tls(server)))
        ok = (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_login_over_tls_with_credentials_from_the_environment(
        mode: str, reports: Path, tmp_path: Path, smtp_server: Start) -> None:
    cert, key = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    auth = Authenticator()
    options: dict[str, Any] = {"authenticator": auth, "auth_required": True}
    if mode == "starttls":
        options |= {"tls_context": server_context, "require_starttls": True, "auth_require_tls": True}
    else:
        # aiosmtpd's auth_require_tls only knows STARTTLS: under implicit TLS it would hide AUTH.
        options |= {"ssl_context": server_context, "auth_require_tls": False}
    controller, store = smtp_server(**options)
    config = tmp_path / "xlperf-mail.ini"  # no password in it: the CA to trust and the sender
    config.write_text(f"[smtp]\ncafile = {cert}\nfrom = {SENDER}\n", encoding="utf-8")
    env = {USER_ENV: "jixiao", PASSWORD_ENV: "密码-s3cret"}
    args = ["--smtp", f"127.0.0.1:{controller.port}", "--tls", mode, "--config", str(config)]
    result = mail(reports, *args, env=env)
    assert result.exit_code == 0, result.output
    assert set(store.by_recipient()) == set(EXPECTED)
    assert all(r.tls and r.authenticated for r in store.received)
    assert auth.seen == [(b"jixiao", "密码-s3cret".encode(), True)]  # one login, one connection, over TLS
    # A wrong password stops the run at once: every unit reported, nothing sent, exit 1.
    wrong = mail(reports, *args, "--resend", env={**env, PASSWORD_ENV: "wrong"})
    assert wrong.exit_code == 1, wrong.output
    assert "登录邮件服务器" in wrong.output and "535" in wrong.output
    assert sum(line.startswith("未发送") for line in wrong.output.splitlines()) == 3
    assert len(store.received) == 3
    logins = len(auth.seen)
    # A certificate the client does not trust is refused before any login.
    untrusted = tmp_path / "untrusted.ini"
    untrusted.write_text(f"[smtp]\nfrom = {SENDER}\n", encoding="utf-8")
    refused = mail(reports, "--smtp", f"127.0.0.1:{controller.port}", "--tls", mode, "--config", str(untrusted),
                   "--resend", env=env)
    assert refused.exit_code == 1 and "加密连接失败" in refused.output
    assert len(auth.seen) == logins


# ---------------------------------------------------------------- settings and usage errors


@pytest.mark.parametrize("option", ["--password", "--user", "--smtp-password", "--login"])
def test_credentials_cannot_be_given_on_the_command_line(reports: Path, tmp_path: Path, option: str) -> None:
    result = mail(reports, "--dry-run", str(tmp_path / "out"), option, "secret")
    assert result.exit_code == 2 and "No such option" in result.output


def test_help_is_chinese_and_names_the_credential_variables() -> None:
    result = CliRunner().invoke(main, ["mail", "--help"])
    assert result.exit_code == 0
    assert USER_ENV in result.output and PASSWORD_ENV in result.output and "单位名单" in result.output


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_config_file_with_password_must_be_private(reports: Path, tmp_path: Path) -> None:
    config = tmp_path / "mail.ini"
    config.write_text(f"[smtp]\nuser = jixiao\npassword = s3cret\nfrom = {SENDER}\n", encoding="utf-8")
    config.chmod(0o644)
    result = mail(reports, "--dry-run", str(tmp_path / "out"), "--config", str(config))
    assert result.exit_code == 2 and "chmod 600" in result.output
    config.chmod(0o600)
    result = mail(reports, "--dry-run", str(tmp_path / "out"), "--config", str(config))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("args", "says"), [
    (["--smtp", "smtp.example.gov.cn:25", "--tls", "none", "--from", SENDER], "本机"),
    (["--from", SENDER], "--smtp"),
    (["--smtp", "127.0.0.1:2525", "--tls", "none"], "--from"),
    (["--smtp", "127.0.0.1:99999", "--from", SENDER], "端口"),
    (["--smtp", "127.0.0.1:2525", "--from", "not an address"], "发件人"),
])
def test_usage_errors_exit_2(reports: Path, args: list[str], says: str) -> None:
    result = mail(reports, *args)
    assert result.exit_code == 2 and says in result.output, result.output


def test_bad_roster_and_empty_report_dir_exit_2(reports: Path, tmp_path: Path) -> None:
    (reports / "roster.csv").write_text("名称,邮箱\n某局,x@example.gov.cn\n", encoding="utf-8")
    result = mail(reports, "--dry-run", str(tmp_path / "out"))
    assert result.exit_code == 2 and "单位名单有误" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["mail", str(empty), "--roster", str(report_roster(tmp_path)),
                                       "--dry-run", str(tmp_path / "out")])
    assert result.exit_code == 2 and "xlperf check" in result.output


def report_roster(folder: Path) -> Path:
    path = folder / "roster-ok.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def test_a_second_run_on_the_same_folder_is_refused_while_one_sends(reports: Path, smtp_server: Start) -> None:
    from xlperf.mail.sendlog import locked

    controller, store = smtp_server()
    with locked(reports):  # another run holds the send log (flock: per open file, also in one process)
        busy = mail(reports, *plain(controller))
    assert busy.exit_code == 2, busy.output
    assert "另一个 xlperf mail 正在" in busy.output and str(reports) in busy.output
    assert "Traceback" not in busy.output and store.received == []
    assert mail(reports, *plain(controller)).exit_code == 0  # released when the other run ends
    assert len(store.received) == 3


def test_a_lost_250_is_uncertain_in_the_send_log_and_sent_again_only_with_resend(reports: Path,
                                                                                smtp_server: Start) -> None:
    from servers import StoreThenDrop

    controller, store = smtp_server(StoreThenDrop())  # stores the first message, then hangs up
    first = mail(reports, *plain(controller))
    assert first.exit_code == 1 and len(store.received) == 3  # the server has all three
    assert "待确认" in first.output and "Traceback" not in first.output
    outcomes = [e["outcome"] for e in log_entries(reports)]
    assert outcomes == ["sending", "uncertain", "sending", "sent", "sending", "sent"]
    again = mail(reports, *plain(controller))  # never resent by itself
    assert again.exit_code == 1 and len(store.received) == 3
    assert "已发送过 2" in again.output and "待确认 1" in again.output
    assert mail(reports, *plain(controller), "--resend").exit_code == 0 and len(store.received) == 6
