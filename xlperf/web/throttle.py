"""Failed sign-ins: a user name, or a client address, with too many recent failures waits.

Five failures of one name within fifteen minutes lock that name until the oldest of them is
fifteen minutes old; the right password is refused meanwhile too, so guessing gains nothing by
waiting for a hit, and the password hash (deliberately slow) is not even computed. An address
is locked the same way after twenty failures, whatever the names (a bureau's staff often share
one address behind its router: one person's typos must not lock the others out). A sign-in
that succeeds clears its name's failures. Kept in memory per server process: with
``xlperf serve --workers N`` a guesser gets at most N times the allowance; a restart forgets.
No limiter package is in the offline set this product installs from, and this is all it needs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["ADDRESS_FAILURES", "FAILURES", "WINDOW_SECONDS", "LoginThrottle", "login_keys"]

FAILURES = 5
"""Failures of one user name that lock it."""
ADDRESS_FAILURES = 20
"""Failures from one client address that lock it."""
WINDOW_SECONDS = 15 * 60
_PRUNE_AT = 4096
"""Keys kept before stale ones are dropped (a guesser cycling names must not grow memory)."""


Key = tuple[str, int]
"""What an attempt counts against, and how many failures lock it."""


class LoginThrottle:
    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, keys: Iterable[Key]) -> float:
        """Seconds until ``keys`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [times[-limit] + self.window - now for key, limit in keys
                     if len(times := self._recent(key, now)) >= limit]
        return max(waits, default=0.0)

    def failed(self, keys: Iterable[Key]) -> None:
        now = self.clock()
        with self._lock:
            if len(self._seen) > _PRUNE_AT:
                for key in [k for k in self._seen if not self._recent(k, now)]:
                    del self._seen[key]
            for key, limit in keys:
                times = self._seen.setdefault(key, deque())
                times.append(now)
                while len(times) > limit:
                    times.popleft()

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key, deque())
        while times and times[0] + self.window <= now:
            times.popleft()
        return times


def login_keys(name: str, address: str | None) -> tuple[Key, ...]:
    """What a sign-in attempt counts against: its user name, and the client's address."""
    keys: tuple[Key, ...] = ((f"name:{name.strip().casefold()}", FAILURES),)
    return keys + ((f"addr:{address}", ADDRESS_FAILURES),) if address else keys
