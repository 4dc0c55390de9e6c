"""Withdrawal, erasure, retention sweeps and export (R3, R8, R16, R18; PIPL 47).

Erasure order, failing closed: (0) the intention is written to the erasure ledger beside
the keys (``faceguard.ledger``), naming the certificate to come, (1) the subject leaves every
index partition, (2) its data key is destroyed in the key store, so every copy of its
ciphertext is unreadable from that moment, (3) in one transaction: templates deleted,
consents ended, identity dropped, certificate signed and stored, event recorded, (4) the
ledger marks it complete. Steps 1-4 are idempotent (``finish_erasure``): an erasure
interrupted anywhere is completed at the next start-up or sweep, and one undone by a restored
copy is done again (``faceguard.recovery``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import sqlalchemy as sa

from faceguard import db
from faceguard.audit import certificates
from faceguard.audit.operations import Op
from faceguard.consent import records as consent
from faceguard.errors import NotFound, require_text
from faceguard.results import (
    DecommissionResult,
    DeletionCertificate,
    SubjectExport,
    SweepResult,
    WithdrawResult,
)
from faceguard.store.core import Store
from faceguard.store.ledger import Intention
from faceguard.timeutil import iso, parse_iso, utc_now
from faceguard.vault.templates import new_id

__all__ = [
    "DeletionCertificate", "decommission", "erase_subject", "export_subject", "finish_erasure",
    "sweep", "withdraw",
]


def erase_subject(
    store: Store,
    subject_id: str,
    *,
    reason: str,
    actor: str,
    scope: str = "all",
    already_deleted: tuple[str, ...] = (),
    intention: Intention | None = None,
) -> DeletionCertificate:
    """Erase a subject entirely and return the signed certificate.

    The intention goes to the erasure ledger first (unless the caller recorded it already,
    as a withdrawal does), naming the certificate in advance; if this is interrupted, the
    next start-up or sweep completes it. ``already_deleted`` lists templates removed just
    before (by a withdrawal) so that the certificate covers them too."""
    require_text(reason, "the reason for erasure", limit=1000)  # before anything is promised
    with store.write_lock:
        if intention is None:
            with store.records.connect() as conn:
                exists = conn.execute(
                    sa.select(db.subjects.c.id).where(db.subjects.c.id == subject_id)
                ).first()
            if exists is None:
                raise NotFound(f"no subject {subject_id}")
            intention = store.ledger.intend(subject_id, reason=reason, scope=scope,
                                            actor=actor, templates=already_deleted)
        return finish_erasure(store, intention, actor=actor)


def finish_erasure(
    store: Store, intention: Intention, *, actor: str, operation: str = Op.SUBJECT_ERASED
) -> DeletionCertificate:
    """Carry out a recorded intention; idempotent, so that it may run again after a crash
    at any point, or after a restored copy brought the subject back.

    The subject leaves the index, its data key is destroyed, then one transaction deletes
    its templates, ends its consents, tombstones it, signs and stores the certificate named
    by the intention and records ``operation``; the ledger then marks it complete. If the
    records already show it erased and certified, no second certificate is made (an event is
    recorded only if a data key had to be destroyed again)."""
    subject_id = intention.subject_id
    with store.write_lock:
        store.index.remove_subject(subject_id)
        key_destroyed = store.vault.shred(subject_id)
        now = iso(utc_now())
        with store.write() as conn:
            done = _certificate_of(conn, intention)
            if done is not None and not _remains(conn, subject_id):
                if key_destroyed:
                    store.audit.append(
                        conn, actor=actor, operation=operation, outcome="ok",
                        subject=subject_id, rules=["R18"],
                        detail={"reason": intention.reason, "templates_deleted": 0,
                                "data_key_destroyed": True, "certificate": done.certificate_id,
                                "requested_by": intention.actor, "requested_at": intention.time},
                    )
                cert = done
            else:
                cert = _erase_records(store, conn, intention, operation=operation, actor=actor,
                                      key_destroyed=key_destroyed, now=now)
        store.settle()
        store.ledger.complete(subject_id, cert.certificate_id)
    return cert


def _certificate_of(conn: sa.Connection, intention: Intention) -> DeletionCertificate | None:
    """The certificate the intention names, else one already issued for the subject."""
    try:
        return certificates.load(conn, intention.certificate_id)
    except NotFound:
        pass
    row = conn.execute(
        sa.select(db.certificates.c.id).where(db.certificates.c.subject_id ==
                                              intention.subject_id)
        .order_by(db.certificates.c.issued_at).limit(1)
    ).first()
    return None if row is None else certificates.load(conn, row.id)


def _remains(conn: sa.Connection, subject_id: str) -> bool:
    """Is anything of the subject still there: not tombstoned, templates or consents live?"""
    status = conn.execute(
        sa.select(db.subjects.c.status).where(db.subjects.c.id == subject_id)
    ).scalar_one_or_none()
    templates = conn.execute(
        sa.select(db.templates.c.id).where(db.templates.c.subject_id == subject_id).limit(1)
    ).first()
    return (status is not None and status != "erased") or templates is not None or bool(
        consent.active_purposes(conn, subject_id))


def _erase_records(
    store: Store, conn: sa.Connection, intention: Intention, *, operation: str, actor: str,
    key_destroyed: bool, now: str,
) -> DeletionCertificate:
    """The erase transaction's writes, and the certificate (stored)."""
    subject_id = intention.subject_id
    deleted = store.vault.delete_templates(conn, subject_id)
    consent.end_all(conn, subject_id, status="erased", reason=intention.reason, when=now)
    store.vault.tombstone(conn, subject_id, now)
    cert_id = intention.certificate_id
    taken = conn.execute(
        sa.select(db.certificates.c.id).where(db.certificates.c.id == cert_id)).first()
    if taken is not None:  # the named certificate proves an earlier erasure: a new one
        cert_id = new_id("c")
    detail: dict[str, object] = {
        "reason": intention.reason,
        "templates_deleted": len(deleted),
        "data_key_destroyed": key_destroyed,
        "certificate": cert_id,
    }
    if operation != Op.SUBJECT_ERASED or actor != intention.actor:
        detail.update(requested_by=intention.actor, requested_at=intention.time)
    seq = store.audit.append(conn, actor=actor, operation=operation, outcome="ok",
                             subject=subject_id, rules=["R18"], detail=detail)
    cert = certificates.sign(
        DeletionCertificate(
            certificate_id=cert_id,
            subject_id=subject_id,
            reason=intention.reason,
            scope=intention.scope,
            templates_deleted=intention.templates + tuple(
                t for t in deleted if t not in intention.templates),
            data_key_destroyed=not store.vault.has_key(subject_id),
            issued_at=now,
            audit_seq=seq,
        ),
        store.keyring.signing_key,
    )
    certificates.store(conn, cert)
    return cert


