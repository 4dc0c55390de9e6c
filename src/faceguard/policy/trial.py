"""The trial deployment that ``faceguard serve --dev`` makes in an empty folder.

A trial runs the whole product on photos (enroll, verify, identify over REST and in the
pages) with no file edited, so a newcomer reaches a first match in minutes. It is not a
lawful deployment for real people, and says so wherever it shows: ``deployment.trial =
true`` makes every check carry the ``TRIAL_REASONS`` as warnings, every page a banner and
every generated document a notice. Each reason names the rule a production deployment under
the ``cn`` pack must meet instead.

Going live is one change, documented in the file itself: replace its ``[deployment]`` lines
marked ``# trial`` with the production values shown beside them, then draft and approve a
real assessment (``faceguard assess --init``, ``faceguard assess --approve --by NAME``).
"""

from __future__ import annotations

from faceguard.policy.deployment import Deployment
from faceguard.policy.facts import Finding

#: The purpose a trial declares, and the one its printed commands use.
TRIAL_PURPOSE = "access-control"

#: Who "approves" a trial's assessment: a label, not a person.
TRIAL_APPROVER = "nobody (trial made by faceguard serve --dev; no DPO has read this)"

#: Why a trial would not be lawful in production under ``cn``: (rule, what is missing).
TRIAL_REASONS: tuple[tuple[str, str], ...] = (
    ("R10", "its impact assessment was approved automatically by `faceguard serve --dev`, "
            "not by a DPO who judged necessity, risks and safeguards"),
    ("R26", "liveness is off; under `cn` enrollment and verification must prove a live "
            "person (a photo is refused)"),
    ("R3", "consents are typed in by the operator; under `cn` each person gives a separate "
           "consent (单独同意) after reading the notice, e.g. at the kiosk"),
    ("R14", "the master key is a throwaway development key kept beside the data"),
    ("R1", "the purpose and necessity are sample texts, not this site's"),
)

TRIAL_TOML = """\
# faceguard TRIAL deployment, made by `faceguard serve --dev` in this folder.
# It runs on photos so you can try enroll, verify and identify at once. It is NOT lawful
# for real people: `faceguard check` lists why (R10, R26, R3, R14, R1).
#
# To go live under Chinese law, replace the five lines marked "# trial" with the values
# after "->", remove "trial = true", then run `faceguard assess --init`, let the DPO
# complete assessment.toml and run `faceguard assess --approve --by NAME`; `faceguard
# check` then says what else is missing, citing the rule.
[deployment]
name = "faceguard trial"
trial = true                      # trial -> remove this line
controller = "Trial operator (replace with the legal name of the processor)"
contact = "privacy@trial.invalid"
packs = ["gdpr"]                  # trial -> ["cn"]
place = "office-entrance"         # trial -> your place type (README, "Place types")
public_place = false
protection_level = 2
alternatives = ["staff-card", "reception-desk"]
transmission = "local"
assessment = "assessment.toml"
liveness = "off"                  # trial -> "required" (R26 under cn)
consent_methods = ["click", "signature", "written"]

[purposes.access-control]
necessity = "Trial: staff open the door hands-free; cards remain available."   # trial
retention_days = 30
operating_point = "access-control"
"""


def trial_findings(deployment: Deployment) -> list[Finding]:
    """The warnings every check of a trial carries (none for a real deployment)."""
    if not deployment.deployment.trial:
        return []
    return [Finding(rule, "WARN", f"TRIAL deployment, not lawful in production under cn: "
                                  f"{reason}") for rule, reason in TRIAL_REASONS]
