"""Keeping the erasure ledger's promises (R18): no crash and no restore brings a person back.

``reconcile`` compares every erasure of the ledger (``faceguard.ledger``) with the two
stores and finishes the ones they do not show as done:

- an intention without a completion was interrupted: it is completed as the erasure it
  was (``subject.erased``, the certificate it named, the reason and requester it recorded);
- a completed erasure whose subject is active again, holds templates or live consents, lacks
  its certificate, or whose data key is back, was undone by a restored copy: it is done
  again (``subject.erasure_reapplied``), with the original certificate ID where the
  records lack it (a certificate the records still hold is kept, not doubled).

It runs whenever a store opens, in every ``sweep`` and after a ``restore``. It costs one read
of the ledger and a few indexed look-ups per thousand erased people.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from . import db
from .erasure import finish_erasure
from .ledger import Intention
from .results import ErasureRecovery
from .store import Store

_CHUNK = 500


def reconcile(store: Store, *, actor: str) -> ErasureRecovery:
    """Complete or re-apply every erasure of the ledger the stores do not show as done."""
    state = store.ledger.read()
    if not state.intentions:
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
                operation = "subject.erasure_reapplied"
                reapplied += 1
            else:
                operation = "subject.erased"
                completed += 1
            cert = finish_erasure(store, intention, actor=actor, operation=operation)
            certs.append(cert.certificate_id)
    return ErasureRecovery(completed, reapplied, tuple(certs))


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
