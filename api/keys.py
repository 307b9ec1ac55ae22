"""API keys at request time: throttling of repeated bad keys per client address, and the last-used time.

Throttling: after ``limit`` failures within ``window_s`` seconds, a client address gets 429 with Retry-After until its
oldest failure leaves the window, whatever key it sends.

In-process and in memory: with several HTTP processes (``qa serve --workers N``) each counts on its own, and a restart
forgets. Enough to make guessing keys slow; put a proxy limiter in front for more.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class KeyThrottle:
    def __init__(self, limit: int = 10, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit, self.window_s, self.max_clients = limit, window_s, max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window_s:
            q.popleft()

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Seconds to wait when ``client`` is throttled now, else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._failures.get(client)
            if not q:
                return None
            self._prune(q, now)
            if len(q) < self.limit:
                return None
            return max(1, math.ceil(q[0] + self.window_s - now))

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                for c in [c for c, q in self._failures.items() if not q or q[-1] <= now - self.window_s]:
                    del self._failures[c]
                if len(self._failures) >= self.max_clients:  # still full: forget the oldest client
                    del self._failures[next(iter(self._failures))]
            q = self._failures.setdefault(client, deque())
            self._prune(q, now)
            q.append(now)


class LastUsed:
    """Writes a key's last-used time at most once per ``every_s`` per user, on a background thread: a request never
    waits for that write (nor fails because the database is busy)."""

    def __init__(self, store, every_s: float = 60.0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.store, self.every_s = store, every_s
        self._written: dict[int, float] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-last-used")
        self._pending: list = []

    def seen(self, user_id: int, last_used_at=None) -> None:
        from qa.store.models import utcnow

        now = time.monotonic()
        with self._lock:
            if now - self._written.get(user_id, -math.inf) < self.every_s:
                return
            self._written[user_id] = now
        wall = utcnow()
        if last_used_at is not None and (wall - last_used_at).total_seconds() < self.every_s:
            return
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._write, user_id, wall))

    def _write(self, user_id: int, when) -> None:
        import logging

        from qa.store.users import touch

        try:
            touch(self.store, user_id, when)
        except Exception:  # noqa: BLE001 - only the timestamp is lost; the next use tries again
            logging.getLogger("qa.api").debug("last-used time of user %d not written", user_id, exc_info=True)
            with self._lock:
                self._written.pop(user_id, None)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the pending writes (tests, shutdown)."""
        from concurrent.futures import wait

        wait(list(self._pending), timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
