"""The protection-level report (R24, R25): what faceguard provides at the declared MLPS level,
what the operator must still add, and whether the level is plausible.

Levels come from GB/T 22240-2020 (object harmed x degree of harm: citizens' rights 1/2/2,
social order 2/3/4, national security 3/4/5). The controls are the items of the "security
computing environment" of GB/T 22239-2019 (level 2: clause 7.1.4, level 3: clause 8.1.4):
identification and authentication, access control, security audit, integrity,
confidentiality, backup and recovery, residual information protection, personal
information protection. Each control says who provides it:

- ``library``: in force now, in the faceguard library (this package, any deployment);
- ``service``: comes with the faceguard service (API keys, roles, TOTP, login lockout);
  the service refuses to start at level 3 without them (R25).

Everything else (machine rooms, networks, backups, people) is the operator's: listed in
``operator_tasks``. The plausibility checks are heuristics that warn with their reason;
grading stays the operator's decision (and the public security organ's).

The texts are in the current language (``i18n.use``): English or Chinese with the
standard's own terms (等级保护, 安全计算环境, 身份鉴别, 访问控制, 安全审计...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from faceguard.errors import ConfigError
from faceguard.i18n import gettext as _
from faceguard.policy.packs import DEFAULT_SECURITY_LOG_RETENTION_MONTHS

Provider = Literal["library", "service"]

#: From this many people a leak can seriously harm social order: level 3 is suggested.


@dataclass(frozen=True)
class Control:
    """One GB/T 22239 control and how faceguard meets it."""

    key: str
    name: str
    requirement: str
    provided_by: Provider
    how: str


@dataclass(frozen=True)
class LevelWarning:
    """An implausible level for the place or scale, with the reason (R24)."""

    rule: str
    reason: str
    suggested_level: int


@dataclass(frozen=True)
class ProtectionReport:
    """Controls at the declared level, the operator's share, and plausibility warnings."""

    level: int
    profile: int  # the control profile applied: 2 or 3
    place: str
    public_place: bool
    people: int
    purposes: list[str]
    controls: list[Control]
    operator_tasks: list[str]
    warnings: list[LevelWarning] = field(default_factory=list)

    @property
    def plausible(self) -> bool:
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plausible"] = self.plausible
        return data


def _controls(profile: int, log_months: int = DEFAULT_SECURITY_LOG_RETENTION_MONTHS
              ) -> list[Control]:
    l3 = profile >= 3
    months = {"months": log_months}
    return [
        Control(
            "identity.unique", _("Unique identities"),
            _("every user has a unique identity; authentication information is complex and "
              "changed regularly"),
            "service", _("one API key per user; every processing event records the actor"),
        ),
        Control(
            "identity.failed_login",
            _("Failed-login handling and two factors") if l3 else _("Failed-login handling"),
            _("lock out or end the session after repeated failures; time out idle sessions; "
              "two or more authentication factors, one of them cryptographic") if l3 else
            _("lock out or end the session after repeated failures; time out idle sessions"),
            "service",
            _("lockout after repeated failed logins; TOTP as second factor") if l3 else
            _("lockout after repeated failed logins"),
        ),
        Control(
            "access.least_privilege",
            _("Least privilege, separate roles") if l3 else _("Least privilege"),
            _("grant the least privileges needed; remove default accounts; separate "
              "administrator, auditor and operator roles") if l3 else
            _("grant the least privileges needed; remove default accounts"),
            "service",
            (_("separate admin, auditor and operator roles; no account holds two")
             if l3 else _("roles per API key; read-only auditor role")),
        ),
        Control(
            "audit.processing", _("Audit of processing"),
            _("audit every user and important security event; protect the records; keep them "
              ">= %(months)s months (CSL 21)") % months,
            "library",
            _("every enrollment, match, export, share and deletion appended to a hash-chained "
              "record with Ed25519-signed checkpoints; never pruned by the library (kept >= 3 "
              "years, R11)"),
        ),
        Control(
            "audit.user_actions", _("Audit of user actions"),
            _("log logins, failures and administrative actions; keep >= %(months)s months")
            % months,
            "service", _("service logins and key management recorded in the processing "
                         "record"),
        ),
        Control(
            "integrity", _("Integrity (cryptographic)") if l3 else _("Integrity"),
            (_("cryptographic integrity of important data in transit and at rest")
             if l3 else _("integrity checks for important data in transit")),
            "library",
            _("AES-256-GCM authentication tags bound to subject and record IDs; hash chain and "
              "signatures over the processing record"),
        ),
        Control(
            "confidentiality",
            _("Confidentiality at rest (cryptographic)") if l3 else _("Confidentiality at rest"),
            (_("cryptographic confidentiality of important data in transit and at rest")
             if l3 else _("protect important data in storage")),
            "library",
            _("templates and identities encrypted with AES-256-GCM under per-person keys, "
              "wrapped by a master key kept outside the database"),
        ),
        Control(
            "backup", _("Backup and recovery"),
            _("local backup and recovery of important data; off-site real-time backup; "
              "redundancy of key systems") if l3 else
            _("local backup and recovery of important data"),
            "library",
            _("record store and key store are separate files; a record-store backup holds "
              "ciphertext only, so erasures stay effective in old backups"),
        ),
        Control(
            "residual", _("Residual data clearing"),
            _("clear authentication information; fully clear storage holding sensitive data "
              "before reuse") if l3 else _("clear authentication information"),
            "library",
            _("raw images only in memory; crypto-shredding of a person's key on erasure; "
              "SQLite secure_delete overwrites deleted rows"),
        ),
        Control(
            "personal_information", _("Personal information protection"),
            _("collect and keep only what the service needs; forbid unauthorised access and "
              "use"),
            "library",
            _("consent-gated enrollment per purpose, per-purpose partitions, finite retention "
              "with automatic erasure"),
        ),
    ]


