"""Subject rights, erasure and retention: the ``Faceguard`` operations of R8, R16-R18."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import db, erasure
from .audit import AuditReport
from .facade import FacadeBase
from .results import SubjectExport, SweepResult
from .timeutil import iso, utc_now


class RightsOps(FacadeBase):
    """Erasure, export, retention sweeps and the processing record."""

    def erase(
        self, external_id: str, *, reason: str = "request", actor: str = "library"
    ) -> erasure.DeletionCertificate:
        """Erase a person now (R18): templates deleted, data key destroyed, certificate."""
        subject = self._require_subject(external_id)
        return erasure.erase_subject(self.store, subject, reason=reason, actor=actor)

    def export(self, external_id: str, *, actor: str = "library") -> SubjectExport:
        """Everything held about a person (R16), template bytes excluded."""
        subject = self._require_subject(external_id)
        return erasure.export_subject(self.store, subject, actor=actor)

    def sweep(self, *, actor: str = "sweep", now: str | None = None) -> SweepResult:
        """Erase every template past its retention (R8, R18)."""
        return erasure.sweep(self.store, actor=actor, now=now or iso(utc_now()))

    def verify_audit(self) -> AuditReport:
        """Check the processing record's hash chain and signatures (R11)."""
        return self.store.audit.verify()

    def stats(self) -> dict[str, Any]:
        """Counts for reports: active subjects, templates per purpose."""
        with self.store.records.connect() as conn:
            people = conn.execute(
                sa.select(sa.func.count()).select_from(db.subjects).where(
                    db.subjects.c.status == "active"
                )
            ).scalar_one()
            per_purpose = {
                r.purpose: r.n
                for r in conn.execute(
                    sa.select(db.templates.c.purpose, sa.func.count().label("n")).group_by(
                        db.templates.c.purpose
                    )
                )
            }
        return {"people": int(people), "templates": per_purpose}
