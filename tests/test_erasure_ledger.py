"""The erasure ledger (R18): intentions written before the key is destroyed, completions
after; an interrupted erasure is completed at open and by the sweep, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceguard import Faceguard
from faceguard.audit.certificates import verify_with_public_key
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.results import ErasureRecovery
from faceguard.store.ledger import LEDGER_FILE, parse
from pgtest import raw

PERSON = "Colin_Powell"


def enroll(fg: Faceguard, lfw: Path, name: str = PERSON) -> str:
    receipt = fg.consent.grant(name, "attendance", name=name, method="click", evidence="kiosk")
    fg.enroll(name, [(lfw / name / f"{name}_0001.jpg").read_bytes()], "attendance")
    return receipt.subject_id


def ledger_path(fg: Faceguard) -> Path:
    return fg._store.data_dir / "keys" / LEDGER_FILE


def assert_erased(fg: Faceguard, subject: str, certificate_id: str) -> None:
    """Tombstoned, no template, no live consent, no key, an authentic certificate."""
    data_dir = fg._store.data_dir
    with raw(data_dir) as conn:
        assert conn.execute("SELECT status, identity_ct FROM subjects WHERE id = ?",
                            (subject,)).fetchall() == [("erased", None)]
        assert conn.execute("SELECT count(*) FROM templates WHERE subject_id = ?",
                            (subject,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM consents WHERE subject_id = ? AND "
                            "status = 'active'", (subject,)).fetchone() == (0,)
    with raw(data_dir, "keys") as conn:
        assert conn.execute("SELECT count(*) FROM subject_keys WHERE subject_id = ?",
                            (subject,)).fetchone() == (0,)
    cert = fg.audit.certificate(certificate_id)
    assert cert.subject_id == subject and cert.data_key_destroyed
    assert verify_with_public_key(cert, fg.audit.public_key_hex)
    assert fg._store.ledger.read().pending() == []


def test_erasure_writes_intention_then_completion(fg: Faceguard, lfw: Path) -> None:
    subject = enroll(fg, lfw)
    cert = fg.consent.withdraw(PERSON, "attendance").certificate
    assert cert is not None
    entries = fg._store.ledger.entries()
    assert [(e["kind"], e["subject_id"], e["certificate_id"]) for e in entries] == [
        ("intention", subject, cert.certificate_id), ("completion", subject, cert.certificate_id)
    ]
    assert entries[0]["reason"] == "consent withdrawn"
    assert entries[0]["templates"] == list(cert.templates_deleted)
    if fg._store.url is None:  # a file beside the keys; on PostgreSQL, in the key store
        assert ledger_path(fg).stat().st_mode & 0o777 == 0o600
    assert_erased(fg, subject, cert.certificate_id)


def test_an_interrupted_erasure_is_completed_at_open(
    fg: Faceguard, lfw: Path, engine: DlibEngine
) -> None:
    subject = enroll(fg, lfw)
    # The crash window: the intention is written and the key destroyed, nothing else.
    intention = fg._store.ledger.intend(subject, reason="request", scope="all", actor="dpo")
    assert fg._store.vault.shred(subject)
    data_dir = fg._store.data_dir
    fg.close()
    with Faceguard.open(data_dir, engine=engine) as again:
        assert again._store.recovered == ErasureRecovery(1, 0, (intention.certificate_id,))
        assert_erased(again, subject, intention.certificate_id)
        [event] = again._store.audit.events(operation="subject.erased")
        assert (event.subject, event.actor, event.rules) == (subject, "start-up", ("R18",))
        assert event.detail["requested_by"] == "dpo"
        assert event.detail["certificate"] == intention.certificate_id
        assert again.audit.certificate(intention.certificate_id).audit_seq == event.seq
        assert again.audit.verify().ok
    with Faceguard.open(data_dir, engine=engine) as third:  # nothing left to do
        assert third._store.recovered == ErasureRecovery()
        assert len(third._store.audit.events(operation="subject.erased")) == 1


def test_an_interrupted_erasure_is_completed_by_the_sweep(fg: Faceguard, lfw: Path) -> None:
    subject = enroll(fg, lfw)
    intention = fg._store.ledger.intend(subject, reason="request", scope="all", actor="dpo")
    result = fg.rights.sweep()  # the key is still there: the sweep does every step
    assert result.recovered == ErasureRecovery(1, 0, (intention.certificate_id,))
    assert_erased(fg, subject, intention.certificate_id)
    assert fg.rights.sweep().recovered == ErasureRecovery()


def test_a_committed_erasure_without_completion_is_only_marked(
    fg: Faceguard, lfw: Path, engine: DlibEngine
) -> None:
    subject = enroll(fg, lfw)
    cert = fg.rights.erase(PERSON)
    # A crash after the erase transaction, before the completion reached the ledger.
    if fg._store.url is None:
        path = ledger_path(fg)
        path.write_text("".join(line + "\n" for line in path.read_text().splitlines()
                                if '"completion"' not in line))
    else:
        with raw(fg._store.data_dir, "keys") as conn:
            conn.execute("DELETE FROM erasure_ledger WHERE entry LIKE ?", ('%"completion"%',))
    assert [i.subject_id for i in fg._store.ledger.read().pending()] == [subject]
    data_dir = fg._store.data_dir
    fg.close()
    with Faceguard.open(data_dir, engine=engine) as again:
        assert again._store.recovered == ErasureRecovery(1, 0, (cert.certificate_id,))
        assert len(again._store.audit.events(operation="subject.erased")) == 1  # no second
        assert_erased(again, subject, cert.certificate_id)


@pytest.mark.sqlite_only("the ledger file's torn line (on PostgreSQL each entry is a row)")
def test_a_torn_last_line_is_ignored_and_closed(fg: Faceguard, lfw: Path) -> None:
    subject = enroll(fg, lfw)
    path = ledger_path(fg)
    path.write_text('{"kind": "intention", "subject_id": "s_torn", "certif')
    cert = fg.rights.erase(PERSON)
    entries = parse(path.read_text())
    assert [(e["kind"], e["subject_id"]) for e in entries] == [
        ("intention", subject), ("completion", subject)]
    assert path.read_text().startswith('{"kind": "intention", "subject_id": "s_torn", '
                                       '"certif\n')
    assert_erased(fg, subject, cert.certificate_id)


def test_erasing_an_unknown_subject_promises_nothing(fg: Faceguard) -> None:
    from faceguard import NotFound
    from faceguard.rights.erasure import erase_subject

    with pytest.raises(NotFound):
        erase_subject(fg._store, "s_nobody", reason="request", actor="test")
    assert fg._store.ledger.entries() == []
