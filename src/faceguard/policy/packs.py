"""Law packs: the rules and numbers of one jurisdiction, as validated TOML data.

A pack is a TOML file shipped in ``faceguard/policy/packs/`` (``cn``, ``cn-draft-2023``,
``gdpr``, ``bipa``, ``eu-ai-act``). Loading validates it strictly: unknown or missing keys,
wrong types, duplicate rule IDs and a ``check`` that names no function of
``faceguard.policy.check`` raise ``ConfigError`` naming the pack file and the key.

A deployment names one or more packs; all of them apply. ``rules_for`` is the union of their
rules (a rule two packs share keeps the stricter kind) plus the rules a shipped pack marks
``applies_always``, and ``pack_numbers`` the strictest of their numbers and flags (the lowest
filing threshold, the highest minors' age, the longest record keeping, the shortest
retention, the lowest useful FNIR, a written release or no sharing if any pack asks for
it).

No code asks which pack is named: whatever differs between jurisdictions is a number, a flag
or a list a pack declares here, read through ``PackNumbers``.

File layout::

    id = "cn"                      # must equal the file name
    title = "..."
    jurisdiction = "..."
    sources = ["...", ...]         # the documents the rules cite
    note = "..."                   # optional

    [numbers]                      # every key optional; see ``PackNumberSpec``
    filing_threshold_people = 100000

    [assessment_sources]           # optional: more sources cited in assessment sections
    lawfulness = ["GDPR 35(7)(b)"]

    [[rules]]
    id = "R13"                     # a rule ID of REQUIREMENTS.md
    kind = "BLOCK"                 # BLOCK | WARN | REPORT
    also = []                      # further kinds the rule may produce (e.g. ["REPORT"])
    source = "FRM 13; CC 1033"
    title = "No devices in private spaces"
    check = "check_private_place"  # a function of faceguard.policy.check; or
    enforced_at = "..."            # where the product enforces it otherwise
    applies_always = true          # optional: applies whatever packs a deployment names ...
    covered_by = ["P7"]            # ... unless a named pack has one of these rules
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from faceguard.errors import ConfigError
from faceguard.policy.deployment import Deployment, describe_validation_error, read_toml

#: BLOCK refuses, WARN proceeds with an alert, REPORT produces evidence (REQUIREMENTS.md).
Kind = Literal["BLOCK", "WARN", "REPORT"]

#: Strictest first: when two packs give one rule different kinds, the earlier one wins.
KIND_ORDER: tuple[Kind, ...] = ("BLOCK", "WARN", "REPORT")

#: Defaults where no named pack sets a number (the product's own floor).
DEFAULT_MINORS_AGE = 14
DEFAULT_ASSESSMENT_RETENTION_YEARS = 3
DEFAULT_SECURITY_LOG_RETENTION_MONTHS = 6
#: Longest retention of any purpose (R8: no unlimited terms); a pack may set a shorter one.
DEFAULT_MAX_RETENTION_DAYS = 3650
#: R17: automatic 1:N answers missing more than this share of enrolled people (FNIR) are
#: warned about, naming the remedies; a pack may set a lower share.
DEFAULT_USEFUL_FNIR = 0.2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PackNumberSpec(_Strict):
    """The numbers one pack sets; absent means the pack says nothing about it."""

    #: People stored at which the filing with the authority is due (R15).
    filing_threshold_people: int | None = Field(default=None, ge=1)
    #: ">=": due on reaching the threshold (FRM 15); ">": due above it (FRD).
    filing_threshold_comparison: Literal[">=", ">"] = ">="
    #: Any public-place use makes the filing due, whatever the count (FRD).
    filing_on_public_place: bool = False
    filing_deadline_working_days: int | None = Field(default=None, ge=1)
    #: From this share of the threshold, in percent, R15 warns that the filing is near.
    filing_warning_percent: int | None = Field(default=None, ge=1, le=99)
    filing_authority: str = ""
    #: R24: more people stored than this is implausible at protection level 1 (GB/T 22240).
    protection_level_1_max_people: int | None = Field(default=None, ge=1)
    #: R24: from this many people stored, level 3 is suggested (GB/T 22240: harm to social
    #: order).
    protection_level_3_suggested_people: int | None = Field(default=None, ge=1)
    #: Under this age a guardian's consent is needed (R5).
    minors_age: int | None = Field(default=None, ge=1, le=21)
    #: Years the impact assessment and processing records are kept (R10, R11).
    assessment_retention_years: int | None = Field(default=None, ge=1)
    #: Months security logs are kept (CSL 21): stated in the protection report (R25).
    security_log_retention_months: int | None = Field(default=None, ge=1)
    #: People stored above which a compliance audit is due every ``..._interval_years`` (R22).
    compliance_audit_people: int | None = Field(default=None, ge=1)
    compliance_audit_interval_years: int | None = Field(default=None, ge=1)
    #: Longest retention of any purpose, in days (R8).
    max_retention_days: int | None = Field(default=None, ge=1)
    #: Destroy at the latest this many years after the last interaction (BIPA 15(a): P3);
    #: the retention sweep erases people not seen for that long.
    max_retention_years_after_last_interaction: int | None = Field(default=None, ge=1)
    #: Liveness at enrollment and verification is compulsory (R26).
    liveness_required: bool = False
    #: Consent must be a written release: a signature or a written form, never a click (P4).
    written_release_required: bool = False
    #: No disclosure of face data to anyone, whatever consent is recorded (P5).
    sharing_forbidden: bool = False
    #: The language people are addressed in by default where the pack's law applies
    #: (``deployment.language`` overrides it; the first pack naming one wins).
    language: Literal["zh-CN", "en"] | None = None
    #: Whose words the generated documents use: PIPL's ``processor`` (personal information
    #: processor, personal information protection impact assessment) or GDPR's
    #: ``controller`` (controller, data protection impact assessment); PIPL's where any
    #: pack names them.
    vocabulary: Literal["processor", "controller"] | None = None
    #: R17: the largest share of enrolled people that automatic 1:N answers may miss (the
    #: false-negative identification rate at the purpose's declared FPIR) before ``check``
    #: warns that identification is not useful as configured, naming the remedies.
    useful_fnir: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _filing_complete(self) -> PackNumberSpec:
        """A pack that sets a filing threshold sets its deadline and warning share too."""
        if self.filing_threshold_people is not None and (
                self.filing_deadline_working_days is None
                or self.filing_warning_percent is None):
            raise ValueError("filing_threshold_people needs filing_deadline_working_days and "
                             "filing_warning_percent")
        return self

class Rule(_Strict):
    """One rule of a pack, citing its source; ``check`` names its deployment check."""

    id: str = Field(pattern=r"^[RP][1-9][0-9]*$")
    kind: Kind
    also: list[Kind] = Field(default_factory=list)
    source: str = Field(min_length=1)
    title: str = Field(min_length=1)
    check: str | None = None
    enforced_at: str = ""
    #: The rule applies to every deployment, whatever packs it names (the product refuses
    #: private spaces and attribute inference, and needs a named processor, declared
    #: purposes and finite retention for any deployment) ...
    applies_always: bool = False
    #: ... unless a named pack has one of these equivalent rules (P7 stands for R27).
    covered_by: list[str] = Field(default_factory=list)

    @field_validator("check")
    @classmethod
    def _known_check(cls, value: str | None, info: ValidationInfo) -> str | None:
        known = (info.context or {}).get("checks")
        if value is not None and known is not None and value not in known:
            raise ValueError(
                f"no check function {value!r} in faceguard.policy.check "
                f"(known: {', '.join(sorted(known))})"
            )
        return value

    @model_validator(mode="after")
    def _enforced_somewhere(self) -> Rule:
        if self.check is None and not self.enforced_at.strip():
            raise ValueError("a rule needs a 'check' or an 'enforced_at' saying where it acts")
        if self.kind in self.also:
            raise ValueError(f"'also' repeats the rule's kind {self.kind!r}")
        if self.covered_by and not self.applies_always:
            raise ValueError("'covered_by' is only meaningful with 'applies_always = true'")
        return self

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Every kind of finding this rule may produce, its own kind first."""
        return (self.kind, *self.also)


