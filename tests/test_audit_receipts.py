"""Receipts of the processing record outside the store, and verification against them (R11).

Each attack is done the way the testers did it: raw SQL on the real SQLite file, while an
auditor holds a receipt from ``audit head``. The record's own ``AuditLog.verify`` is shown
to miss each one, and ``verify_audit`` with the receipt to catch it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from faceguard import Faceguard
from faceguard.audit.receipts import (
    RECEIPTS_FILE,
    AuditReceipt,
    parse_receipts,
    read_receipts_file,
    receipt_from_json,
    record_restore,
)
from faceguard.cli.main import main
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import AuditError, ConfigError
from pgtest import raw

EVERY = 256  # the store's checkpoint interval


def sql(data: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    with raw(data) as db:
        for item in statements:
            statement, params = (item, ()) if isinstance(item, str) else item
            db.execute(statement, params)


def query(data: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with raw(data) as db:
        return list(db.execute(statement, params))


def fill(fg: Faceguard, upto: int) -> None:
    """Append events (through group commit) until the chain's last seq is ``upto``."""
    last = query(fg._store.data_dir, "SELECT coalesce(max(seq), 0) FROM audit_events")[0][0]
    for i in range(last + 1, upto + 1):
        fg._store.commit(lambda conn, i=i: fg._store.audit.append(
            conn, actor="test", operation="decision.explained", outcome="ok",
            detail={"n": i}))


def grant(fg: Faceguard, person: str, purpose: str) -> None:
    fg.consent.grant(person, purpose, name=person, method="click", evidence=f"kiosk/{person}")


def receipts_in(data: Path) -> list[AuditReceipt]:
    return read_receipts_file(data / RECEIPTS_FILE).receipts


def kinds(report: Any) -> list[str]:
    return [f.kind for f in report.findings]


@pytest.fixture()
def history(fg: Faceguard) -> Faceguard:
    """A record with consents, a withdrawal, an erasure (certificate) and 300 events."""
    grant(fg, "p-1", "access-control")
    grant(fg, "p-1", "attendance")
    grant(fg, "p-2", "access-control")
    fg.consent.withdraw("p-1", "attendance")
    fg.rights.erase("p-2")
    fill(fg, 300)
    return fg


def test_checkpoints_are_receipted_after_commit_and_head_on_demand(history: Faceguard) -> None:
    data = history._store.data_dir
    [checkpoint] = [r for r in receipts_in(data) if r.kind == "checkpoint"]
    row = query(data, "SELECT hash, signed_at, signature FROM audit_checkpoints WHERE seq = ?",
                (EVERY,))[0]
    assert (checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature) == (
        EVERY, *row)
    head = history.audit.head()
    assert (head.kind, head.seq) == ("head", 300)
    assert head.hash == query(data, "SELECT hash FROM audit_events WHERE seq = 300")[0][0]
    assert receipts_in(data)[-1] == head
    history.audit.head()
    assert receipts_in(data).count(head) == 1  # the same head is kept once
    report = history.audit.verify([head])
    assert (report.ok, report.events, report.checkpoints, report.findings) == (True, 300, 1, ())
    assert report.receipts == len(set(receipts_in(data))) and report.notes == ()


def test_a_rolled_back_checkpoint_gets_no_receipt(fg: Faceguard) -> None:
    fill(fg, EVERY - 1)

    def fails(conn: Any) -> None:
        fg._store.audit.append(conn, actor="test", operation="decision.explained",
                              outcome="ok")
        raise RuntimeError("the operation fails after its event")

    with pytest.raises(RuntimeError):
        fg._store.commit(fails)
    assert [r for r in receipts_in(fg._store.data_dir) if r.kind == "checkpoint"] == []
    fill(fg, EVERY)
    [checkpoint] = [r for r in receipts_in(fg._store.data_dir) if r.kind == "checkpoint"]
    assert checkpoint.hash == query(fg._store.data_dir,
                                    "SELECT hash FROM audit_events WHERE seq = ?", (EVERY,))[0][0]


def test_a_receipt_lost_to_a_crash_is_written_when_the_store_opens(fg: Faceguard) -> None:
    data = fg._store.data_dir
    assert fg._store.audit.receipts is not None
    fg._store.audit.receipts.detach()  # as if the process died after each commit
    fill(fg, EVERY + 1)
    assert [r for r in receipts_in(data) if r.kind == "checkpoint"] == []
    report = fg.audit.verify()
    assert report.ok and any("have no receipt yet" in n for n in report.notes)
    with Faceguard.open(data, engine=fg.engine) as again:
        assert [r.seq for r in receipts_in(data) if r.kind == "checkpoint"] == [EVERY]
        assert again.audit.verify().notes == ()


