"""R17's check: what 1:N search is predicted to do at today's gallery, per purpose.

The predictions (``IdentificationOutlook``) come from the engine's calibration and the people
enrolled (``index.decision.outlook``); this module only words them and judges whether the
declared FPIR can be had at a useful FNIR, naming the remedies where it cannot.
"""

from __future__ import annotations

from faceguard.policy.deployment import Deployment
from faceguard.policy.facts import DeploymentFacts, Finding, IdentificationOutlook
from faceguard.policy.packs import PackNumbers


def check_identification_outlook(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R17: what 1:N search is predicted to do at today's gallery size under each purpose's
    declared FPIR (REPORT), and a warning when automatic answers cannot meet it at a useful
    FNIR (at most the packs' ``useful_fnir`` share of enrolled people missed, 20% where no
    pack sets one), naming the remedies."""
    found = []
    for outlook in facts.identification:
        section = deployment.purposes.get(outlook.purpose)
        if section is None:
            continue
        found.extend(_outlook_findings(outlook, section.fpir, section.on_doubt,
                                       numbers.useful_fnir))
    return found


def _outlook_findings(outlook: IdentificationOutlook, fpir: float, on_doubt: str,
                      useful_fnir: float) -> list[Finding]:
    name = outlook.purpose
    key = f"key 'purposes.{name}.fpir' = {fpir:g}"
    if not outlook.calibrated:
        return [Finding("R17", "WARN", f"purpose {name!r}: the engine's calibration has no 1:N "
                        "score tables, so identification is refused until `faceguard "
                        "calibrate` makes them")]
    # the check's texts are English whatever the request's language (a verdict is cached)
    who = "person" if outlook.people == 1 else "people"
    size = (f"{outlook.people:,} {who} enrolled ({outlook.mean_pictures:.1f} pictures "
            "each on average)")
    if outlook.automatic:
        expected = (f"expected FPIR {outlook.expected_fpir:.2%}, FNIR "
                    f"{outlook.expected_fnir:.1%}")
    else:
        expected = "the calibration cannot vouch for this rate at this size: nothing automatic"
    found = [Finding("R17", "REPORT", f"purpose {name!r}: {size}, {key}: {expected}; "
                     f"doubtful answers go to {on_doubt!r}")]
    if not outlook.automatic or outlook.expected_fnir > useful_fnir:
        remedies = ["more pictures per person"
                    + (f" (3 fused pictures: FNIR {outlook.fnir_with_three_pictures:.1%})"
                       if outlook.fnir_with_three_pictures is not None else ""),
                    "1:1 verification with a card or PIN instead of identification",
                    "a stronger engine, calibrated on your own people (`faceguard calibrate`)"]
        found.append(Finding("R17", "WARN", f"purpose {name!r}: automatic identification "
                             f"cannot meet {key} at a useful FNIR (at most {useful_fnir:.0%} "
                             "of enrolled people missed: the law packs' 'useful_fnir') with "
                             f"{outlook.people:,} people; "
                             f"remedies: {'; '.join(remedies)}"))
    return found
