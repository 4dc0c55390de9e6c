"""The personal-information protection impact assessment (R10; FRM 9; PIPL 55, 56; GDPR 35 = P2).

Lifecycle::

    draft_assessment(deployment, facts)  ->  save_draft(path, draft)      faceguard assess --init
    the DPO replaces every "TO BE COMPLETED BY THE DPO: ..." text in the TOML file
    approve(path, deployment, by=...)                                     faceguard assess --approve
    assessment_state(deployment, base_dir)  ->  present / approved / matches_deployment

The file is TOML at the deployment's ``assessment`` path (relative to the folder of
``faceguard.toml``). Approval records the approver, the time, ``content_hash`` (SHA-256 of
everything but the approval) and ``deployment_fingerprint`` (SHA-256 of the purposes, place
and method). A later change of either makes ``matches_deployment`` false: "reassessment
required". An approved assessment is kept at least 3 years (``keep_until``); ``save_draft``
archives a replaced approved assessment next to it instead of overwriting it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceguard import i18n
from faceguard.assess import sections as drafting
from faceguard.assess.sections import PLACEHOLDER, SECTION_KEYS, todo
from faceguard.assess.storage import dump_toml, parse_assessment_toml
from faceguard.errors import ConfigError
from faceguard.policy.deployment import Deployment
from faceguard.policy.facts import IdentificationOutlook
from faceguard.policy.packs import pack_numbers
from faceguard.results import Stats
from faceguard.timeutil import iso, utc_now

if TYPE_CHECKING:
    from faceguard.assess.filing import FilingStatus

__all__ = [
    "PLACEHOLDER", "SECTION_KEYS", "Approval", "Assessment", "AssessmentFacts",
    "AssessmentState", "Section", "approve", "assessment_path", "assessment_state",
    "content_hash", "deployment_fingerprint", "draft_assessment", "keep_until",
    "load_assessment", "may_delete", "save_assessment", "save_draft",
]

@dataclass(frozen=True)
class AssessmentFacts:
    """Measured facts the draft is prefilled from (``Faceguard.stats()`` and the deployment)."""

    people_enrolled: int
    templates: dict[str, int]
    protection_level: int
    controls: list[str]
    alternatives: list[str]
    retention_days: dict[str, int]
    as_of: date
    filing: FilingStatus | None = None
    minors_enrolled: int | None = None
    #: 1:N predictions per purpose at today's gallery (R17), from ``faceguard check``.
    identification: tuple[IdentificationOutlook, ...] = ()

    @classmethod
    def from_stats(cls, deployment: Deployment, stats: Stats, *, controls: list[str],
                   as_of: date, filing: FilingStatus | None = None) -> AssessmentFacts:
        """Facts from ``Faceguard.stats()`` (people held, templates per purpose)."""
        dep = deployment.deployment
        return cls(
            people_enrolled=stats.people,
            templates=dict(stats.templates),
            protection_level=dep.protection_level,
            controls=list(controls),
            alternatives=list(dep.alternatives),
            retention_days={n: p.retention_days for n, p in deployment.purposes.items()},
            as_of=as_of,
            filing=filing,
        )


@dataclass(frozen=True)
class Section:
    """One named section: generated facts, and the DPO's text where a person must judge."""

    key: str
    title: str
    sources: tuple[str, ...]
    prefilled: str
    needs_human: bool
    dpo: str = ""

    @property
    def complete(self) -> bool:
        """No placeholder left anywhere, and the DPO wrote something where required."""
        if PLACEHOLDER in self.prefilled or PLACEHOLDER in self.dpo:
            return False
        return not self.needs_human or bool(self.dpo.strip())


@dataclass(frozen=True)
class Approval:
    """Who approved, when, and the hashes that approval covers."""

    by: str
    at: datetime
    content_sha256: str
    deployment_sha256: str
    keep_until: date


@dataclass(frozen=True)
class Assessment:
    """An impact assessment: header, sections in ``SECTION_KEYS`` order, optional approval."""

    deployment: str
    controller: str
    drafted_on: date
    deployment_sha256: str  # fingerprint of the deployment this draft describes
    sections: tuple[Section, ...]
    approval: Approval | None = None

    def section(self, key: str) -> Section:
        for item in self.sections:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def pending(self) -> list[str]:
        """Keys of the sections that still need the DPO."""
        return [s.key for s in self.sections if not s.complete]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["content_sha256"] = content_hash(self)
        result: dict[str, Any] = _jsonable(data)
        return result