def _operator_tasks(profile: int, public_place: bool, log_months: int) -> list[str]:
    tasks = [
        _("Physical security: locked machine room or cabinet, tamper-resistant cameras and "
          "devices, visitor records."),
        _("Network boundary: firewall and segmentation; no inbound internet access to the "
          "gallery; TLS on every network link."),
        _("Backups: regular backups of the record store, kept off-site, and of the key store "
          "kept apart from them; tested restores."),
        _("Master key custody: who holds it, where it is stored (ideally an HSM or KMS), how "
          "it is rotated."),
        _("Host hardening, patching and malware protection; time synchronisation for audit "
          "timestamps."),
        _("Security logs of hosts and network devices kept >= %(months)s months (CSL 21).")
        % {"months": log_months},
        _("Staff training and written security management rules, roles and "
          "responsibilities."),
        _("Vulnerability scanning and penetration testing; an incident response plan (R22)."),
        _("MLPS filing with the local public security organ for level 2 and above."),
    ]
    if profile >= 3:
        tasks.append(_("Level 3: off-site real-time backup and redundant key systems; a "
                       "security management centre; MLPS evaluation at least once a year."))
    if public_place:
        tasks.append(_("Public place: signage as recorded, and physical protection of "
                       "devices in the collection area."))
    return tasks


def _warnings(level: int, public_place: bool, people: int, purposes: list[str],
              level_1_max_people: int | None, level_3_people: int | None
              ) -> list[LevelWarning]:
    found: list[LevelWarning] = []
    if level == 1:
        if level_1_max_people is not None and people > level_1_max_people:
            found.append(LevelWarning(
                "R24", _("level 1 for %(people)s people: a leak of biometric data of more "
                         "than %(max)s people seriously harms citizens' rights (GB/T 22240: "
                         "level 2)") % {"people": f"{people:,}",
                                        "max": f"{level_1_max_people:,}"}, 2))
        if public_place:
            found.append(LevelWarning(
                "R24", _("level 1 in a public place: a failure harms social order and the "
                         "public interest, not only individuals (GB/T 22240: level 2 or "
                         "above)"), 2))
        if "payment-verification" in purposes:
            found.append(LevelWarning(
                "R24", _("level 1 for payment verification: a false match causes financial "
                         "loss (GB/T 22240: serious harm to citizens' rights, level 2)"), 2))
    if level <= 2 and level_3_people is not None and people >= level_3_people:
        found.append(LevelWarning(
            "R24", _("level %(level)s for %(people)s people: a leak at this scale can "
                     "seriously harm social order (GB/T 22240: level 3)")
            % {"level": level, "people": f"{people:,}"}, 3))
    if level >= 4:
        found.append(LevelWarning(
            "R24", _("level %(level)s concerns national security or especially serious harm "
                     "to social order; faceguard provides level 3 controls only, the rest "
                     "must be added and evaluated") % {"level": level}, level))
    return found


def protection_report(level: int, place: str, public_place: bool, people: int,
                      purposes: list[str], *,
                      security_log_months: int = DEFAULT_SECURITY_LOG_RETENTION_MONTHS,
                      level_1_max_people: int | None = None,
                      level_3_people: int | None = None) -> ProtectionReport:
    """The controls at ``level`` (profile 2 for levels 1-2, 3 for 3-5), the operator's
    remaining tasks, and plausibility warnings for the place and scale (R24, R25).
    ``security_log_months``: how long security logs are kept (the packs'
    ``security_log_retention_months``, CSL 21)."""
    if not 1 <= level <= 5:
        raise ConfigError(f"protection_level must be 1..5, not {level}", rule="R24")
    profile = 3 if level >= 3 else 2
    return ProtectionReport(
        level=level, profile=profile, place=place, public_place=public_place, people=people,
        purposes=list(purposes), controls=_controls(profile, security_log_months),
        operator_tasks=_operator_tasks(profile, public_place, security_log_months),
        warnings=_warnings(level, public_place, people, list(purposes), level_1_max_people,
                           level_3_people),
    )


def controls_in_force(level: int, *, service: bool) -> list[str]:
    """Names of the controls in force: the library's always, the service's when it runs.

    Meant for ``AssessmentFacts.controls``: pass ``service=True`` only when the deployment
    is served by the faceguard service with its keys, roles and lockout configured.
    """
    profile = 3 if level >= 3 else 2
    return [c.name for c in _controls(profile) if service or c.provided_by == "library"]
