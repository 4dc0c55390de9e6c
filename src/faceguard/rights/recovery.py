"""Keeping the erasure ledger's promises (R18): no crash and no restore brings a person back.

``reconcile`` compares every erasure of the ledger (``faceguard.ledger``) with the two
stores and finishes the ones they do not show as done:

- an intention without a completion was interrupted: it is completed as the erasure it
  was (``subject.erased``, the certificate it named, the reason and requester it recorded);
- a completed erasure whose subject is active again, holds templates or live consents, lacks
  its certificate, or whose data key is back, was undone by a restored copy: it is done
  again (``subject.erasure_reapplied``), with the original certificate ID where the
  records lack it (a certificate the records still hold is kept, not doubled);
- a purpose withdrawal whose consent is active again (granted no later than the withdrawal,
  so not a new consent given since) was undone by a restored copy: the consent ends again and
  the purpose's templates go (``consent.withdrawal_reapplied``).

It runs whenever a store opens (``open_store``), in every ``sweep`` and after a ``restore``.
It costs one read of the ledger and a few indexed look-ups per thousand erased people.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from faceguard import db
from faceguard.audit.operations import Op
from faceguard.consent import records as consent
from faceguard.results import ErasureRecovery
from faceguard.rights.erasure import finish_erasure
from faceguard.store.core import Store
from faceguard.store.ledger import Intention, Withdrawal
from faceguard.timeutil import iso, utc_now

_CHUNK = 500


def open_store(data_dir: Path, master_key: bytes, *, actor: str = "start-up",
               url: str | None = None) -> Store:
    """Open the stores of ``data_dir`` (``url``: the record store's database, see
    ``store.core.database_url``) and keep the ledger's promises before anything else runs on
    them (``store.recovered`` says what was completed or re-applied)."""
    store = Store.open(data_dir, master_key, url=url)
    try:
        store.recovered = reconcile(store, actor=actor)
    except BaseException:
        store.close()
        raise
    return store


def reconcile(store: Store, *, actor: str) -> ErasureRecovery:
    """Complete or re-apply every erasure of the ledger the stores do not show as done."""
    state = store.ledger.read()
    if not state.intentions and not state.withdrawals:
        return ErasureRecovery()
    wanted = {
        subject: _named(intention, state.completed.get(subject))
        for subject, intention in state.intentions.items()
    }
    undone = _undone(store, wanted)
    completed, reapplied, certs = 0, 0, []
    with store.write_lock:
        for subject, intention in wanted.items():
            finished = subject in state.completed
            if finished and subject not in undone:
                continue
            if finished:
                operation = Op.SUBJECT_ERASURE_REAPPLIED
                reapplied += 1
            else:
                operation = Op.SUBJECT_ERASED
                completed += 1
            cert = finish_erasure(store, intention, actor=actor, operation=operation)
            certs.append(cert.certificate_id)
        withdrawals = _reapply_withdrawals(store, state.withdrawals, actor=actor)
    return ErasureRecovery(completed, reapplied, tuple(certs), withdrawals)


def _reapply_withdrawals(store: Store, withdrawals: list[Withdrawal], *, actor: str) -> int:
    """End again every active consent that a withdrawal in the ledger ended (a consent
    granted after the withdrawal is a new one and stays); returns how many."""
    latest: dict[tuple[str, str], str] = {}
    for item in withdrawals:
        key = (item.subject_id, item.purpose)
        latest[key] = max(latest.get(key, ""), item.time)
    revived = []
    with store.records.connect() as conn:
        for chunk in _chunks(sorted({subject for subject, _ in latest})):
            for row in conn.execute(
                sa.select(db.consents.c.id, db.consents.c.subject_id, db.consents.c.purpose,
                          db.consents.c.granted_at)
                .where(db.consents.c.subject_id.in_(chunk), db.consents.c.status == "active")
            ):
                when = latest.get((row.subject_id, row.purpose))
                if when is not None and row.granted_at <= when:
                    revived.append((row.id, row.subject_id, row.purpose, when))
    for consent_id, subject, purpose, when in revived:
        store.index.remove_subject(subject, purpose)
        with store.write() as conn:
            consent.end_consent(conn, consent_id, status="withdrawn", reason="withdrawn",
                                when=iso(utc_now()))
            deleted = store.vault.delete_templates(conn, subject, purpose)
            store.audit.append(conn, actor=actor, operation=Op.CONSENT_WITHDRAWAL_REAPPLIED,
                               outcome="ok", purpose=purpose, subject=subject,
                               rules=["R3", "R18"],
                               detail={"templates_deleted": len(deleted), "withdrawn_at": when})
    if revived:
        store.settle()
    return len(revived)


def _named(intention: Intention, completed_with: str | None) -> Intention:
    """The intention, naming the certificate its completion recorded (the original one)."""
    if completed_with is None or completed_with == intention.certificate_id:
        return intention
    return Intention(intention.subject_id, completed_with, intention.reason, intention.scope,
                     intention.actor, intention.time, intention.templates)


def _undone(store: Store, wanted: dict[str, Intention]) -> set[str]:
    """The subjects of ``wanted`` whose erasure the stores do not show as done."""
    subjects = sorted(wanted)
    undone: set[str] = set()
    with store.records.connect() as conn:
        for chunk in _chunks(subjects):
            undone.update(r.id for r in conn.execute(
                sa.select(db.subjects.c.id).where(db.subjects.c.id.in_(chunk),
                                                  db.subjects.c.status != "erased")))
            undone.update(r.subject_id for r in conn.execute(
                sa.select(db.templates.c.subject_id).distinct()
                .where(db.templates.c.subject_id.in_(chunk))))
            undone.update(r.subject_id for r in conn.execute(
                sa.select(db.consents.c.subject_id).distinct()
                .where(db.consents.c.subject_id.in_(chunk), db.consents.c.status == "active")))
        certified: set[str] = set()
        for chunk in _chunks(sorted(i.certificate_id for i in wanted.values())):
            certified.update(r.id for r in conn.execute(
                sa.select(db.certificates.c.id).where(db.certificates.c.id.in_(chunk))))
    undone.update(s for s, i in wanted.items() if i.certificate_id not in certified)
    with store.keys.connect() as kconn:
        for chunk in _chunks(subjects):
            undone.update(r.subject_id for r in kconn.execute(
                sa.select(db.subject_keys.c.subject_id)
                .where(db.subject_keys.c.subject_id.in_(chunk))))
    return undone


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
