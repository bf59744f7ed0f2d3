"""The operator's log: a request that fails is logged once, with its traceback and the id that
the (Chinese) 500 page shows the person who met it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
from browser import serving

ID = re.compile(r'错误编号：<strong id="request-id">([0-9a-f]{8})</strong>')


def test_a_failed_request_is_logged_once_with_the_id_the_page_shows(tmp_path: Path) -> None:
    db = tmp_path / "xlperf.db"
    log = tmp_path / "desk.log"
    with serving(f"sqlite:///{db}", tmp_path, "--workers", "1", "--log-file", str(log)) as desk, \
            httpx.Client() as client:
        assert client.get(desk.url).status_code == 303  # the token signs this client in
        assert client.get(desk.base + "/rounds").status_code == 200
        # A fault the desk has no words for: the ledger's table of rounds is gone.
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE rounds")
        failed = client.get(desk.base + "/rounds")
    assert failed.status_code == 500
    assert "服务器内部错误，操作未完成" in failed.text
    shown = ID.findall(failed.text)
    assert len(shown) == 1
    text = log.read_text(encoding="utf-8")
    # Once: the page's frame is in one traceback (a chained one has more "Traceback" headers),
    # and uvicorn did not log it again.
    assert text.count(", in rounds_page\n") == 1
    assert "no such table: rounds" in text and "Exception in ASGI application" not in text
    [line] = [line for line in text.splitlines() if shown[0] in line]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR 任务=- 报送=- 请求出错（编号 ([0-9a-f]{8})）：GET /rounds",
                        line).group(1) == shown[0]