def test_tail_cut_and_an_older_head_written_back_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    older_head = query(data, "SELECT value FROM settings WHERE key = 'audit.head'")[0][0]
    fill(history, 320)
    kept = history.audit.head()
    sql(data, "DELETE FROM audit_events WHERE seq > 300",
        ("UPDATE settings SET value = ? WHERE key = 'audit.head'", (older_head,)))
    assert history._store.audit.verify().ok  # the record alone reads intact
    (data / RECEIPTS_FILE).unlink()  # the attacker removes the data directory's receipts too
    report = history.audit.verify([kept])
    assert not report.ok and kinds(report) == ["truncated"]
    assert report.first_bad_seq == 301 and "events 301..320 were deleted" in str(report.problem)


def test_a_wiped_record_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    kept = history.audit.head()
    sql(data, "DELETE FROM audit_events", "DELETE FROM audit_checkpoints",
        "DELETE FROM settings WHERE key = 'audit.head'")
    plain = history._store.audit.verify()
    assert plain.ok and plain.events == 0
    report = history.audit.verify([kept])
    assert not report.ok and report.first_bad_seq == 1
    assert "wiped" in kinds(report) and "it was wiped" in str(report.problem)


def test_a_deleted_checkpoint_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    kept = history.audit.head()
    sql(data, f"DELETE FROM audit_checkpoints WHERE seq = {EVERY}")
    assert history._store.audit.verify().ok
    report = history.audit.verify([kept])
    assert not report.ok and kinds(report) == ["checkpoint-deleted"]
    assert report.first_bad_seq == EVERY
    (data / RECEIPTS_FILE).unlink()  # without any receipt, the sequence still has a gap
    assert kinds(history.audit.verify()) == ["checkpoint-deleted"]


def test_a_deleted_deletion_certificate_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    kept = history.audit.head()
    [(seq, detail)] = query(data, "SELECT seq, detail FROM audit_events "
                                  "WHERE operation = 'subject.erased'")
    sql(data, ("DELETE FROM deletion_certificates WHERE id = ?",
               (json.loads(detail)["certificate"],)))
    assert history._store.audit.verify().ok
    report = history.audit.verify([kept])
    assert not report.ok and kinds(report) == ["certificate-deleted"]
    assert report.first_bad_seq == seq


def test_a_forged_or_unrecorded_certificate_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    [(body,)] = query(data, "SELECT body FROM deletion_certificates")
    forged = {**json.loads(body), "reason": "forged"}
    sql(data, ("UPDATE deletion_certificates SET body = ?", (json.dumps(forged),)))
    assert kinds(history.audit.verify()) == ["certificate-invalid"]
    sql(data, ("UPDATE deletion_certificates SET body = ?, id = 'c_inserted'", (body,)))
    assert sorted(kinds(history.audit.verify())) == ["certificate-deleted",
                                                     "certificate-unrecorded"]


def test_a_revived_consent_is_caught(history: Faceguard) -> None:
    data = history._store.data_dir
    kept = history.audit.head()
    [(seq,)] = query(data, "SELECT seq FROM audit_events WHERE operation = 'consent.withdrawn'")
    sql(data, "UPDATE consents SET status = 'active', ended_at = NULL, end_reason = NULL "
              "WHERE purpose = 'attendance'")
    assert history._store.audit.verify().ok
    report = history.audit.verify([kept])
    assert not report.ok and kinds(report) == ["consent-revived"]
    assert report.first_bad_seq == seq and "consent.withdrawn" in str(report.problem)


def test_a_receipt_that_does_not_verify_is_reported(history: Faceguard) -> None:
    kept = history.audit.head()
    forged = receipt_from_json({**kept.to_json(), "seq": kept.seq + 5})
    report = history.audit.verify([forged])
    assert kinds(report) == ["receipt-invalid"] and "bad signature" in str(report.problem)


