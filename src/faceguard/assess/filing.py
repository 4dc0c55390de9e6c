"""Filing with the cyberspace authority (R15): status, deadline and the filing packet.

The numbers come from the pack (``policy.pack_numbers``), passed in as plain parameters:

- ``cn`` (FRM 15, final): ``threshold=100_000, inclusive=True`` (reaching 100,000 people),
  ``public_place_triggers=False``.
- ``cn-draft-2023`` (FRD): ``threshold=10_000, inclusive=False`` (more than 10,000 people),
  ``public_place_triggers=True`` (any public-place use).

Once the obligation arises its date is recorded by the caller (``crossed_on``); the deadline
is 30 working days later (``workdays``). The obligation stays once recorded, even if the
count falls below the threshold again (fail closed), until ``filed_on`` is recorded.
The texts (``detail``, warnings) are in the current language (``i18n.use``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from faceguard.assess.assessment import (
    Assessment,
    AssessmentFacts,
    _jsonable,
    deployment_fingerprint,
)
from faceguard.assess.workdays import add_working_days, working_days_between
from faceguard.errors import ConfigError, FaceguardError
from faceguard.i18n import gettext as _
from faceguard.i18n import ngettext
from faceguard.policy.deployment import Deployment
from faceguard.policy.purposes import PURPOSES


@dataclass(frozen=True)
class FilingStatus:
    """Whether filing is required, by when, and whether it is late (R15)."""

    required: bool
    approaching: bool
    crossed_on: date | None
    deadline: date | None  # None when not required, or the calendar does not cover it
    overdue: bool
    detail: str
    people: int = 0
    threshold: int = 0
    inclusive: bool = True
    trigger: str = ""  # "count", "public-place", "count+public-place" or ""
    newly_crossed: bool = False  # True: the caller must record crossed_on (today) now
    filed_on: date | None = None
    working_days_left: int | None = None

    @property
    def threshold_text(self) -> str:
        return ngettext("%(op)s %(num)s person", "%(op)s %(num)s people", self.threshold) % {
            "op": ">=" if self.inclusive else ">", "num": f"{self.threshold:,}"}


def filing_status(people: int, threshold: int, *, inclusive: bool, public_place_triggers: bool,
                  public_place: bool, crossed_on: date | None, today: date,
                  filed_on: date | None = None,
                  working_days: int, warning_percent: int) -> FilingStatus:
    """The filing status for ``people`` distinct people stored, on ``today``.

    ``approaching`` is true from ``warning_percent`` of the threshold until the count
    reaches it. When the
    obligation arises and no ``crossed_on`` was recorded, ``crossed_on`` is ``today`` and
    ``newly_crossed`` tells the caller to record it. If the holiday calendar does not cover
    the deadline's year, ``deadline`` is None and ``detail`` says why. ``working_days`` is
    the pack's deadline (30 in both Chinese packs), ``warning_percent`` its warning share.
    """
    if threshold < 1 or people < 0:
        raise ConfigError(f"filing threshold must be >= 1 and people >= 0 (got {threshold}, "
                          f"{people})", rule="R15")
    by_count = people >= threshold if inclusive else people > threshold
    by_place = public_place_triggers and public_place
    trigger = "+".join(t for t, on in (("count", by_count), ("public-place", by_place)) if on)
    limit = f"{'>=' if inclusive else '>'} {threshold:,}"
    status = FilingStatus(False, False, None, None, False, "", people=people,
                          threshold=threshold, inclusive=inclusive, trigger=trigger,
                          filed_on=filed_on)
    stored = ngettext("%(num)s person stored", "%(num)s people stored", people) % {
        "num": f"{people:,}"}
    if not (by_count or by_place or crossed_on is not None):
        if people * 100 >= threshold * warning_percent:
            return replace(status, approaching=True, detail=_(
                "R15: %(stored)s, %(share)s%% of the filing threshold (%(limit)s); prepare "
                "the filing packet") % {"stored": stored, "share": people * 100 // threshold,
                                        "limit": limit})
        return replace(status, detail=_("%(stored)s; filing threshold (%(limit)s) not "
                                        "reached") % {"stored": stored, "limit": limit})
    crossed = crossed_on or today
    status = replace(status, required=True, crossed_on=crossed,
                     newly_crossed=crossed_on is None)
    values = {"stored": stored, "limit": limit, "day": crossed, "num": f"{people:,}"}
    reason = {"count": _("%(stored)s, threshold %(limit)s"),
              "public-place": _("public-place use"),
              "count+public-place": _("%(stored)s, threshold %(limit)s, and public-place "
                                      "use"),
              "": _("threshold reached on %(day)s, count now %(num)s")}[trigger] % values
    try:
        deadline = add_working_days(crossed, working_days)
    except FaceguardError as exc:
        return replace(status, detail=_(
            "R15: filing required (%(reason)s) since %(day)s; file as soon as possible: the "
            "deadline is unknown: %(error)s") % {"reason": reason, "day": crossed,
                                                 "error": exc.message})
    status = replace(status, deadline=deadline)
    if filed_on is not None:
        return replace(status, detail=_("R15: filing required (%(reason)s); filed on "
                                        "%(day)s") % {"reason": reason, "day": filed_on})
    if today > deadline:
        return replace(status, overdue=True, detail=_(
            "R15: filing OVERDUE: required since %(day)s (%(reason)s); the deadline was "
            "%(deadline)s") % {"day": crossed, "reason": reason, "deadline": deadline})
    try:
        left: int | None = working_days_between(today, deadline)
    except FaceguardError:
        left = None
    detail = _("R15: filing required since %(day)s (%(reason)s); file with the cyberspace "
               "authority by %(deadline)s (%(days)s working days)") % {
        "day": crossed, "reason": reason, "deadline": deadline, "days": working_days}
    if left is not None:
        detail += ngettext("; %(num)s working day left", "; %(num)s working days left",
                           left) % {"num": left}
    return replace(status, working_days_left=left, detail=detail)


@dataclass(frozen=True)
class Processor:
    name: str
    contact: str
    deployment: str


@dataclass(frozen=True)
class PurposeEntry:
    name: str
    description: str
    necessity: str
    retention_days: int
    templates: int


@dataclass(frozen=True)
class Methods:
    place: str
    public_place: bool
    collection_area: str
    signage: str
    transmission: str
    liveness: str
    alternatives: list[str]
    processing: str


@dataclass(frozen=True)
class FilingPacket:
    """Everything the filing needs (FRM 15), as plain data; ``to_json`` is its JSON twin."""

    generated_on: date
    authority: str
    processor: Processor
    purposes: list[PurposeEntry]
    methods: Methods
    people: int
    status: FilingStatus
    protection_level: int
    safeguards: list[str]
    rules: list[dict[str, str]]
    assessment: Assessment | None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["assessment"] = self.assessment.to_dict() if self.assessment else None
        data["status"]["threshold_text"] = self.status.threshold_text
        result: dict[str, Any] = _jsonable(data)
        return result

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def filing_packet(deployment: Deployment, facts: AssessmentFacts,
                  assessment: Assessment | None, status: FilingStatus, *,
                  rules: list[dict[str, str]], authority: str = "") -> FilingPacket:
    """The filing packet: processor, purposes, methods, count, safeguards, the rules applied
    (``rules``: dicts such as ``{"id": "R15", "kind": "WARN", "source": "FRM 15"}``) and the
    assessment. ``warnings`` list what would make the filing incomplete."""
    dep = deployment.deployment
    warnings = []
    if assessment is None:
        warnings.append(_("R10: no impact assessment; the filing must include an approved "
                          "one"))
    elif assessment.approval is None:
        warnings.append(_("R10: the impact assessment is not approved"))
    elif assessment.approval.deployment_sha256 != deployment_fingerprint(deployment):
        warnings.append(_("R10: reassessment required: purposes/place/method changed since "
                          "approval on %(day)s") % {"day": assessment.approval.at.date()})
    if not status.required:
        warnings.append(_("R15: filing is not required yet; this packet is preparatory"))
    return FilingPacket(
        generated_on=facts.as_of,
        authority=authority,
        processor=Processor(dep.controller, dep.contact, dep.name),
        purposes=[
            PurposeEntry(name, _(PURPOSES[name]) if name in PURPOSES else "", _(p.necessity),
                         facts.retention_days.get(name, p.retention_days),
                         facts.templates.get(name, 0))
            for name, p in sorted(deployment.purposes.items())
        ],
        methods=Methods(
            dep.place, dep.public_place, dep.collection_area, dep.signage, dep.transmission,
            dep.liveness, list(dep.alternatives),
            _("Face images are turned into encrypted templates on the operator's equipment; "
              "images are discarded at once; matching per purpose under valid consent"),
        ),
        people=facts.people_enrolled,
        status=status,
        protection_level=facts.protection_level,
        safeguards=list(facts.controls),
        rules=[dict(r) for r in rules],
        assessment=assessment,
        warnings=warnings,
    )