def withdraw(store: Store, subject_id: str, purpose: str, *, actor: str) -> WithdrawResult:
    """End one purpose's consent at once; erase the subject when no purpose is left."""
    with store.write_lock:
        store.index.remove_subject(subject_id, purpose)
        now = iso(utc_now())
        with store.write() as conn:
            consent_id = consent.require_consent(conn, subject_id, purpose)
            consent.end_consent(conn, consent_id, status="withdrawn", reason="withdrawn", when=now)
            deleted = store.vault.delete_templates(conn, subject_id, purpose)
            seq = store.audit.append(
                conn,
                actor=actor,
                operation=Op.CONSENT_WITHDRAWN,
                outcome="ok",
                purpose=purpose,
                subject=subject_id,
                rules=["R3", "R18"],
                detail={"templates_deleted": len(deleted)},
            )
            remaining = consent.active_purposes(conn, subject_id)
            intention = None
            if remaining:
                # kept apart from the records before this commits: a restored older
                # record store cannot bring this consent back (recovery re-applies it)
                store.ledger.withdrawn(subject_id, purpose, actor=actor, when=now)
            else:
                # Promised before the withdrawal commits (no other consent can be granted
                # in between: this transaction holds the write lock): a crash from here on
                # leaves an erasure to complete, never a person without consent or key.
                intention = store.ledger.intend(subject_id, reason="consent withdrawn",
                                                scope="all", actor=actor, templates=deleted)
        cert = None
        if intention is not None:
            cert = erase_subject(store, subject_id, reason=intention.reason, actor=actor,
                                 intention=intention)
        else:
            store.settle()
    return WithdrawResult(subject_id, purpose, tuple(deleted), seq, cert)


