"""Go-live and reporting: the deployment check, impact assessment, filing, protection level.

``Faceguard.governance``: the operations of R10, R15, R24 and the packs. The deployment file
is judged together with facts only the running system knows (people enrolled, the state
of the assessment file, whether a presentation-attack detector is configured); enroll,
verify and identify refuse, citing the first violated rule, while the check fails.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from faceguard import db, i18n
from faceguard.api.core import Part
from faceguard.assess import (
    Assessment,
    AssessmentFacts,
    FilingPacket,
    FilingStatus,
    ProtectionReport,
    approve,
    assessment_path,
    assessment_state,
    controls_in_force,
    draft_assessment,
    filing_packet,
    filing_status,
    load_assessment,
    protection_report,
    save_assessment,
    save_draft,
)
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError
from faceguard.index.decision import identification_rule, outlook
from faceguard.policy import CheckResult, DeploymentFacts, check_deployment, pack_numbers, rules_for
from faceguard.rights import views
from faceguard.timeutil import iso, utc_now

_CROSSED_KEY = "filing.crossed_on"

#: The longest text the DPO may write in one section of the assessment.
MAX_SECTION_CHARS = 20_000

#: How long the go-live verdict is reused before the people count is read again.
GATE_RECHECK_SECONDS = 2.0


class Governance(Part):
    """The check, the assessment, the filing packet and the protection-level report."""

    def people_enrolled(self) -> int:
        """Distinct people with at least one stored template, across all purposes (R15)."""
        with self._core.store.records.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count(sa.distinct(db.templates.c.subject_id)))
            ).scalar_one()
        return int(count)

    def facts(self) -> DeploymentFacts:
        """What the running system knows that the deployment file cannot say."""
        with self._core.store.records.connect() as conn:
            sizes = views.galleries(conn, iso(utc_now()))
        return DeploymentFacts(
            people_enrolled=self.people_enrolled(),
            assessment=assessment_state(self._core.deployment, self._core.config_dir),
            pad_available=self._core.pad_available,
            identification=tuple(
                outlook(self._core.calibration, name, sizes.get(name, {}),
                        identification_rule(sec))
                for name, sec in self._core.deployment.purposes.items()),
        ).with_records_of(self._core.deployment)

    def check(self) -> CheckResult:
        """Evaluate the deployment and its packs now (``faceguard check``)."""
        return check_deployment(self._core.deployment, self.facts())

    def require_live(self) -> None:
        """Refuse processing while the deployment fails its check (rule of the first
        violation, e.g. R10 without an approved assessment, R13 in a hotel room).

        Every enroll, verify and identify passes here, so the verdict is cached: it is
        recomputed at once when the assessment file changes on disk (size, time or inode)
        or this process enrolls or erases someone, and at least every
        ``GATE_RECHECK_SECONDS`` for what other processes change (the people count).
        """
        path = assessment_path(self._core.deployment, self._core.config_dir)
        try:
            info = path.stat() if path is not None else None
            key: tuple[object, ...] = (
                (info.st_mtime_ns, info.st_size, info.st_ino) if info else None,
                self._core.pad_available, id(self._core.deployment),
            )
        except OSError:
            key = ("missing", self._core.pad_available, id(self._core.deployment))
        cached = self._core.gate_cache
        now = time.monotonic()
        if cached is not None and cached[0] == key and now < cached[1]:
            result = cached[2]
        else:
            result = self.check()
            self._core.gate_cache = (key, now + GATE_RECHECK_SECONDS, result)
        result.raise_if_failed()

    # ---- impact assessment (R10, P2) ----------------------------------------------------

    def _assessment_file(self) -> Path:
        path = assessment_path(self._core.deployment, self._core.config_dir)
        if path is None:
            raise ConfigError("deployment.assessment names no file", rule="R10")
        return path

    def _assessment_facts(self) -> AssessmentFacts:
        stats = dataclasses.replace(self._core.stats(), people=self.people_enrolled())
        level = self._core.deployment.deployment.protection_level
        return dataclasses.replace(AssessmentFacts.from_stats(
            self._core.deployment, stats, controls=controls_in_force(level, service=False),
            as_of=date.today(), filing=self.filing_status(),
        ), identification=self.facts().identification)

    def draft_assessment(self, *, actor: str = "library") -> tuple[Path, Assessment]:
        """Write a draft assessment prefilled from the deployment and the records
        (``faceguard assess --init``); an earlier approved one is archived, not lost."""
        path = self._assessment_file()
        previous = load_assessment(path) if path.exists() else None
        language = self._core.language()
        with i18n.use(language):  # the facts' texts (controls) too
            facts = self._assessment_facts()
        draft = draft_assessment(self._core.deployment, facts, previous=previous,
                                 language=language)
        archived = save_draft(path, draft)
        with self._core.store.write() as conn:
            self._core.store.audit.append(
                conn, actor=actor, operation=Op.ASSESSMENT_DRAFTED, outcome="ok", rules=["R10"],
                detail={"file": path.name, "pending": len(draft.pending),
                        "archived": archived.name if archived else None},
            )
        return path, draft

    def approve_assessment(self, by: str, *, actor: str = "library") -> Assessment:
        """Record the approval (``faceguard assess --approve --by NAME``)."""
        path = self._assessment_file()
        approved = approve(path, self._core.deployment, by)
        approval = approved.approval
        assert approval is not None
        with self._core.store.write() as conn:
            self._core.store.audit.append(
                conn, actor=actor, operation=Op.ASSESSMENT_APPROVED, outcome="ok",
                rules=["R10"],
                detail={"by": approval.by, "content_sha256": approval.content_sha256,
                        "deployment_sha256": approval.deployment_sha256,
                        "keep_until": approval.keep_until.isoformat()},
            )
        return approved

    def write_section(self, key: str, text: str, *, actor: str = "library") -> Assessment:
        """Write the DPO's text of one section of the drafted assessment (what the CLI flow
        does by hand in the TOML file). Refused (R10) without a drafted assessment or for a
        section it does not have. The text is kept as written: a placeholder left in it
        keeps the section pending, and editing an approved assessment requires approving
        it again, as editing the file does."""
        path = self._assessment_file()
        found = load_assessment(path)
        keys = [s.key for s in found.sections]
        if key not in keys:
            raise ConfigError(f"the assessment has no section {key!r}; its sections are "
                              f"{', '.join(keys)}", rule="R10")
        if len(text) > MAX_SECTION_CHARS:
            raise ConfigError(f"the text of section {key!r} has {len(text):,} characters; at "
                              f"most {MAX_SECTION_CHARS:,} are kept", rule="R10")
        text = text.replace("\r\n", "\n").strip()
        updated = replace(found, sections=tuple(
            replace(s, dpo=text) if s.key == key else s for s in found.sections))
        save_assessment(path, updated)
        with self._core.store.write() as conn:
            self._core.store.audit.append(
                conn, actor=actor, operation=Op.ASSESSMENT_EDITED, outcome="ok",
                rules=["R10"],
                detail={"file": path.name, "section": key, "chars": len(text),
                        "complete": updated.section(key).complete,
                        "pending": len(updated.pending)})
        return updated

    def assessment(self) -> Assessment:
        return load_assessment(self._assessment_file())

    # ---- filing (R15) and protection level (R24, R25) -----------------------------------

    def filing_status(self, today: date | None = None) -> FilingStatus | None:
        """Where the count stands against the packs' filing threshold; records the day it
        is first crossed (with an R15 event). ``None`` when no pack sets a threshold."""
        numbers = pack_numbers(self._core.deployment)
        threshold = numbers.filing_threshold_people
        days, percent = numbers.filing_deadline_working_days, numbers.filing_warning_percent
        if threshold is None or days is None or percent is None:  # the packs set all or none
            return None
        today = today or date.today()
        with self._core.store.records.connect() as conn:
            stored = conn.execute(
                sa.select(db.settings.c.value).where(db.settings.c.key == _CROSSED_KEY)
            ).scalar()
        status = filing_status(
            self.people_enrolled(), threshold,
            inclusive=numbers.filing_threshold_comparison == ">=",
            public_place_triggers=numbers.filing_on_public_place,
            public_place=self._core.deployment.deployment.public_place,
            crossed_on=date.fromisoformat(stored) if stored else None, today=today,
            working_days=days, warning_percent=percent,
        )
        if status.newly_crossed and status.crossed_on is not None:
            with self._core.store.write() as conn:
                conn.execute(db.settings.insert().values(
                    key=_CROSSED_KEY, value=status.crossed_on.isoformat()))
                self._core.store.audit.append(
                    conn, actor="system", operation=Op.FILING_THRESHOLD_CROSSED,
                    outcome="ok", rules=["R15"],
                    detail={"people": status.people, "threshold": status.threshold,
                            "deadline": status.deadline.isoformat() if status.deadline
                            else None},
                )
        return status

    def filing(self, *, actor: str = "library") -> FilingPacket:
        """The filing packet for the cyberspace authority (``faceguard filing``)."""
        status = self.filing_status()
        if status is None:
            raise ConfigError("none of the deployment's packs requires filing", rule="R15")
        path = self._assessment_file()
        packet = filing_packet(
            self._core.deployment, replace(self._assessment_facts(), filing=status),
            load_assessment(path) if path.exists() else None, status,
            rules=[{"id": r.id, "kind": r.kind, "source": r.source, "title": r.title}
                   for r in rules_for(self._core.deployment).values()],
            authority=pack_numbers(self._core.deployment).filing_authority,
        )
        with self._core.store.write() as conn:
            self._core.store.audit.append(
                conn, actor=actor, operation=Op.FILING_PACKET_MADE, outcome="ok",
                rules=["R15"], detail={"people": status.people, "at": iso(utc_now())},
            )
        return packet

    def protection(self) -> ProtectionReport:
        """Controls provided at the declared level and what the operator must add."""
        dep = self._core.deployment.deployment
        numbers = pack_numbers(self._core.deployment)
        return protection_report(dep.protection_level, dep.place, dep.public_place,
                                 self.people_enrolled(), sorted(self._core.deployment.purposes),
                                 security_log_months=numbers.security_log_retention_months,
                                 level_1_max_people=numbers.protection_level_1_max_people,
                                 level_3_people=numbers.protection_level_3_suggested_people)
