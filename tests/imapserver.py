"""Dovecot (Debian's ``dovecot-imapd``) run from a temporary folder with passwd-file users and
Maildirs, as the shared design notes describe; the tests reach it through IMAP like any client."""

from __future__ import annotations

import base64
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
from pathlib import Path

# ---------------------------------------------------------------- Dovecot


def dovecot_path() -> str | None:
    """Dovecot's master on PATH (Debian's dovecot-core puts it in /usr/sbin), or None."""
    return shutil.which("dovecot")


class PortTaken(RuntimeError):
    """Dovecot found a port of its configuration taken."""


def _candidate_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

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
        self.port = self.ssl_port = 0
        self._started_once = False
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
        self.cert = cert
        self.conf = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"

    def _configure(self) -> None:
        """Dovecot cannot report a port the system chose (port 0 turns a listener off): so two
        candidate ports are named here and :meth:`start` tries again with new ones when Dovecot
        finds either taken."""
        self.port, self.ssl_port = _candidate_port(), _candidate_port()
        ssl = "ssl = no"
        if self.cert:
            ssl = f"ssl = yes\nssl_cert = <{self.cert[0]}\nssl_key = <{self.cert[1]}"
        internal = "default_internal_user = dovecot\ndefault_login_user = dovenull" if os.geteuid() == 0 else ""
        conf = CONF.format(root=self.root, port=self.port, ssl_port=self.ssl_port, ssl=ssl, internal=internal)
        if not self.cert:
            conf = conf.replace("    ssl = yes\n", "")
            self.ssl_port = 0
        self.conf.write_text(conf, encoding="utf-8")

    def start(self, timeout: float = 15.0, attempts: int = 5) -> None:
        """Start and wait until the log says it is starting up and the port answers. The first
        start tries new ports when one is taken (EADDRINUSE); a restart keeps its ports (the
        tests' clients hold them) and waits for them to be free again."""
        for attempt in range(attempts):
            if not self.port:
                self._configure()
            try:
                self._start_once(timeout)
                return
            except PortTaken:
                if attempt == attempts - 1:
                    raise
                if not self._started_once:
                    self.port = 0  # new candidates
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        # A session of its own: stop() ends the master and every process it forked (Dovecot's
        # imap processes outlive a master stopped with SIGTERM for a while).
        self.process = subprocess.Popen([dovecot_path() or "dovecot", "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                if self.process.stderr is not None:
                    self.process.stderr.close()
                self.process = None
                log = self.log.read_bytes()[offset:].decode(errors="replace") if self.log.exists() else ""
                if "Address already in use" in error + log:
                    raise PortTaken(error + log)
                raise RuntimeError(f"dovecot exited: {error}{self.log_text()}")
            if self.log.exists() and b"starting up" in self.log.read_bytes()[offset:] and self._answers():
                self._started_once = True
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