def sweep(
    store: Store, *, actor: str, now: str, declared: set[str] | None = None,
    max_years_since_last_interaction: int | None = None,
) -> SweepResult:
    """Apply the deletion triggers of PIPL 47 that time or configuration set off (R8, R18):

    - templates past ``expires_at`` are deleted; a purpose left without templates ends;
    - a purpose no longer ``declared`` by the deployment ends and its templates go;
    - with ``max_years_since_last_interaction`` (the packs' number, e.g. BIPA 15(a): P3),
      people not seen for that many years are erased;
    - people left without any purpose are erased, each with a certificate.
    """
    years = max_years_since_last_interaction
    with store.write_lock:
        deleted: dict[str, list[str]] = {}
        ended = _expire_templates(store, actor, now, deleted)
        reasons = dict.fromkeys(deleted, "retention expired")
        if declared is not None:
            before = set(deleted)
            ended += _end_undeclared_purposes(store, actor, now, declared, deleted)
            reasons.update(dict.fromkeys(set(deleted) - before, "purpose ended"))
        with store.records.connect() as conn:
            orphaned = [
                r.id
                for r in conn.execute(sa.select(db.subjects.c.id).where(
                    db.subjects.c.status == "active"))
                if not consent.active_purposes(conn, r.id)
            ]
            stale = _not_seen_for(conn, now, years) if years is not None else []
        certs = [
            erase_subject(store, s, reason=reasons.get(s, "no purpose left"), actor=actor,
                          already_deleted=tuple(deleted.get(s, ())))
            for s in orphaned
        ]
        certs += [
            erase_subject(store, s, reason=f"{years} years since the last interaction (P3)",
                          actor=actor)
            for s in stale if s not in orphaned
        ]
        store.vault.discard_orphan_keys()
        if deleted:
            store.settle()
    return SweepResult(sum(len(v) for v in deleted.values()), ended, tuple(certs))


def _expire_templates(store: Store, actor: str, now: str, deleted: dict[str, list[str]]) -> int:
    with store.records.connect() as conn:
        expired = conn.execute(
            sa.select(db.templates.c.id, db.templates.c.subject_id, db.templates.c.purpose)
            .where(db.templates.c.expires_at <= now)
        ).fetchall()
    groups: dict[tuple[str, str], set[str]] = {}
    for row in expired:
        groups.setdefault((row.subject_id, row.purpose), set()).add(row.id)
    ended = 0
    for (subject_id, purpose), ids in sorted(groups.items()):
        store.index.remove_templates(purpose, ids)
        with store.write() as conn:
            conn.execute(db.templates.delete().where(db.templates.c.id.in_(sorted(ids))))
            left = conn.execute(
                sa.select(sa.func.count()).select_from(db.templates).where(
                    db.templates.c.subject_id == subject_id, db.templates.c.purpose == purpose
                )
            ).scalar_one()
            consent_id = consent.active_consent_id(conn, subject_id, purpose)
            if left == 0 and consent_id is not None:
                consent.end_consent(conn, consent_id, status="expired", reason="retention",
                                    when=now)
                ended += 1
            store.audit.append(
                conn, actor=actor, operation=Op.TEMPLATE_EXPIRED, outcome="ok", purpose=purpose,
                subject=subject_id, rules=["R8", "R18"],
                detail={"templates_deleted": len(ids)},
            )
        deleted.setdefault(subject_id, []).extend(sorted(ids))
    return ended


