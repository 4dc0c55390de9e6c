"""The closed list of processing purposes (R1), and the ones that exist only to be refused.

A deployment declares its purposes from ``PURPOSES``; every operation names one of them.
Purposes that infer attributes or emotions are listed in ``FORBIDDEN_PURPOSES`` so that
declaring one is refused with its rule, not with "unknown": the deployment file accepts the
name, ``faceguard check`` (``faceguard.policy.check``) fails with R27 (and P7 under the
``eu-ai-act`` pack), and every operation naming one is refused by ``check_purpose_name``.
"""

from __future__ import annotations

from faceguard.errors import PurposeError

#: Allowed purposes, each with a one-line description.
PURPOSES: dict[str, str] = {
    "access-control": "Opening a door, gate or turnstile for enrolled people.",
    "attendance": "Recording arrival and departure of staff or students.",
    "identity-verification": "Confirming a claimed identity (1:1) for a service.",
    "payment-verification": "Confirming the payer's identity at a payment counter.",
    "parcel-pickup": "Opening a parcel locker for its addressee.",
    "public-safety": "Public-safety use in a public place (R12).",
    "visitor-management": "Admitting pre-registered visitors.",
    "exam-identity": "Checking candidates' identity at an examination.",
}

#: Purposes that may never be declared: attribute or emotion inference (R27: GB/T 41819,
#: FRD; P7: AIA 5(1)(f), (g)), each with the rule ID that refuses it.
FORBIDDEN_PURPOSES: dict[str, str] = {
    "emotion-analysis": "R27",
    "race-classification": "R27",
    "ethnicity-inference": "R27",
    "religion-inference": "R27",
    "health-inference": "R27",
    "age-gender-inference": "R27",
    "sexual-orientation-inference": "R27",
    "political-opinion-inference": "R27",
    "performance-scoring": "R27",
    "financial-status-inference": "R27",
}


def check_purpose_name(purpose: str) -> None:
    """Raise ``PurposeError`` for a forbidden (R27) or unknown (R1) purpose name."""
    if purpose in FORBIDDEN_PURPOSES:
        raise PurposeError(
            f"purpose {purpose!r} infers attributes or emotions from faces and cannot be "
            "declared",
            rule=FORBIDDEN_PURPOSES[purpose],
        )
    if purpose not in PURPOSES:
        raise PurposeError(
            f"unknown purpose {purpose!r}; allowed purposes: {', '.join(sorted(PURPOSES))}"
        )
