"""How the tests see and choose the way worker processes start.

xlperf never forks a worker from the process that asks for one (:mod:`xlperf.workers.start`): a
fork server or spawn. A test that patches a check in its own process and needs the workers to
run the patched code forks them from itself on purpose, with :func:`forked_workers`; only tests
do that.
"""

from __future__ import annotations

import pytest

import xlperf.workers.start as start


def forked_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers of this test are forked from the test's process, so that its patches reach them."""
    monkeypatch.setattr(start, "start_method", lambda env=None: "fork")