def _end_undeclared_purposes(
    store: Store, actor: str, now: str, declared: set[str], deleted: dict[str, list[str]]
) -> int:
    """The purpose was met or dropped from the deployment: its consents and templates end."""
    with store.records.connect() as conn:
        rows = conn.execute(
            sa.select(db.consents.c.id, db.consents.c.subject_id, db.consents.c.purpose).where(
                db.consents.c.status == "active", db.consents.c.purpose.not_in(sorted(declared))
            )
        ).fetchall()
    for row in rows:
        store.index.remove_subject(row.subject_id, row.purpose)
        with store.write() as conn:
            consent.end_consent(conn, row.id, status="ended", reason="purpose ended", when=now)
            ids = store.vault.delete_templates(conn, row.subject_id, row.purpose)
            store.audit.append(
                conn, actor=actor, operation=Op.PURPOSE_ENDED, outcome="ok", purpose=row.purpose,
                subject=row.subject_id, rules=["R18"], detail={"templates_deleted": len(ids)},
            )
        deleted.setdefault(row.subject_id, []).extend(ids)
    return len(rows)


def _not_seen_for(conn: sa.Connection, now: str, years: int) -> list[str]:
    """Active subjects whose last interaction is more than ``years`` years before ``now``
    (365 days a year, and one day more: 3 years are at most 1,096 days)."""
    cutoff = iso(parse_iso(now) - timedelta(days=years * 365 + 1))
    last = sa.func.coalesce(db.subjects.c.last_seen_at, db.subjects.c.created_at)
    rows = conn.execute(
        sa.select(db.subjects.c.id).where(db.subjects.c.status == "active", last <= cutoff)
    )
    return [r.id for r in rows]


def decommission(store: Store, *, actor: str) -> DecommissionResult:
    """Erase everyone (service ended, PIPL 47) and sign a summary certificate."""
    with store.write_lock:
        with store.records.connect() as conn:
            people = [r.id for r in conn.execute(
                sa.select(db.subjects.c.id).where(db.subjects.c.status == "active"))]
        certs = [erase_subject(store, s, reason="service ended", actor=actor) for s in people]
        store.vault.discard_orphan_keys()
        now = iso(utc_now())
        with store.write() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(db.templates)).scalar_one()
            cert_id = new_id("c")
            seq = store.audit.append(
                conn, actor=actor, operation=Op.SERVICE_DECOMMISSIONED, outcome="ok",
                rules=["R18"], detail={"people_erased": len(people), "certificate": cert_id,
                                       "templates_left": int(left)},
            )
            summary = certificates.sign(
                DeletionCertificate(
                    certificate_id=cert_id, subject_id="*", reason="service ended",
                    scope="decommission", templates_deleted=(),
                    data_key_destroyed=not store.vault.any_keys(), issued_at=now,
                    audit_seq=seq,
                ),
                store.keyring.signing_key,
            )
            certificates.store(conn, summary)
    return DecommissionResult(len(people), tuple(c.certificate_id for c in certs), summary)


def export_subject(store: Store, subject_id: str, *, actor: str) -> SubjectExport:
    """Identity, consents (with guardian details), template metadata and the subject's
    processing events; never template bytes."""
    with store.write() as conn:
        identity = store.vault.identity(conn, subject_id)
        records = consent.consents_of(conn, subject_id)
        consent_rows = []
        for rec in records:
            item = asdict(rec)
            item["guardian"] = consent.guardian_of(conn, store.vault, rec)
            consent_rows.append(item)
        template_rows = [
            {
                "template_id": r.id,
                "purpose": r.purpose,
                "engine": r.engine,
                "created_at": r.created_at,
                "expires_at": r.expires_at,
            }
            for r in conn.execute(
                sa.select(db.templates).where(db.templates.c.subject_id == subject_id)
            )
        ]
        store.audit.append(
            conn,
            actor=actor,
            operation=Op.SUBJECT_EXPORTED,
            outcome="ok",
            subject=subject_id,
            rules=["R16"],
            detail={"consents": len(consent_rows), "templates": len(template_rows)},
        )
    events = [asdict(e) for e in store.audit.events(subject=subject_id)]
    return SubjectExport(
        subject_id,
        {"external_id": identity.external_id, "name": identity.name},
        consent_rows,
        template_rows,
        events,
    )
