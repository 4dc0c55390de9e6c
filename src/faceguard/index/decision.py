"""The 1:N decision rule (R17): automatic where the numbers allow, a doubtful band otherwise.

A purpose that identifies declares the false-positive identification rate (FPIR) it accepts
for automatic answers (``fpir``: the share of strangers a search may name as someone), a
wider rate for the doubtful band (``doubt_fpir``) and what a doubtful answer becomes
(``on_doubt``: "needs-review", a person decides with the candidates; or "unknown", the person
uses the deployment's alternative). ``gallery_thresholds`` turns those rates into distances
for the gallery as it is today (its people and their pictures) with the engine's score
tables, so the thresholds tighten as the gallery grows:

- ``automatic``: the largest distance whose predicted FPIR is at most ``fpir``; ``None`` when
  the calibration cannot vouch for ``fpir`` at this size (then nothing is automatic);
- ``doubtful``: the same for ``doubt_fpir`` (never below ``automatic``).

``decide``: the nearest person within ``automatic``, with nobody else within it, is a match;
anyone within ``doubtful`` otherwise (two people within ``automatic``, or the nearest between
the thresholds) is doubtful; else unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from faceguard.engine.calibration import Calibration
from faceguard.engine.scores import ScoreTable, fnir_at, fpir_at, threshold_for_fpir
from faceguard.errors import PolicyError
from faceguard.index.people import PersonHit
from faceguard.policy.deployment import PurposeSection
from faceguard.policy.facts import IdentificationOutlook

Outcome = Literal["match", "doubtful", "unknown"]


@dataclass(frozen=True)
class IdentificationRule:
    """What a purpose declares for 1:N (its deployment-file keys, R17)."""

    fpir: float
    doubt_fpir: float
    on_doubt: Literal["needs-review", "unknown"]


@dataclass(frozen=True)
class GalleryThresholds:
    """The distances of a rule for one gallery, and what they are predicted to do."""

    people: int
    composition: tuple[tuple[int, int], ...]
    automatic: float | None
    doubtful: float | None
    #: Predicted FPIR and FNIR of automatic answers (FNIR 1.0 when nothing is automatic).
    expected_fpir: float
    expected_fnir: float
    #: Predicted share of strangers landing in the doubtful band or above.
    expected_doubt_fpir: float

    def describe(self) -> str:
        if self.automatic is None:
            return (f"{self.people} people: the calibration cannot vouch for the declared "
                    "FPIR at this size, no automatic match")
        return (f"{self.people} people: automatic match within {self.automatic:.4f}, expected "
                f"FPIR {self.expected_fpir:.2%}, FNIR {self.expected_fnir:.1%}")


def identification_rule(section: PurposeSection) -> IdentificationRule:
    """The rule a purpose's section of the deployment file declares."""
    return IdentificationRule(section.fpir, section.doubt_fpir, section.on_doubt)


def identification_thresholds(calibration: Calibration, composition: Mapping[int, int],
                              rule: IdentificationRule) -> GalleryThresholds:
    """``gallery_thresholds`` with the engine's tables (cached by gallery composition).
    ``PolicyError`` (R17) when the engine's calibration has no 1:N tables: no rate could be
    vouched for."""
    if not calibration.tables:
        raise PolicyError(f"the calibration of engine {calibration.engine} has no 1:N score "
                          "tables, so no identification rate can be vouched for; make one "
                          "with `faceguard calibrate` (docs/CALIBRATION.md)", rule="R17")
    key = (id(calibration.tables), tuple(sorted(composition.items())), rule)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None and found[0] is calibration.tables:
        return found[1]
    limits = gallery_thresholds(calibration.tables, composition, rule)
    with _cache_lock:
        if len(_cache) >= 256:
            _cache.clear()
        _cache[key] = (calibration.tables, limits)  # the tables kept: their id stays theirs
    return limits


_cache: dict[tuple[object, ...], tuple[Mapping[int, ScoreTable], GalleryThresholds]] = {}
_cache_lock = threading.Lock()


def doubt_reason(limits: GalleryThresholds) -> str:
    """Why an answer was doubtful, without scores (R17: clients never get them)."""
    if limits.automatic is None:
        return (f"R17: with {limits.people} people enrolled the engine's calibration cannot "
                "vouch for the purpose's false-positive identification rate, so no answer is "
                "automatic; a person decides")
    return (f"R17: the nearest person is outside the automatic band for {limits.people} "
            "people at the purpose's false-positive identification rate, or two people are "
            "within it; a person decides")


def gallery_thresholds(tables: Mapping[int, ScoreTable], composition: Mapping[int, int],
                       rule: IdentificationRule) -> GalleryThresholds:
    """The thresholds of ``rule`` for a gallery of ``composition`` (``{pictures: people}``)."""
    automatic = threshold_for_fpir(tables, composition, rule.fpir)
    doubtful = threshold_for_fpir(tables, composition, max(rule.doubt_fpir, rule.fpir))
    if automatic is not None and (doubtful is None or doubtful < automatic):
        doubtful = automatic
    return GalleryThresholds(
        people=sum(composition.values()),
        composition=tuple(sorted(composition.items())),
        automatic=automatic,
        doubtful=doubtful,
        expected_fpir=fpir_at(tables, composition, automatic) if automatic is not None else 0.0,
        expected_fnir=fnir_at(tables, composition, automatic) if automatic is not None else 1.0,
        expected_doubt_fpir=(fpir_at(tables, composition, doubtful)
                             if doubtful is not None else 0.0),
    )


def decide(hits: Sequence[PersonHit], thresholds: GalleryThresholds) -> Outcome:
    """The rule's outcome for the people a search found, nearest first."""
    if not hits:
        return "unknown"
    auto = thresholds.automatic
    if auto is not None and hits[0].distance <= auto:
        if len(hits) > 1 and hits[1].distance <= auto:
            return "doubtful"  # two people both within the automatic threshold
        return "match"
    if thresholds.doubtful is not None and hits[0].distance <= thresholds.doubtful:
        return "doubtful"
    return "unknown"


def outlook(calibration: Calibration, purpose: str, composition: Mapping[int, int],
            rule: IdentificationRule) -> IdentificationOutlook:
    """What 1:N search of ``purpose`` is predicted to do at this gallery (for the check)."""
    people = sum(composition.values())
    mean = sum(k * n for k, n in composition.items()) / people if people else 0.0
    if not calibration.tables:
        return IdentificationOutlook(purpose, people, mean, False, False, 0.0, 1.0)
    gallery = dict(composition) or {1: 1}  # an empty gallery: as its first person
    limits = identification_thresholds(calibration, gallery, rule)
    three = identification_thresholds(calibration, {3: max(people, 1)}, rule)
    return IdentificationOutlook(purpose, people, mean, True, limits.automatic is not None,
                                 limits.expected_fpir, limits.expected_fnir,
                                 three.expected_fnir if three.automatic is not None else None)