@pytest.mark.sqlite_only("puts an older copy of the SQLite file back in place by hand")
def test_a_restore_supersedes_the_data_directory_receipts_but_not_an_auditors(
        history: Faceguard, tmp_path: Path) -> None:
    data = history._store.data_dir
    engine, key = history.engine, history._store.keyring.signing_key
    copy = tmp_path / "backup.db"
    with closing(sqlite3.connect(data / "faceguard.db")) as src, \
            closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    [(seq, digest)] = query(data, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    fill(history, 520)
    kept = history.audit.head()
    history.close()
    for suffix in ("", "-wal", "-shm"):
        (data / f"faceguard.db{suffix}").unlink(missing_ok=True)
    shutil.copy(copy, data / "faceguard.db")
    restore = record_restore(data, key, seq, digest, "backup.db of the test")
    with Faceguard.open(data, engine=engine) as restored:
        report = restored.audit.verify()
        assert report.ok, report.findings
        assert any(f"superseded by the restore of {restore.time}" in n for n in report.notes)
        audited = restored.audit.verify([kept])
        assert not audited.ok and kinds(audited) == ["truncated"]
        assert f"restore of {restore.time} to event {seq}" in str(audited.problem)


def test_restore_entries_are_checked_arguments_and_signature(history: Faceguard) -> None:
    data = history._store.data_dir
    with pytest.raises(ConfigError):
        record_restore(data, history._store.keyring.signing_key, -1, "0" * 64, "x")
    with pytest.raises(ConfigError):
        record_restore(data, history._store.keyring.signing_key, 1, "zz", "x")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record_restore(data, Ed25519PrivateKey.generate(), 1, "0" * 64, "an attacker's excuse")
    report = history.audit.verify()
    assert kinds(report) == ["receipt-invalid"] and not any("superseded" in n
                                                            for n in report.notes)


def test_receipt_files_parse_as_one_receipt_or_lines(history: Faceguard) -> None:
    head = history.audit.head()
    assert parse_receipts(json.dumps(head.to_json(), indent=2), name="r") == [head]
    lines = (history._store.data_dir / RECEIPTS_FILE).read_text()
    assert parse_receipts(lines, name="r") == receipts_in(history._store.data_dir)
    with pytest.raises(ConfigError, match="line 2 of r is not a receipt"):
        parse_receipts(head.line() + "\n{\"seq\": 1}\n", name="r")


def test_a_torn_last_line_is_ignored_and_closed(history: Faceguard) -> None:
    path = history._store.data_dir / RECEIPTS_FILE
    with path.open("a") as handle:
        handle.write('{"kind": "checkpoint", "seq": 5')
    assert read_receipts_file(path).torn
    report = history.audit.verify()
    assert report.ok and any("cut short" in n for n in report.notes)
    history.audit.head()
    after = read_receipts_file(path)
    assert not after.torn and after.bad_lines == [] and after.receipts[-1].kind == "head"


def test_head_of_an_empty_record_is_refused(data_dir: Path, engine: DlibEngine) -> None:
    sql(data_dir, "DELETE FROM audit_events", "DELETE FROM settings WHERE key = 'audit.head'")
    with Faceguard.open(data_dir, engine=engine) as fg, pytest.raises(AuditError, match="empty"):
        fg.audit.head()


# ---------------------------------------------------------------- the command line


@dataclass
class Cli:
    data: Path
    older_head: str  # the signed head at event 250, kept by the attacker

    def cut_to_250(self) -> None:
        """Delete events 251.. and their checkpoint; write back the head signed at 250."""
        sql(self.data, "DELETE FROM audit_events WHERE seq > 250",
            "DELETE FROM audit_checkpoints WHERE seq > 250",
            ("UPDATE settings SET value = ? WHERE key = 'audit.head'", (self.older_head,)))


@pytest.fixture()
def cli(fg: Faceguard) -> Cli:
    """A closed data directory of 300 events."""
    grant(fg, "p-1", "access-control")
    fill(fg, 250)
    data = fg._store.data_dir
    older = query(data, "SELECT value FROM settings WHERE key = 'audit.head'")[0][0]
    fill(fg, 300)
    fg.close()
    return Cli(data, older)


def run(data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data", str(data), *args])
    return result.exit_code, result.output


def test_cli_head_and_verify_with_a_kept_receipt(cli: Cli, tmp_path: Path) -> None:
    code, out = run(cli.data, "audit", "head", "--json")
    assert code == 0
    kept = tmp_path / "receipt.json"
    kept.write_text(out)
    head = json.loads(out)
    assert set(head) == {"kind", "seq", "hash", "time", "signature", "key_id"}
    assert (head["kind"], head["seq"]) == ("head", 300)
    code, out = run(cli.data, "audit", "head")
    assert code == 0 and "seq        300" in out and head["signature"] in out
    code, out = run(cli.data, "audit", "verify", "--receipt", str(kept))
    assert code == 0 and out.startswith("intact: 300 events, 1 signed checkpoints")
    cli.cut_to_250()
    (cli.data / RECEIPTS_FILE).unlink()
    code, out = run(cli.data, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True  # without the receipt: unseen
    code, out = run(cli.data, "audit", "verify", "--receipt", str(kept), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["first_bad_seq"] == 251
    assert [f["kind"] for f in report["findings"]] == ["truncated"]
    code, out = run(cli.data, "audit", "verify", "--receipt", str(kept))
    assert code == 1 and out.startswith("TAMPERED at event 251: the record ends at event 250")


def test_cli_plain_verify_uses_the_data_directory_receipts(cli: Cli) -> None:
    code, out = run(cli.data, "audit", "verify", "--json")
    # the heads at the closes of go_live and of the fixture, and checkpoint 256
    assert code == 0 and json.loads(out)["receipts"] == 3
    cli.cut_to_250()
    code, out = run(cli.data, "audit", "verify")
    assert code == 1 and "events 251..300 were deleted" in out


def test_cli_refuses_a_file_that_is_not_a_receipt(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"seq": 3}')
    code, out = run(cli.data, "audit", "verify", "--receipt", str(bad))
    assert code == 2 and "not a receipt" in out
