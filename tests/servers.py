"""Real servers on loopback for the tests: an SMTP server (aiosmtpd) that keeps what it accepts,
and Dovecot (Debian's ``dovecot-imapd``) run from a temporary folder with a passwd-file user and a
Maildir, as the shared design notes describe. Fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class FakeClock:
    t: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.t += seconds

    def now(self) -> dt.datetime:
        start = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        return start + dt.timedelta(seconds=self.t - 1000.0)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


class Store:
    """Keeps every message accepted; ``replies`` are answered to the first DATA commands instead."""

    def __init__(self, replies: tuple[str, ...] = (), refuse: str = "") -> None:
        self.received: list[Received] = []
        self.replies = list(replies)
        self.refuse = refuse
        self.data_calls = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address == self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.replies:
            return self.replies.pop(0)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                      over_tls(server), bool(session.authenticated)))
        return "250 2.0.0 OK"

    def by_recipient(self) -> dict[str, EmailMessage]:
        assert all(len(r.rcpt_tos) == 1 for r in self.received)
        return {r.rcpt_tos[0]: r.message for r in self.received}


class StoreThenDrop(Store):
    """Stores the message, then drops the connection (``drop``) or answers after ``delay`` seconds,
    for the first ``times`` messages: the server has it, the client never hears "250"."""

    def __init__(self, *, delay: float = 0.0, times: int = 1) -> None:
        super().__init__()
        self.delay, self.times = delay, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.times <= 0:
            return answer
        self.times -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
            return answer
        server.transport.close()
        return answer


def over_tls(server: Any) -> bool:
    """Whether the session runs over TLS, implicit or after STARTTLS."""
    return server.transport.get_extra_info("ssl_object") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


SmtpStart = Callable[..., tuple[Controller, Store]]



def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1: (cert, key) PEM files."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is available to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
        return cert, key
    import ipaddress

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key




# ---------------------------------------------------------------- Dovecot

DOVECOT = "/usr/sbin/dovecot"
CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
mail_location = maildir:~/Maildir
# A throwaway Maildir: waiting for the disk on every APPEND and MOVE buys nothing here.
mail_fsync = never
first_valid_uid = 1
{internal}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot server in a temporary folder: IMAP on ``port`` (plain or STARTTLS) and
    ``ssl_port`` (implicit TLS) when a certificate is given. Users: ``users`` (name → password)."""

    def __init__(self, users: dict[str, str], cert: tuple[Path, Path] | None = None) -> None:
        # Not under pytest's tmp_path: that is private to root, and Dovecot's mail processes run
        # as the dovecot user, which must reach the Maildir.
        self.root = Path(tempfile.mkdtemp(prefix="xlperf-dovecot-"))
        self.root.chmod(0o755)
        self.users = users
        self.port = free_port()
        self.ssl_port = free_port() if cert else 0
        self.process: subprocess.Popen[bytes] | None = None
        account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        lines = []
        for user, password in users.items():
            home = self.root / "home" / user
            (home / "Maildir").mkdir(parents=True)
            for path in (home.parent, home, home / "Maildir"):
                os.chown(path, account.pw_uid, account.pw_gid)
            lines.append(f"{user}:{{PLAIN}}{password}:{account.pw_uid}:{account.pw_gid}::{home}")
        (self.root / "passwd").write_text("\n".join(lines) + "\n", encoding="utf-8")
        ssl = "ssl = no"
        if cert:
            ssl = f"ssl = yes\nssl_cert = <{cert[0]}\nssl_key = <{cert[1]}"
        internal = "default_internal_user = dovecot\ndefault_login_user = dovenull" if os.geteuid() == 0 else ""
        conf = CONF.format(root=self.root, port=self.port, ssl_port=self.ssl_port or free_port(), ssl=ssl,
                           internal=internal)
        if not cert:
            conf = conf.replace("    ssl = yes\n", "")
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(conf, encoding="utf-8")
        self.log = self.root / "dovecot.log"

    def start(self, timeout: float = 15.0) -> None:
        """Start and wait until the log says it is starting up and the port answers."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        # A session of its own: stop() ends the master and every process it forked (Dovecot's
        # imap processes outlive a master stopped with SIGTERM for a while).
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {error}{self.log_text()}")
            if self.log.exists() and b"starting up" in self.log.read_bytes()[offset:] and self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """End the server and every session (``SIGKILL``: as in a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        for signal_ in (sig, signal.SIGKILL):
            try:
                os.killpg(process.pid, signal_)
            except ProcessLookupError:
                break
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                continue
        time.sleep(0.1)
        try:  # the master is gone; its children too
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    # -- mailbox access for the tests, through IMAP like any client
    def imap(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        secret = b"\0" + user.encode() + b"\0" + self.users[user].encode()
        client.authenticate("PLAIN", lambda _: secret)  # LOGIN would take ASCII passwords only
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into ``folder`` with IMAP APPEND, as a delivery would."""
        client = self.imap(user)
        try:
            status, detail = client.append(_quoted(folder), "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", detail
        finally:
            client.logout()

    def append_many(self, user: str, raws: list[bytes], folder: str = "INBOX") -> None:
        """APPEND every message of ``raws`` in this order over one connection (a flood arriving)."""
        client = self.imap(user)
        try:
            for raw in raws:
                status, detail = client.append(_quoted(folder), "", imaplib.Time2Internaldate(time.time()), raw)
                assert status == "OK", detail
        finally:
            client.logout()

    def message_ids(self, user: str, folder: str = "INBOX") -> list[str]:
        """The Message-ID of every message of ``folder``, one FETCH for all (empty when the
        folder does not exist); a message without one gives an empty string."""
        client = self.imap(user)
        try:
            status, data = client.select(_quoted(folder), readonly=True)
            if status != "OK" or int(data[0] or 0) == 0:
                return []
            _, parts = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            headers = [p[1] for p in parts if isinstance(p, tuple)]
            return [h.decode("ascii", "replace").partition(":")[2].strip() for h in headers]
        finally:
            client.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The bytes of every message of ``folder`` (empty when the folder does not exist)."""
        client = self.imap(user)
        try:
            status, _ = client.select(_quoted(folder), readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            found = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found += [p[1] for p in parts if isinstance(p, tuple)]
            return found
        finally:
            client.logout()

    def folders(self, user: str) -> list[str]:
        """Folder names as the server lists them (modified UTF-7 decoded)."""
        client = self.imap(user)
        try:
            _, data = client.list()
        finally:
            client.logout()
        names = []
        for line in data:
            assert isinstance(line, bytes)
            raw = line.rsplit(b' "." ', 1)[-1].strip().strip(b'"')
            names.append(decode_utf7(raw))
        return names


def _quoted(folder: str) -> str:
    return '"' + encode_utf7(folder) + '"'


def encode_utf7(text: str) -> str:
    """RFC 3501 modified UTF-7 (written here, independently of imapclient, for the tests)."""
    out, pending = [], ""
    for ch in text + "\0":
        if ch != "\0" and not 0x20 <= ord(ch) <= 0x7E:
            pending += ch
            continue
        if pending:
            out.append("&" + base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=").replace("/", ",") + "-")
            pending = ""
        if ch == "&":
            out.append("&-")
        elif ch != "\0":
            out.append(ch)
    return "".join(out)


def decode_utf7(raw: bytes) -> str:
    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if not body:
            return "&"
        body = body.replace(",", "/")
        return base64.b64decode(body + "=" * (-len(body) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", one, raw.decode("ascii"))