@dataclass(frozen=True)
class AssessmentState:
    """What the go-live check needs to know about the deployment's assessment (R10)."""

    present: bool
    approved: bool
    matches_deployment: bool
    detail: str
    assessment: Assessment | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.present and self.approved and self.matches_deployment


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sha256(material: Any) -> str:
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def deployment_fingerprint(deployment: Deployment) -> str:
    """SHA-256 over what a reassessment depends on: purposes (necessity, retention, operating
    point), place, public_place, collection_area, transmission, packs, liveness and
    protection level, and the transmission basis (R7) and authorisations (P8) when the file
    records them. Name, contact, signage and alternatives are not part of it."""
    dep = deployment.deployment
    records: dict[str, Any] = {}
    if deployment.transmission_basis is not None:
        records["transmission_basis"] = deployment.transmission_basis.model_dump(mode="json")
    if deployment.authorisations:
        records["authorisations"] = [a.model_dump(mode="json")
                                     for a in deployment.authorisations]
    return _sha256({
        "v": "faceguard-deployment-fingerprint-1",
        "purposes": {
            name: {"necessity": p.necessity, "retention_days": p.retention_days,
                   "operating_point": p.operating_point}
            for name, p in deployment.purposes.items()
        },
        "place": dep.place,
        "public_place": dep.public_place,
        "collection_area": dep.collection_area,
        "transmission": dep.transmission,
        "packs": sorted(dep.packs),
        "liveness": dep.liveness,
        "protection_level": dep.protection_level,
        **records,
    })


def content_hash(assessment: Assessment) -> str:
    """SHA-256 over the header and every section (everything but the approval)."""
    return _sha256(_jsonable({
        "v": "faceguard-assessment-content-1",
        "deployment": assessment.deployment,
        "controller": assessment.controller,
        "drafted_on": assessment.drafted_on,
        "deployment_sha256": assessment.deployment_sha256,
        "sections": [asdict(s) for s in assessment.sections],
    }))


def _carried(old: Section, previous: Assessment, same: bool) -> str:
    """The DPO text of a previous assessment, to be reviewed unless nothing changed."""
    if same and previous.approval is None:
        return old.dpo
    when = previous.approval.at.date().isoformat() if previous.approval else "an earlier draft"
    return todo(f"review the text carried over from the assessment of {when} against the "
                f"changes, then delete this line.\n\n{old.dpo}")


def draft_assessment(deployment: Deployment, facts: AssessmentFacts, *,
                     previous: Assessment | None = None,
                     language: i18n.Language = "en") -> Assessment:
    """A complete draft: every section of ``SECTION_KEYS``, prefilled from the deployment and
    ``facts`` in ``language`` (``zh-CN``: with the texts' own Chinese terms); sections
    needing a person hold ``PLACEHOLDER`` text. With ``previous``, the DPO's texts are
    carried over (kept as they are only from an unapproved draft of the same deployment;
    otherwise wrapped in a review placeholder)."""
    with i18n.use(language):
        return _draft(deployment, facts, previous)


def _draft(deployment: Deployment, facts: AssessmentFacts, previous: Assessment | None
           ) -> Assessment:
    dep = deployment.deployment
    fingerprint = deployment_fingerprint(deployment)
    numbers = pack_numbers(deployment)
    built = []
    for key, (title, sources, drafter) in drafting.SECTIONS.items():
        draft = drafter(deployment, facts)
        cited = sources + tuple(s for s in numbers.sources_for(key) if s not in sources)
        dpo = todo(draft.prompt) if draft.prompt is not None else ""
        if previous is not None and draft.prompt is not None:
            old = next((s for s in previous.sections if s.key == key), None)
            if old is not None and old.dpo.strip() and PLACEHOLDER not in old.dpo:
                dpo = _carried(old, previous, previous.deployment_sha256 == fingerprint)
        built.append(Section(key, title, cited, draft.prefilled, draft.prompt is not None, dpo))
    return Assessment(dep.name, dep.controller, facts.as_of, fingerprint, tuple(built))


def keep_until(approved_at: datetime, years: int) -> date:
    """The last day an assessment approved at ``approved_at`` must be kept: the ``years``th
    anniversary of the approval date (29 February: 1 March). Keeping that whole day makes
    the period at least ``years`` years in any time zone."""
    day = approved_at.date()
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def may_delete(assessment: Assessment, today: date, *, in_force: bool = False) -> bool:
    """True when the assessment may be deleted: never while in force; an approved one only
    after its ``keep_until`` date; a draft never approved at any time."""
    if in_force:
        return False
    if assessment.approval is None:
        return True
    return today > assessment.approval.keep_until