class Pack(_Strict):
    """One law pack: its sources, its numbers and its rules."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    note: str = ""
    numbers: PackNumberSpec
    #: Assessment section key -> sources the section also cites when this pack applies.
    assessment_sources: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[Rule] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, value: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in value:
            if rule.id in seen:
                raise ValueError(f"rule {rule.id} appears twice")
            seen.add(rule.id)
        return value

    def rule(self, rule_id: str) -> Rule:
        """The rule ``rule_id`` of this pack; ``KeyError`` if the pack has none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"pack {self.id!r} has no rule {rule_id}")


def _packs_dir() -> Traversable:
    return resources.files("faceguard.policy").joinpath("packs")


@functools.cache
def known_pack_ids() -> tuple[str, ...]:
    """IDs of the packs shipped with faceguard (the file names), sorted."""
    return tuple(
        sorted(f.name[: -len(".toml")] for f in _packs_dir().iterdir()
               if f.name.endswith(".toml"))
    )


def _check_names() -> frozenset[str]:
    from faceguard.policy.check import CHECKS  # check.py imports this module

    return frozenset(CHECKS)


def load_pack(path: Path | Traversable) -> Pack:
    """Read and validate the pack file ``path``; ``ConfigError`` names the file and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"law pack {path} not found") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"law pack {path} is not UTF-8 text") from exc
    data = read_toml(text, f"law pack {path}")
    try:
        pack = Pack.model_validate(data, context={"checks": _check_names()})
    except ValidationError as exc:
        raise ConfigError(f"law pack {path}: {describe_validation_error(exc)}") from exc
    if path.name != f"{pack.id}.toml":
        raise ConfigError(f"law pack {path}: key 'id': {pack.id!r} does not match the file name")
    return pack


@functools.cache
def get_pack(pack_id: str) -> Pack:
    """The shipped pack ``pack_id``, loaded and validated once."""
    if pack_id not in known_pack_ids():
        raise ConfigError(
            f"unknown pack {pack_id!r}; known packs: {', '.join(known_pack_ids())}"
        )
    return load_pack(_packs_dir().joinpath(f"{pack_id}.toml"))


def _merge(first: Rule, other: Rule) -> Rule:
    """One rule named by two packs: the stricter kind, every kind, both sources."""
    kinds = {*first.kinds, *other.kinds}
    kind = next(k for k in KIND_ORDER if k in {first.kind, other.kind})
    also = [k for k in KIND_ORDER if k in kinds and k != kind]
    source = first.source if other.source == first.source else f"{first.source} | {other.source}"
    return first.model_copy(update={"kind": kind, "also": also, "source": source})


def merge_rules(packs: Iterable[Pack]) -> dict[str, Rule]:
    """The union of the rules of ``packs`` in order of appearance, by rule ID."""
    rules: dict[str, Rule] = {}
    for pack in packs:
        for rule in pack.rules:
            rules[rule.id] = _merge(rules[rule.id], rule) if rule.id in rules else rule
    return rules


def product_rules() -> dict[str, Rule]:
    """The rules a shipped pack marks ``applies_always``, by rule ID; the first pack in
    ``known_pack_ids`` order that has one gives it."""
    rules: dict[str, Rule] = {}
    for pack_id in known_pack_ids():
        for rule in get_pack(pack_id).rules:
            if rule.applies_always:
                rules.setdefault(rule.id, rule)
    return rules


def rules_for(deployment: Deployment) -> dict[str, Rule]:
    """Every rule that applies to ``deployment``: the union over the packs it names, plus
    the ``product_rules`` that no named pack covers (by their ID or ``covered_by``)."""
    rules = merge_rules(get_pack(p) for p in deployment.deployment.packs)
    for rule_id, rule in product_rules().items():
        if not any(r in rules for r in (rule_id, *rule.covered_by)):
            rules[rule_id] = rule
    return rules


@dataclass(frozen=True)
class PackNumbers:
    """The strictest numbers across the packs a deployment names: the lowest filing
    threshold and deadline, the highest minors' age, the longest record keeping, the shortest
    retentions, the most frequent compliance audit, the lowest useful FNIR (R17); liveness,
    a written release and no sharing if any pack requires it; every pack's extra assessment
    sources.

    ``filing_threshold_people`` is compared with ``filing_threshold_comparison`` (">=" or
    ">"); ``filing_due(people)`` applies it. ``None`` means no named pack sets the number.
    """

    packs: tuple[str, ...] = ()
    filing_threshold_people: int | None = None
    filing_threshold_comparison: Literal[">=", ">"] = ">="
    filing_on_public_place: bool = False
    filing_deadline_working_days: int | None = None
    filing_warning_percent: int | None = None
    filing_authority: str = ""
    protection_level_1_max_people: int | None = None
    protection_level_3_suggested_people: int | None = None
    minors_age: int = DEFAULT_MINORS_AGE
    assessment_retention_years: int = DEFAULT_ASSESSMENT_RETENTION_YEARS
    security_log_retention_months: int = DEFAULT_SECURITY_LOG_RETENTION_MONTHS
    max_retention_days: int = DEFAULT_MAX_RETENTION_DAYS
    max_retention_years_after_last_interaction: int | None = None
    liveness_required: bool = False
    written_release_required: bool = False
    sharing_forbidden: bool = False
    language: str | None = None
    vocabulary: str | None = None
    useful_fnir: float = DEFAULT_USEFUL_FNIR
    compliance_audit_people: int | None = None
    compliance_audit_interval_years: int | None = None
    #: (assessment section key, sources), in the packs' order; see ``sources_for``.
    assessment_sources: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def sources_for(self, section: str) -> tuple[str, ...]:
        """The sources the packs add to assessment section ``section``, each once."""
        found = (s for key, sources in self.assessment_sources if key == section
                 for s in sources)
        return tuple(dict.fromkeys(found))

    @property
    def filing_min_people(self) -> int | None:
        """The smallest number of people at which the filing is due (R15)."""
        if self.filing_threshold_people is None:
            return None
        extra = 1 if self.filing_threshold_comparison == ">" else 0
        return self.filing_threshold_people + extra

    def filing_due(self, people: int) -> bool:
        """True when ``people`` stored reach the filing threshold (R15)."""
        minimum = self.filing_min_people
        return minimum is not None and people >= minimum


def _strictest_filing(specs: list[PackNumberSpec]) -> PackNumberSpec | None:
    """The spec whose filing is due at the smallest number of people, if any sets one."""
    ranked = [
        (s.filing_threshold_people + (s.filing_threshold_comparison == ">"), i, s)
        for i, s in enumerate(specs)
        if s.filing_threshold_people is not None
    ]
    return min(ranked, key=lambda t: (t[0], t[1]))[2] if ranked else None


def combine_numbers(packs: Iterable[Pack]) -> PackNumbers:
    """The strictest numbers of ``packs`` (see ``PackNumbers``)."""
    chosen = list(packs)
    specs = [p.numbers for p in chosen]
    filing = _strictest_filing(specs)

    def values(name: str) -> list[int]:
        return [v for s in specs if isinstance(v := getattr(s, name), int)]

    deadlines = values("filing_deadline_working_days")
    last_interaction = values("max_retention_years_after_last_interaction")
    audit_people = values("compliance_audit_people")
    audit_years = values("compliance_audit_interval_years")
    return PackNumbers(
        packs=tuple(p.id for p in chosen),
        filing_threshold_people=filing.filing_threshold_people if filing else None,
        filing_threshold_comparison=filing.filing_threshold_comparison if filing else ">=",
        filing_on_public_place=any(s.filing_on_public_place for s in specs),
        filing_deadline_working_days=min(deadlines) if deadlines else None,
        filing_warning_percent=filing.filing_warning_percent if filing else None,
        filing_authority=filing.filing_authority if filing else "",
        protection_level_1_max_people=min(values("protection_level_1_max_people"),
                                          default=None),
        protection_level_3_suggested_people=min(
            values("protection_level_3_suggested_people"), default=None),
        minors_age=max(values("minors_age"), default=DEFAULT_MINORS_AGE),
        assessment_retention_years=max(
            values("assessment_retention_years"), default=DEFAULT_ASSESSMENT_RETENTION_YEARS
        ),
        security_log_retention_months=max(
            values("security_log_retention_months"),
            default=DEFAULT_SECURITY_LOG_RETENTION_MONTHS,
        ),
        max_retention_days=min(values("max_retention_days"),
                               default=DEFAULT_MAX_RETENTION_DAYS),
        max_retention_years_after_last_interaction=min(last_interaction, default=None),
        liveness_required=any(s.liveness_required for s in specs),
        written_release_required=any(s.written_release_required for s in specs),
        sharing_forbidden=any(s.sharing_forbidden for s in specs),
        language=next((s.language for s in specs if s.language), None),
        vocabulary=min((s.vocabulary for s in specs if s.vocabulary), default=None,
                       key=("processor", "controller").index),
        useful_fnir=min((s.useful_fnir for s in specs if s.useful_fnir is not None),
                        default=DEFAULT_USEFUL_FNIR),
        compliance_audit_people=min(audit_people) if audit_people else None,
        compliance_audit_interval_years=min(audit_years) if audit_years else None,
        assessment_sources=tuple(
            (key, tuple(sources)) for p in chosen for key, sources in p.assessment_sources.items()
        ),
    )


def pipl_words(pack_ids: Iterable[str] | None) -> bool:
    """Whether documents for a deployment under ``pack_ids`` use PIPL's words (its packs'
    ``vocabulary``; PIPL's where the packs are unknown or name none)."""
    if pack_ids is None:
        return True
    return combine_numbers(get_pack(p) for p in pack_ids).vocabulary in ("processor", None)


def pack_numbers(deployment: Deployment) -> PackNumbers:
    """The strictest numbers across the packs ``deployment`` names."""
    return combine_numbers(get_pack(p) for p in deployment.deployment.packs)
