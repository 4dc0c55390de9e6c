"""Tests for the tamper-evident processing record (R11).

Tampering is done the way an attacker would: raw SQL on the SQLite file, with hashes
recomputed from the documented canonical encoding where the attack needs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from faceguard.audit.events import AuditEvent, AuditReport
from faceguard.audit.log import AuditLog
from faceguard.db import connect, upgrade
from faceguard.errors import AuditError
from pgtest import raw

EVERY = 4  # checkpoints at 4 and 8 for the ten-event chain
N = 10
GENESIS = "0" * 64
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


@dataclass
class Store:
    path: Path
    engine: sa.Engine
    key: Ed25519PrivateKey
    log: AuditLog

    def append(self, **kwargs: Any) -> int:
        with self.engine.begin() as conn:
            return self.log.append(conn, **kwargs)

    def fill(self, n: int = N) -> None:
        for i in range(1, n + 1):
            self.append(actor=f"operator-{i % 3}", operation="template.enrolled",
                        outcome="ok", purpose="attendance", subject=f"s{i}",
                        rules=["R3", "R11"], detail={"template": f"t{i}", "n": i})

    def sql(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        with raw(self.path.parent) as db:
            for statement, params in statements:
                db.execute(statement, params)

    def insert(self, row: dict[str, Any]) -> None:
        marks = ", ".join("?" * len(row))
        self.sql((f"INSERT INTO audit_events ({', '.join(row)}) VALUES ({marks})",
                  tuple(row.values())))

    def rows(self) -> list[dict[str, Any]]:
        with raw(self.path.parent, dicts=True) as db:
            return [dict(r) for r in db.execute("SELECT * FROM audit_events ORDER BY seq")]

    def count(self, table: str) -> int:
        with raw(self.path.parent) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _clock() -> Callable[[], datetime]:
    start = datetime(2026, 11, 22, 19, 40, 1, 123456, tzinfo=UTC)
    ticks = iter(range(1_000_000))
    return lambda: start + timedelta(seconds=next(ticks))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "faceguard.db"
    engine = connect(os.environ.get("FACEGUARD_DATABASE_URL") or path)
    upgrade(engine, "records")
    key = Ed25519PrivateKey.generate()
    yield Store(path, engine, key, AuditLog(engine, key, checkpoint_every=EVERY, clock=_clock()))
    engine.dispose()


def attacker_hash(row: dict[str, Any]) -> str:
    """The documented canonical encoding, reimplemented independently."""
    record = {k: row[k] for k in ("seq", "ts", "actor", "operation", "purpose", "subject",
                                  "outcome", "prev_hash")}
    record["rules"] = json.loads(row["rules"])
    record["detail"] = json.loads(row["detail"])
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rehash_from(store: Store, seq: int) -> None:
    """Recompute prev_hash and hash of every event from ``seq`` on (a careful attacker)."""
    rows = store.rows()
    prev = GENESIS if seq == 1 else rows[seq - 2]["hash"]
    updates = []
    for row in rows[seq - 1:]:
        row["prev_hash"] = prev
        row["hash"] = prev = attacker_hash(row)
        updates.append(("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                        (row["prev_hash"], row["hash"], row["seq"])))
    store.sql(*updates)


def failed(report: AuditReport, first_bad_seq: int) -> bool:
    return (report.ok is False and report.first_bad_seq == first_bad_seq
            and report.problem is not None)


# ---------------------------------------------------------------- clean chain and append


def test_clean_chain_verifies_with_counts(store: Store) -> None:
    store.fill()
    assert store.log.verify() == AuditReport(ok=True, events=N, checkpoints=2,
                                             first_bad_seq=None, problem=None)


def test_empty_record_verifies(store: Store) -> None:
    assert store.log.verify() == AuditReport(True, 0, 0, None, None)


def test_append_returns_seq_and_events_read_back(store: Store) -> None:
    first = store.append(actor="admin", operation="consent.granted", outcome="ok",
                         purpose="attendance", subject="s1", rules=("R3",),
                         detail={"notice": 2, "minor": False, "note": "ü"})
    second = store.append(actor="admin", operation="consent.withdrawn", outcome="ok")
    assert (first, second) == (1, 2)
    one, two = store.log.events()
    assert one == AuditEvent(seq=1, ts="2026-11-22T19:40:01.123456+00:00", actor="admin",
                             operation="consent.granted", purpose="attendance", subject="s1",
                             outcome="ok", rules=("R3",),
                             detail={"notice": 2, "minor": False, "note": "ü"},
                             prev_hash=GENESIS, hash=one.hash)
    assert two.prev_hash == one.hash
    assert (two.purpose, two.subject, two.rules, two.detail) == (None, None, (), {})
    assert TS.fullmatch(two.ts)


def test_hash_is_sha256_of_documented_canonical_encoding(store: Store) -> None:
    store.fill(3)
    rows = store.rows()
    assert [attacker_hash(r) for r in rows] == [r["hash"] for r in rows]
    assert [r["prev_hash"] for r in rows] == [GENESIS, rows[0]["hash"], rows[1]["hash"]]


def test_hash_holds_for_text_that_json_escapes(store: Store) -> None:
    store.append(actor='张伟 "the operator"\\', operation="consent.granted", outcome="ok",
                 purpose=None, subject=None, rules=["R3"],
                 detail={"note": "line\nbreak\ttab \u2028 \u00e9 \U0001f600", "z": [1.5, -0.0],
                         "a": {"nested": None, "flag": True}})
    [row] = store.rows()
    assert attacker_hash(row) == row["hash"]
    assert store.log.verify().ok


def test_checkpoints_and_head_are_signed_by_public_key(store: Store) -> None:
    store.fill()
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(store.log.public_key_hex))
    with raw(store.path.parent) as db:
        cps = db.execute("SELECT seq, hash, signed_at, signature FROM audit_checkpoints "
                         "ORDER BY seq").fetchall()
        head = json.loads(db.execute("SELECT value FROM settings WHERE key = 'audit.head'")
                          .fetchone()[0])
    assert [c[0] for c in cps] == [4, 8]
    for seq, digest, signed_at, signature in cps:
        public.verify(bytes.fromhex(signature),
                      b"faceguard-audit-checkpoint\0" + f"{seq}:{digest}:{signed_at}".encode())
    assert (head["seq"], head["hash"]) == (N, store.rows()[-1]["hash"])
    public.verify(bytes.fromhex(head["signature"]),
                  b"faceguard-audit-head\0" + f"{N}:{head['hash']}:{head['signed_at']}".encode())


def test_rolled_back_transaction_leaves_no_event(store: Store) -> None:
    store.fill(3)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        assert store.log.append(conn, actor="a", operation="template.enrolled",
                                outcome="ok") == 4
        raise RuntimeError("the enrollment failed after the audit append")
    assert [e.seq for e in store.log.events()] == [1, 2, 3]
    assert store.count("audit_checkpoints") == 0
    assert store.log.verify() == AuditReport(True, 3, 0, None, None)
    assert store.append(actor="a", operation="template.enrolled", outcome="ok") == 4
    assert store.log.verify() == AuditReport(True, 4, 1, None, None)


def test_append_outside_a_transaction_is_refused(store: Store) -> None:
    with store.engine.connect() as conn, pytest.raises(AuditError, match="transaction"):
        store.log.append(conn, actor="a", operation="template.enrolled", outcome="ok")
    assert store.count("audit_events") == 0


def test_events_filters_limit_and_order(store: Store) -> None:
    store.fill(6)
    store.append(actor="admin", operation="subject.erased", outcome="ok", subject="s2")
    assert [e.seq for e in store.log.events(subject="s2")] == [2, 7]
    assert [e.seq for e in store.log.events(operation="subject.erased")] == [7]
    assert [e.seq for e in store.log.events(limit=3)] == [1, 2, 3]
    assert [e.seq for e in store.log.events(limit=2, newest_first=True)] == [7, 6]
    assert [e.seq for e in store.log.events(subject="s2", operation="template.enrolled")] == [2]
    assert store.log.events(subject="nobody") == []


# ---------------------------------------------------------------- refused input


@pytest.mark.parametrize("detail", [
    {"image": b"\xff\xd8\xff"},
    {"image": bytearray(b"abc")},
    {"embedding": np.zeros(128, dtype=np.float32)},
    {"note": "x" * 1025},
    {"nested": {"list": [1, b"raw"]}},
    {"key" * 400: 1},
    {"nan": float("nan")},
])
def test_detail_that_could_carry_biometric_data_is_refused(store: Store,
                                                            detail: dict[str, Any]) -> None:
    with pytest.raises(AuditError) as info, store.engine.begin() as conn:
        store.log.append(conn, actor="a", operation="template.enrolled", outcome="ok",
                         detail=detail)
    assert info.value.rule == "R11"
    assert store.count("audit_events") == 0
    assert store.count("settings") == 0


def test_detail_string_of_exactly_the_limit_is_accepted(store: Store) -> None:
    store.append(actor="a", operation="template.enrolled", outcome="ok",
                 detail={"note": "x" * 1024, "items": (1, 2.5, None, True)})
    (event,) = store.log.events()
    assert event.detail == {"note": "x" * 1024, "items": [1, 2.5, None, True]}


@pytest.mark.parametrize("kwargs", [
    {"operation": "enrolled"},
    {"operation": "Template.Enrolled"},
    {"actor": ""},
    {"actor": "a" * 129},
    {"subject": "s" * 41},
    {"rules": "R11"},
    {"rules": None},
    {"detail": [1, 2]},
])
def test_malformed_fields_are_refused(store: Store, kwargs: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"actor": "a", "operation": "template.enrolled", "outcome": "ok"}
    with pytest.raises(AuditError), store.engine.begin() as conn:
        store.log.append(conn, **{**fields, **kwargs})
    assert store.count("audit_events") == 0


def test_naive_clock_is_refused(store: Store) -> None:
    naive = datetime.fromisoformat("2026-01-01T00:00:00")
    log = AuditLog(store.engine, store.key, clock=lambda: naive)
    with pytest.raises(AuditError, match="naive"), store.engine.begin() as conn:
        log.append(conn, actor="a", operation="template.enrolled", outcome="ok")
    assert store.count("audit_events") == 0


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize(("column", "value"), [
    ("outcome", "refused"),
    ("actor", "someone-else"),
    ("detail", '{"n":5,"template":"forged"}'),
    ("rules", '["R3"]'),
    ("ts", "2020-01-01T00:00:00.000000+00:00"),
    ("hash", "f" * 64),
])
def test_modified_middle_event_is_found(store: Store, column: str, value: str) -> None:
    store.fill()
    store.sql((f"UPDATE audit_events SET {column} = ? WHERE seq = 5", (value,)))
    report = store.log.verify()
    assert failed(report, 5)
    assert report.problem == "event 5 was modified (hash mismatch)"


@pytest.mark.parametrize("seq", range(1, N + 1))
def test_modification_anywhere_names_that_event(store: Store, seq: int) -> None:
    store.fill()
    store.sql(("UPDATE audit_events SET outcome = 'denied' WHERE seq = ?", (seq,)))
    assert failed(store.log.verify(), seq)


def test_deleted_middle_event_is_found(store: Store) -> None:
    store.fill()
    store.sql(("DELETE FROM audit_events WHERE seq = 5", ()))
    report = store.log.verify()
    assert failed(report, 5)
    assert report.problem == "event 5 is missing (seq jumps to 6)"


def test_deleted_and_renumbered_event_is_found(store: Store) -> None:
    store.fill()
    store.sql(("DELETE FROM audit_events WHERE seq = 5", ()),
              ("UPDATE audit_events SET seq = -seq WHERE seq > 5", ()),
              ("UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0", ()))
    assert failed(store.log.verify(), 5)


@pytest.mark.parametrize(("from_seq", "problem"), [
    (10, "events 10..10 were deleted (the signed head is at 10)"),
    (9, "events 9..10 were deleted (the signed head is at 10)"),
    (7, "events 7..8 were deleted (a signed checkpoint exists at 8)"),
    (1, "events 1..4 were deleted (a signed checkpoint exists at 4)"),
])
def test_deleted_tail_is_found(store: Store, from_seq: int, problem: str) -> None:
    store.fill()
    store.sql(("DELETE FROM audit_events WHERE seq >= ?", (from_seq,)))
    report = store.log.verify()
    assert failed(report, from_seq)
    assert report.problem == problem


def test_deleted_tail_with_its_checkpoints_is_found_by_head(store: Store) -> None:
    store.fill()
    store.sql(("DELETE FROM audit_events WHERE seq >= 3", ()),
              ("DELETE FROM audit_checkpoints", ()))
    assert failed(store.log.verify(), 3)


def test_inserted_forged_event_is_found(store: Store) -> None:
    store.fill()
    rows = store.rows()
    forged = {**rows[4], "seq": 5, "actor": "ghost", "outcome": "ok",
              "prev_hash": rows[3]["hash"]}
    forged["hash"] = attacker_hash(forged)
    store.sql(("UPDATE audit_events SET seq = -seq WHERE seq >= 5", ()),
              ("UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0", ()))
    store.insert(forged)
    report = store.log.verify()
    assert failed(report, 5)
    assert report.problem == "events 5..5 were inserted (event 6 links to event 4)"


def test_event_appended_after_the_head_is_found(store: Store) -> None:
    store.fill()
    last = store.rows()[-1]
    forged = {**last, "seq": N + 1, "actor": "ghost", "prev_hash": last["hash"]}
    forged["hash"] = attacker_hash(forged)
    store.insert(forged)
    assert failed(store.log.verify(), N + 1)


def test_event_before_genesis_is_found(store: Store) -> None:
    store.fill()
    forged = {**store.rows()[0], "seq": 0}
    store.insert(forged)
    assert failed(store.log.verify(), 0)


@pytest.mark.parametrize(("a", "b"), [(3, 6), (5, 6), (1, 10)])
def test_swapped_events_are_found(store: Store, a: int, b: int) -> None:
    store.fill()
    store.sql(("UPDATE audit_events SET seq = -1 WHERE seq = ?", (a,)),
              ("UPDATE audit_events SET seq = ? WHERE seq = ?", (a, b)),
              ("UPDATE audit_events SET seq = ? WHERE seq = -1", (b,)))
    assert failed(store.log.verify(), a)


def test_swapped_contents_are_found(store: Store) -> None:
    store.fill()
    rows = store.rows()
    cols = [c for c in rows[0] if c != "seq"]
    assign = ", ".join(f"{c} = ?" for c in cols)
    store.sql((f"UPDATE audit_events SET {assign} WHERE seq = 4",
               tuple(rows[6][c] for c in cols)),
              (f"UPDATE audit_events SET {assign} WHERE seq = 7",
               tuple(rows[3][c] for c in cols)))
    assert failed(store.log.verify(), 4)


@pytest.mark.parametrize(("seq", "first_bad", "problem"), [
    # Caught by checkpoint 8: the rewrite lies after checkpoint 4, which still matches.
    (6, 5, "events 5..8 were rewritten after checkpoint 8 was signed"),
    (5, 5, "events 5..8 were rewritten after checkpoint 8 was signed"),
    (2, 1, "events 1..4 were rewritten after checkpoint 4 was signed"),
    # After the last checkpoint only the head can tell.
    (9, 9, "events 9..10 were rewritten after the head was signed"),
    (10, 9, "events 9..10 were rewritten after the head was signed"),
])
def test_modified_and_rehashed_chain_is_caught_by_signatures(
        store: Store, seq: int, first_bad: int, problem: str) -> None:
    store.fill()
    store.sql(("UPDATE audit_events SET outcome = 'denied' WHERE seq = ?", (seq,)))
    rehash_from(store, seq)
    report = store.log.verify()
    assert failed(report, first_bad)
    assert report.problem == problem


def test_rehashed_chain_with_checkpoints_deleted_is_caught_by_head(store: Store) -> None:
    store.fill()
    store.sql(("UPDATE audit_events SET actor = 'ghost' WHERE seq = 6", ()),
              ("DELETE FROM audit_checkpoints", ()))
    rehash_from(store, 6)
    report = store.log.verify()
    assert failed(report, 1)
    assert report.checkpoints == 0


def test_forged_checkpoint_signature_is_found(store: Store) -> None:
    store.fill()
    with raw(store.path.parent) as db:
        digest, signed_at = db.execute(
            "SELECT hash, signed_at FROM audit_checkpoints WHERE seq = 8").fetchone()
    forged = Ed25519PrivateKey.generate().sign(
        b"faceguard-audit-checkpoint\0" + f"8:{digest}:{signed_at}".encode()).hex()
    store.sql(("UPDATE audit_checkpoints SET signature = ? WHERE seq = 8", (forged,)))
    report = store.log.verify()
    assert failed(report, 8)
    assert report.problem == "checkpoint 8 has a bad signature (forged or modified)"
    assert report.checkpoints == 1


@pytest.mark.parametrize(("column", "value"), [
    ("hash", "0" * 64), ("signed_at", "2020-01-01T00:00:00.000000+00:00"), ("signature", "zz")])
def test_modified_checkpoint_is_found(store: Store, column: str, value: str) -> None:
    store.fill()
    store.sql((f"UPDATE audit_checkpoints SET {column} = ? WHERE seq = 4", (value,)))
    assert failed(store.log.verify(), 4)


def test_deleted_head_is_found(store: Store) -> None:
    store.fill()
    store.sql(("DELETE FROM settings WHERE key = 'audit.head'", ()))
    report = store.log.verify()
    assert failed(report, 9)
    assert report.problem == ("the signed head is missing, so events after 8 are not "
                              "covered by a signature")


def test_forged_head_is_found(store: Store) -> None:
    store.fill()
    store.sql(("DELETE FROM audit_events WHERE seq >= 9", ()))
    last = store.rows()[-1]
    head = {"seq": 8, "hash": last["hash"], "signed_at": last["ts"], "signature": "00" * 64}
    store.sql(("UPDATE settings SET value = ? WHERE key = 'audit.head'", (json.dumps(head),)))
    report = store.log.verify()
    assert failed(report, 9)
    assert report.problem == "the signed head has a bad signature (forged or modified)"


def test_head_left_after_every_event_is_deleted_is_found(store: Store) -> None:
    store.fill(3)
    store.sql(("DELETE FROM audit_events", ()))
    assert failed(store.log.verify(), 1)


def test_other_key_fails_verification(store: Store) -> None:
    store.fill()
    other = AuditLog(store.engine, Ed25519PrivateKey.generate(), checkpoint_every=EVERY)
    report = other.verify()
    assert failed(report, 4)
    assert other.public_key_hex != store.log.public_key_hex


def test_other_key_fails_verification_without_checkpoints(store: Store) -> None:
    store.fill(3)
    assert failed(AuditLog(store.engine, Ed25519PrivateKey.generate()).verify(), 1)


def test_an_operation_outside_the_registry_is_refused(store: Store) -> None:
    """Every event names a registered operation (one registry, each with its rules)."""
    with pytest.raises(AuditError, match="not in the registry"):
        store.append(actor="a", operation="template.erased", outcome="ok")
    assert store.count("audit_events") == 0


def test_every_registered_operation_cites_rules_and_says_what_it_records() -> None:
    from faceguard.audit.operations import ALARMS, CONSENT_ENDINGS, DECISIONS, Op

    assert len({op.value for op in Op}) == len(Op) >= 35
    for op in Op:
        assert op.rules and all(re.fullmatch(r"[RP]\d+", rule) for rule in op.rules), op
        assert len(op.meaning) > 10, op
        assert op == op.value and isinstance(op, str)
    assert set(DECISIONS) | set(ALARMS) | set(CONSENT_ENDINGS) <= set(Op)
