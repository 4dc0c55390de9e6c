"""Group commit: concurrent operations share one transaction and one ``fsync`` (R11).

A verification or identification writes little (its audit event, a last-seen time) but
must not be answered before that write is durable. One by one, every operation pays a
commit, and on SQLite a commit is an ``fsync`` of the write-ahead log. ``GroupCommit.run``
lets the operations that arrive while a commit is under way wait for it and go in together:

- the first caller to find no commit under way leads: it takes every queued job, runs them
  in order in one transaction (each job inside its own savepoint, with the audit events
  buffered by ``AuditLog.batch``), commits once, and wakes the others;
- a job that raises is rolled back alone and its caller gets its exception; the other jobs
  of the group are unaffected. Groups run first without savepoints (a savepoint per job is
  a third of a job's cost); if a job raises, the whole transaction rolls back and the group
  runs again with a savepoint each, where the failing job is rolled back to its savepoint
  (its buffered events dropped too). A job may therefore run twice, so it must only write
  through the connection it is given;
- if the commit itself fails, every job of the group gets that error: nothing of the group
  was stored, and no caller is told otherwise.

Nobody waits on a timer: a lone operation commits at once, and groups form only when
operations overlap (a commit takes about a millisecond here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from faceguard.audit.log import AuditLog
from faceguard.db import driver_cursor

T = TypeVar("T")

#: The most jobs one transaction takes; the rest wait for the next group.
MAX_GROUP = 512


class _RunAgain(Exception):
    """A job failed in a group run without savepoints: roll back, run with savepoints."""


class _Job(Generic[T]):
    __slots__ = ("done", "error", "value", "wake", "work")

    def __init__(self, work: Callable[[sa.Connection], T]) -> None:
        self.work = work
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()  # held until the job is done or its caller must lead
        self.wake.acquire()


class GroupCommit:
    """Runs small write jobs from many threads in shared, durable transactions."""

    def __init__(self, engine: sa.Engine, audit: AuditLog, write_lock: threading.RLock) -> None:
        self._engine = engine
        self._audit = audit
        self._write_lock = write_lock
        self._mutex = threading.Lock()
        self._queue: list[_Job[Any]] = []
        self._leading = False
        self.groups = 0  #: transactions committed (for benchmarks and tests)
        self.jobs = 0  #: jobs committed

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work(conn)`` in a shared transaction; return once it is committed.

        ``work`` must only write through ``conn`` (and append audit events on it); it may
        run on another caller's thread.
        """
        owned = getattr(self._write_lock, "_is_owned", None)
        if owned is not None and owned():  # inside a write already: waiting would deadlock
            with self._engine.begin() as conn:
                return work(conn)
        job: _Job[T] = _Job(work)
        with self._mutex:
            self._queue.append(job)
            lead = not self._leading
            self._leading = True
        if not lead:
            job.wake.acquire()  # one wake-up: the job is done, or this caller leads next
        if not job.done:
            self._lead()
        return self._result(job)

    def _lead(self) -> None:
        with self._mutex:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._execute(group)
        finally:
            with self._mutex:
                if self._queue:
                    self._queue[0].wake.release()  # its caller leads the next group
                else:
                    self._leading = False
            for job in group:
                job.wake.release()

    @staticmethod
    def _result(job: _Job[T]) -> T:
        if job.error is not None:
            raise job.error
        return job.value  # type: ignore[no-any-return]

    def _execute(self, group: list[_Job[Any]]) -> None:
        try:
            if not self._attempt(group, savepoints=False):
                self._attempt(group, savepoints=True)
        except BaseException as exc:  # the commit (or a lone job) failed: nothing is stored
            for job in group:
                if job.error is None:
                    job.error = exc
        else:
            self.groups += 1
            self.jobs += sum(job.error is None for job in group)
        finally:
            for job in group:
                job.done = True

    def _attempt(self, group: list[_Job[Any]], *, savepoints: bool) -> bool:
        """Run ``group`` in one transaction and commit it. Without ``savepoints`` (the usual
        case: operations rarely fail here), a failing job rolls the whole group back and
        this answers ``False``, for the caller to run the group again with a savepoint
        each; a job alone in its group needs none (its failure is the group's)."""
        try:
            with self._write_lock, self._engine.begin() as conn, self._audit.batch(conn):
                if savepoints:
                    cursor = driver_cursor(conn)
                    for job in group:
                        self._run_one(conn, cursor, job)
                    return True
                for job in group:
                    try:
                        job.value = job.work(conn)
                    except Exception:
                        if len(group) == 1:
                            raise
                        raise _RunAgain from None
        except _RunAgain:
            return False
        return True

    def _run_one(self, conn: sa.Connection, cursor: Any, job: _Job[Any]) -> None:
        # Savepoints through the driver's cursor: the same connection and transaction, without
        # SQLAlchemy's per-statement work (this runs once per operation). One name for all:
        # each is released before the next is taken, and the driver's statement cache then
        # keeps the three statements prepared.
        mark = self._audit.mark(conn)
        cursor.execute("SAVEPOINT group_job")
        try:
            job.value = job.work(conn)
        except Exception as exc:
            cursor.execute("ROLLBACK TO SAVEPOINT group_job")
            cursor.execute("RELEASE SAVEPOINT group_job")
            self._audit.rewind(conn, mark)
            job.error = exc
        else:
            cursor.execute("RELEASE SAVEPOINT group_job")
