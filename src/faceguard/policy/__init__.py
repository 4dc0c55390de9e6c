"""Law as data: packs (TOML) + the deployment file -> decisions citing rule IDs.

- ``packs``: load and validate the shipped law packs; ``rules_for`` and ``pack_numbers``
  give the rules and the strictest numbers that apply to a deployment.
- ``places``: the closed list of place types (private spaces refused: R13).
- ``facts``: ``DeploymentFacts`` (what the file cannot tell, and its R7/P8 records) and
  ``CheckResult``.
- ``check``: ``check_deployment`` -> ``CheckResult`` ("pass"/"fail" + findings with rule IDs).

Nothing is read at import time; packs load on first use.
"""

from faceguard.policy.check import (
    CHECKS,
    LAW_ENFORCEMENT_AUTHORISATION,
    AssessmentState,
    AssessmentView,
    CheckResult,
    DeploymentFacts,
    Finding,
    IdentificationOutlook,
    check_deployment,
)
from faceguard.policy.packs import (
    Pack,
    PackNumbers,
    Rule,
    get_pack,
    known_pack_ids,
    load_pack,
    pack_numbers,
    rules_for,
)
from faceguard.policy.places import PLACES, PlaceCategory, PlaceType

__all__ = [
    "CHECKS",
    "LAW_ENFORCEMENT_AUTHORISATION",
    "PLACES",
    "AssessmentState",
    "AssessmentView",
    "CheckResult",
    "DeploymentFacts",
    "Finding",
    "IdentificationOutlook",
    "Pack",
    "PackNumbers",
    "PlaceCategory",
    "PlaceType",
    "Rule",
    "check_deployment",
    "get_pack",
    "known_pack_ids",
    "load_pack",
    "pack_numbers",
    "rules_for",
]
