"""A trained model's score fused with the other evidence of a presentation (R26).

The passive check carries the model's score (scorer ``onnx``); the colour and depth checks
say how strong the rest of the evidence is. Two rules, set by ``PadConfig`` (its
``model_doubt``, ``colour_strong`` and ``model_outweighed``; docs/LIVENESS.md, "How it
works"):

- a score in doubt (from ``doubt`` up to the model's threshold) passes only where the
  colours followed strongly and, where judged, depth passed; otherwise a ``fusion`` retry
  (``passive.doubtful``);
- a score from the threshold up to ``outweighed``, where it alone made the passive check an
  attack, is outweighed (the passive check passes, ``outweighed`` = 1 in its scores) where a
  colour challenge was answered strongly, its light judged as reflected by skin, and depth
  passed. The model, a third party's of unknown provenance, then cannot alone refuse what
  the challenge proved; without a challenge (recordings, single pictures) its threshold
  stands. Measured on 275 answers of each kind (docs/LIVENESS.md): the model's false
  attacks on live faces scored 0.52 to 0.95, 16 of 18 under 0.9; of the replays that only
  the model refused, 7 of 8 scored 0.97 or more, one 0.94.
"""

from __future__ import annotations

from faceguard.liveness.types import CheckResult


def fuse(checks: list[CheckResult], threshold: float, *, doubt: float,
         agreement: float, outweighed: float | None) -> list[CheckResult]:
    """``checks`` with the model's verdict fused (see the module docstring); ``threshold``
    is the model's, ``agreement`` the colours' agreement that counts as strong."""
    passive = next((c for c in checks if c.name == "passive"), None)
    score = None if passive is None else passive.scores.get("onnx")
    if passive is None or score is None:
        return checks
    by_name = {c.name: c for c in checks}
    colour = by_name.get("colour")
    depth = by_name.get("depth")
    colour_strong = colour is not None and colour.outcome == "pass" and colour.scores.get(
        "agreement", 0.0) >= agreement
    depth_passed = depth is not None and depth.outcome == "pass"
    if passive.outcome == "attack":
        # colour_strong implies a colour check: its light judged as reflected by skin
        reflected = colour is not None and "reflected" in colour.scores
        if (outweighed is not None and score < outweighed and colour_strong and reflected
                and depth_passed and [r.code for r in passive.reasons] == ["passive.onnx"]):
            return [CheckResult("passive", "pass", (), {**passive.scores, "outweighed": 1.0})
                    if c is passive else c for c in checks]
        return checks
    if passive.outcome != "pass" or not doubt <= score < threshold:
        return checks
    strong = (colour is not None or depth is not None) and (
        colour is None or colour_strong) and (depth is None or depth_passed)
    if strong:
        return checks
    return [*checks, CheckResult.failed(
        "fusion", "retry", "passive.doubtful",
        f"the presentation-attack model is in doubt (score {score:.2f}, attack from "
        f"{threshold:.2f}) and the other evidence is not strong enough to outweigh it",
        model_score=score)]
