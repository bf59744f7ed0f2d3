"""Test clients of the web desk (Starlette's TestClient on a real SQLite ledger file)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from xlperf.ledger import Ledger, open_ledger
from xlperf.web import DeskConfig, add_user, create_app

PASSWORD = "绩效-口令-2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def ledger_at(tmp: Path) -> Ledger:
    return open_ledger(f"sqlite:///{tmp / 'xlperf.db'}")


def local_client(ledger: Ledger, **config: object) -> tuple[TestClient, DeskConfig]:
    """A browser of local mode that has not yet used the token."""
    cfg = DeskConfig.for_host(ledger.url, "127.0.0.1", 8750)
    if config:
        cfg = DeskConfig(**{**cfg.__dict__, **config})
    return TestClient(create_app(cfg, ledger), follow_redirects=False), cfg


def signed_in_local(ledger: Ledger, **config: object) -> TestClient:
    client, cfg = local_client(ledger, **config)
    assert client.get(f"/?token={cfg.token}").status_code == 303
    return client


def server_client(ledger: Ledger) -> TestClient:
    """A browser of server mode; https, because the session cookie is Secure there."""
    cfg = DeskConfig.for_host(ledger.url, "0.0.0.0", 8750)
    return TestClient(create_app(cfg, ledger), base_url="https://desk.example", follow_redirects=False)


def sign_in(client: TestClient, ledger: Ledger, name: str, role: str) -> TestClient:
    add_user(ledger, name, role, PASSWORD)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def csrf(client: TestClient) -> str:
    return csrf_of(client.get("/rounds").text)
