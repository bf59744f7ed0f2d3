"""Real servers on loopback for the tests: an SMTP server (aiosmtpd) that keeps what it accepts,
and Dovecot (Debian's ``dovecot-imapd``) run from a temporary folder with a passwd-file user and a
Maildir, as the shared design notes describe. Fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

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
    """Stores the message, then drops the connection (``late=False``) or holds back its "250"
    until the client has hung up (``late=True``), for the first ``times`` messages: the server
    has it, the client never hears "250". Held by an event (the client's hang-up), not a delay:
    the client's own timeout decides when, so the other messages' exchanges can be given a
    timeout no loaded machine reaches."""

    def __init__(self, *, late: bool = False, times: int = 1) -> None:
        super().__init__()
        self.late, self.times = late, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.times <= 0:
            return answer
        self.times -= 1
        if self.late:
            while not server.transport.is_closing():  # aiosmtpd may also cancel this wait on hang-up
                await asyncio.sleep(0.01)
            return answer
        server.transport.close()
        return answer


def over_tls(server: Any) -> bool:
    """Whether the session runs over TLS, implicit or after STARTTLS."""
    return server.transport.get_extra_info("ssl_object") is not None


class LoopbackController(Controller):
    """aiosmtpd's controller on 127.0.0.1, on a port the system picks when it binds (port 0);
    ``port`` is read back from the listening socket before the controller's own start-up
    connects to it, so no port is chosen first and bound later (another process could take it)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)

    def _create_server(self) -> Any:
        return self._bind()

    async def _bind(self) -> Any:
        server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=0,
                                               ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        return server


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound and never listened on, held for the ``with`` block: connecting to it
    is refused, and no other server can take it meanwhile (a port bound, closed and named later
    could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


SmtpStart = Callable[..., tuple[Controller, Store]]



def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1: (cert, key) PEM files."""
    import ipaddress

    # The test extra installs cryptography: no fallback, so no skip.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert, key = folder / "cert.pem", folder / "key.pem"

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


# Dovecot lives in imapserver.py; the tests import it from here as before.
from imapserver import Dovecot, dovecot_path  # noqa: E402,F401