def save_assessment(path: Path, assessment: Assessment) -> None:
    """Write ``assessment`` as TOML, atomically (a temporary file renamed over ``path``)."""
    text = dump_toml(_jsonable(asdict(assessment)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_assessment(path: Path) -> Assessment:
    """Read and validate an assessment file; ``ConfigError`` names the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"assessment file {path} not found; the DPO drafts and approves "
                          "one", rule="R10") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"assessment file {path} is not UTF-8 text") from exc
    data = parse_assessment_toml(text, source=str(path), keys=SECTION_KEYS)
    approval = data["approval"]
    return Assessment(
        deployment=data["deployment"],
        controller=data["controller"],
        drafted_on=data["drafted_on"],
        deployment_sha256=data["deployment_sha256"],
        sections=tuple(Section(**s) for s in data["sections"]),
        approval=Approval(**approval) if approval is not None else None,
    )


def save_draft(path: Path, draft: Assessment) -> Path | None:
    """Write a new draft to ``path``. An approved assessment already there is first renamed to
    ``<stem>.approved-<date>[-n].toml`` (kept >= 3 years); its path is returned. An unreadable
    file there is refused rather than overwritten."""
    archived: Path | None = None
    if path.exists():
        existing = load_assessment(path)
        if existing.approval is not None:
            stamp = existing.approval.at.date().isoformat()
            archived = path.with_name(f"{path.stem}.approved-{stamp}{path.suffix}")
            number = 2
            while archived.exists():
                archived = path.with_name(f"{path.stem}.approved-{stamp}-{number}{path.suffix}")
                number += 1
            os.replace(path, archived)
    save_assessment(path, draft)
    return archived


def approve(path: Path, deployment: Deployment, by: str, when: datetime | None = None
            ) -> Assessment:
    """Approve the assessment at ``path`` for ``deployment``: record ``by``, ``when`` (default
    now; naive times are taken as UTC), the content hash, the deployment fingerprint and the
    keep-until date (the packs' ``assessment_retention_years``).
    Refuses (``ConfigError``, R10) while placeholders remain, when the draft describes a
    different deployment, or when it is already approved and unchanged."""
    if not by.strip():
        raise ConfigError("approval needs the approver's name (--by)", rule="R10")
    assessment = load_assessment(path)
    fingerprint = deployment_fingerprint(deployment)
    if assessment.deployment_sha256 != fingerprint:
        raise ConfigError(
            f"{path} was drafted on {assessment.drafted_on} for different purposes, place or "
            "method than the deployment has now; draft it again (the DPO's texts are carried "
            "over for review)", rule="R10")
    if assessment.pending:
        raise ConfigError(
            f"cannot approve {path}: sections still to be completed by the DPO (replace "
            f"'{PLACEHOLDER}' texts): {', '.join(assessment.pending)}", rule="R10")
    digest = content_hash(assessment)
    old = assessment.approval
    if old is not None and old.content_sha256 == digest and old.deployment_sha256 == fingerprint:
        raise ConfigError(f"{path} is already approved by {old.by} on {old.at.date()} and "
                          "unchanged since", rule="R10")
    moment = when or utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    years = pack_numbers(deployment).assessment_retention_years
    approved = replace(assessment, approval=Approval(
        by.strip(), moment, digest, fingerprint, keep_until(moment, years)))
    save_assessment(path, approved)
    return approved


def assessment_path(deployment: Deployment, base_dir: Path) -> Path | None:
    """The assessment file of ``deployment``; relative paths are relative to ``base_dir``
    (the folder of faceguard.toml). ``None`` when the deployment names none."""
    name = deployment.deployment.assessment.strip()
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else base_dir / path


def assessment_state(deployment: Deployment, base_dir: Path, *,
                     incident_at: datetime | None = None) -> AssessmentState:
    """Present, approved and matching the deployment now? ``incident_at`` (the last major
    security incident, R22) after the approval also requires reassessment. Never raises for
    a bad file: the problem is in ``detail`` and the state fails closed."""
    path = assessment_path(deployment, base_dir)
    if path is None:
        return AssessmentState(False, False, False,
                               "no assessment declared (deployment.assessment is empty)")
    if not path.exists():
        return AssessmentState(False, False, False, f"assessment file {path} not found; the "
                               "DPO drafts and approves one")
    try:
        found = load_assessment(path)
    except ConfigError as exc:
        return AssessmentState(True, False, False, exc.message)
    fingerprint = deployment_fingerprint(deployment)
    approval = found.approval
    if approval is None:
        pending = found.pending
        detail = "draft not approved" + (
            f"; sections to be completed by the DPO: {', '.join(pending)}" if pending else "")
        return AssessmentState(True, False, found.deployment_sha256 == fingerprint, detail,
                               found)
    on = approval.at.date().isoformat()
    if approval.deployment_sha256 != fingerprint:
        detail = f"reassessment required: purposes/place/method changed since approval on {on}"
    elif approval.content_sha256 != content_hash(found):
        detail = (f"reassessment required: the assessment was edited after its approval on "
                  f"{on} (content hash differs); approve it again")
    elif incident_at is not None and _aware(incident_at) > approval.at:
        detail = (f"reassessment required: incident on {incident_at.date()} after approval "
                  f"on {on}")
    else:
        return AssessmentState(True, True, True, f"approved by {approval.by} on {on}", found)
    return AssessmentState(True, True, False, detail, found)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
