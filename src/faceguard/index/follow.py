"""Following the change feed in the background, so that an idle worker's index is current.

``feed.catch_up`` runs before every identification, so a worker never answers from a stale
partition (and every match is confirmed against the store anyway). But a person erased on
worker A stays in worker B's memory until B's next search; this thread removes them within
about a second. On PostgreSQL it waits on ``LISTEN faceguard_index`` (the feed's triggers
``NOTIFY`` at commit), reads what changed while it was not listening each time it connects,
and as a safeguard every ``SAFETY`` seconds; on SQLite, where there is no notification, it
polls the feed every ``interval`` seconds (one indexed query when nothing changed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

CHANNEL = "faceguard_index"
#: On PostgreSQL, the feed is also read this often without a notification (seconds).
SAFETY = 30.0
log = logging.getLogger(__name__)


class Follower:
    """Calls ``apply`` whenever the change feed may have grown (and at least every
    ``interval`` seconds) from a daemon thread, until ``close``."""

    def __init__(self, records: sa.Engine, apply: Callable[[], object], *,
                 interval: float = 0.5) -> None:
        self._records = records
        self._apply = apply
        self._interval = interval
        self._stop = threading.Event()
        self.wakeups = 0  #: times ``apply`` ran (for tests and metrics)
        self._thread = threading.Thread(target=self._run, name="faceguard-index-follower",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._records.dialect.name == "postgresql":
                    self._listen()
                else:
                    self._stop.wait(self._interval)
                    self._wake()
            except Exception:  # a lost connection: log, wait, start again
                log.exception("the index follower failed; retrying")
                self._stop.wait(self._interval)

    def _listen(self) -> None:
        import psycopg

        url = self._records.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._wake()  # what changed while nobody listened
            last = time.monotonic()
            while not self._stop.is_set():
                # Notifications of one burst are drained together: one catch-up for all. The
                # feed is read only when one came (or, as a safeguard, every SAFETY seconds);
                # ``interval`` only bounds how long ``close`` waits.
                notified = any(True for _ in conn.notifies(timeout=self._interval,
                                                           stop_after=1))
                if notified or time.monotonic() - last >= SAFETY:
                    self._wake()
                    last = time.monotonic()

    def _wake(self) -> None:
        if not self._stop.is_set():
            self._apply()
            self.wakeups += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
