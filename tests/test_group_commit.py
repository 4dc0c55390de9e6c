"""Group commit (R11): concurrent operations share transactions, each answered only once its
event is durable; a failing job affects only itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from faceguard import db
from faceguard.errors import AuditError
from faceguard.store.core import Store
from faceguard.vault.keys import new_master_key


@pytest.fixture
def master() -> bytes:
    """The master key of the test's store (a second worker opens with the same)."""
    return new_master_key()


@pytest.fixture
def store(tmp_path: Path, master: bytes) -> Iterator[Store]:
    opened = Store.open(tmp_path, master)
    yield opened
    opened.close()


def append(store: Store, conn: sa.Connection, n: int) -> int:
    return store.audit.append(conn, actor="test", operation="face.verified", outcome="match",
                              purpose="attendance", rules=["R1"], detail={"n": n})


def committed(store: Store) -> list[int]:
    """The ``n`` of every event as a fresh connection (another reader) sees them."""
    other = db.connect(store.url or store.data_dir / "faceguard.db", wal=True)
    try:
        with other.connect() as conn:
            rows = conn.execute(sa.select(db.audit_events.c.detail)
                                .order_by(db.audit_events.c.seq)).scalars()
            return [int(r.split(":")[1].rstrip("}")) for r in rows]
    finally:
        other.dispose()


def test_concurrent_jobs_share_transactions_and_each_sees_its_own_seq(store: Store) -> None:
    threads, per_thread = 16, 40
    seqs: dict[int, int] = {}
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            n = t * 1000 + i
            seq = store.commit(lambda conn, n=n: append(store, conn, n))
            seqs[n] = seq
            assert n in committed_snapshot()  # durable (visible to others) when answered

    def committed_snapshot() -> set[int]:
        with store.records.connect() as conn:
            rows = conn.execute(sa.select(db.audit_events.c.detail)).scalars()
            return {int(r.split(":")[1].rstrip("}")) for r in rows}

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    total = threads * per_thread
    assert sorted(seqs.values()) == list(range(1, total + 1))
    assert sorted(committed(store)) == sorted(seqs)
    assert store.group.jobs == total
    assert store.group.groups < total  # some operations really did share a commit
    report = store.audit.verify()
    assert report.ok and report.events == total


def test_writers_of_two_stores_on_one_database_keep_one_chain(store: Store,
                                                              master: bytes) -> None:
    """Two stores opened on one database (two workers; on PostgreSQL, two machines), each
    with group commit from several threads: one chain, no fork, no gap, and it verifies."""
    other = Store.open(store.data_dir, master,
                       url=store.url)
    seqs: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(target: Store, t: int) -> None:
        start.wait()
        for i in range(30):
            seq = target.commit(lambda conn, n=t * 1000 + i: append(target, conn, n))
            with lock:
                seqs.append(seq)

    pool = [threading.Thread(target=worker, args=(store if t % 2 else other, t))
            for t in range(8)]
    try:
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    finally:
        other.close()
    assert sorted(seqs) == list(range(1, 8 * 30 + 1))  # every seq once: no fork, no gap
    report = store.audit.verify()
    assert report.ok and report.events == 8 * 30, report.problem


def test_a_failing_job_is_rolled_back_alone(store: Store) -> None:
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def good(n: int) -> None:
        barrier.wait()
        store.commit(lambda conn: append(store, conn, n))

    def bad() -> None:
        def work(conn: sa.Connection) -> None:
            append(store, conn, 99)
            conn.execute(db.settings.insert().values(key="half-written", value="x"))
            raise RuntimeError("the operation failed after writing")

        barrier.wait()
        try:
            store.commit(work)
        except RuntimeError as exc:
            errors.append(exc)

    pool = [threading.Thread(target=good, args=(1,)), threading.Thread(target=bad),
            threading.Thread(target=good, args=(2,))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert [str(e) for e in errors] == ["the operation failed after writing"]
    assert sorted(committed(store)) == [1, 2]
    with store.records.connect() as conn:
        assert conn.execute(sa.select(db.settings.c.key)
                            .where(db.settings.c.key == "half-written")).first() is None
    assert store.audit.verify().ok  # the dropped event left no gap in the chain


def test_a_group_with_a_failing_job_runs_again_with_savepoints(store: Store) -> None:
    """Groups run without savepoints first; one failing job sends the group round again,
    a savepoint each, and only that job is lost."""
    queued = threading.Event()
    runs: dict[str, int] = {}
    outcome: dict[str, object] = {}

    def first(conn: sa.Connection) -> int:
        assert queued.wait(10)  # the others queue behind this commit: they form one group
        return append(store, conn, 0)

    def job(name: str, n: int, fail: bool) -> None:
        def work(conn: sa.Connection) -> int:
            runs[name] = runs.get(name, 0) + 1
            seq = append(store, conn, n)
            if fail:
                raise RuntimeError(f"{name} failed after appending")
            return seq

        try:
            outcome[name] = store.commit(work)
        except RuntimeError as exc:
            outcome[name] = exc

    leader = threading.Thread(target=lambda: store.commit(first))
    leader.start()
    while not store.group._leading:
        threading.Event().wait(0.001)
    others = [threading.Thread(target=job, args=args)
              for args in (("a", 1, False), ("bad", 2, True), ("b", 3, False))]
    for thread in others:
        thread.start()
        while len(store.group._queue) < others.index(thread) + 1:
            threading.Event().wait(0.001)  # queued in this order
    queued.set()
    for thread in [leader, *others]:
        thread.join()
    # the first pass stopped at the failing job; the second ran everyone, a savepoint each
    assert runs == {"a": 2, "bad": 2, "b": 1}
    assert isinstance(outcome["bad"], RuntimeError)
    assert (outcome["a"], outcome["b"]) == (2, 3)  # contiguous: the failed event left no gap
    assert committed(store) == [0, 1, 3]
    assert store.audit.verify().ok


def test_a_failed_commit_fails_every_job_of_the_group(store: Store) -> None:
    def work(conn: sa.Connection) -> int:
        seq = append(store, conn, 1)
        # Breaks the buffered batch: its insert at the end of the group fails (seq taken).
        conn.execute(db.audit_events.insert().values(
            seq=seq, ts="t", actor="x", operation="a.b", outcome="ok", rules="[]",
            detail="{}", prev_hash="0" * 64, hash="0" * 64))
        return seq

    with pytest.raises(AuditError, match="could not be written"):
        store.commit(work)
    assert committed(store) == []
    assert store.audit.verify().ok


def test_one_by_one_commits_stay_durable_and_chained(store: Store) -> None:
    seqs = [store.commit(lambda conn, n=n: append(store, conn, n)) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert committed(store) == [0, 1, 2, 3, 4]
    assert store.group.groups == 5
