"""Same person in every frame: template distances within one presentation.

An attacker could perform the movements with their own head and slip in frames of the victim
(or the other way round). The frames' templates (the engine's embeddings of the aligned faces)
must all lie within ``max_distance`` of their medoid (the template closest to all others), so
a minority of frames of someone else stands out. The default is the engine's
``access-control`` operating point (FMR 0.1% on LFW); frames of one person taken seconds apart
are far closer than the photos of one person in LFW, even across a head turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceguard.liveness.types import CheckResult

#: ``access-control`` threshold of the dlib ResNet engine (calibration_dlib-resnet-v1.json).
DLIB_ACCESS_CONTROL = 0.552026


@dataclass(frozen=True)
class ConsistencyPolicy:
    """``max_distance``: largest template distance from the presentation's medoid template."""

    max_distance: float = DLIB_ACCESS_CONTROL
    min_templates: int = 2


def check_identity(
    vectors: Sequence[np.ndarray], frame_numbers: Sequence[int],
    policy: ConsistencyPolicy | None = None,
) -> CheckResult:
    """The ``identity`` check over the templates of several frames.

    ``frame_numbers`` are the frames' indexes in the presentation (for the message).
    """
    policy = policy or ConsistencyPolicy()
    if len(vectors) < policy.min_templates:
        return CheckResult.failed(
            "identity", "retry", "identity.too_few",
            f"a face could be embedded in {len(vectors)} frames; "
            f"{policy.min_templates} needed", templates=float(len(vectors)))
    stack = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    distances = np.linalg.norm(stack[:, None, :] - stack[None, :, :], axis=2)
    medoid = int(np.argmin(distances.sum(axis=1)))
    farthest = int(np.argmax(distances[medoid]))
    worst = float(distances[medoid, farthest])
    scores = {"max_distance": worst, "templates": float(len(vectors))}
    if worst > policy.max_distance:
        a, b = sorted((int(frame_numbers[medoid]) + 1, int(frame_numbers[farthest]) + 1))
        return CheckResult.failed(
            "identity", "attack", "identity.changed",
            f"frames {a} and {b} show different people (template distance {worst:.2f} > "
            f"{policy.max_distance:.2f})", **scores)
    return CheckResult("identity", "pass", (), scores)
