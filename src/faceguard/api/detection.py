"""The faces of a photo, boxed for an operator to choose the one to enroll (the enroll page).

Detection only: nothing aligned, recognised or kept; the photo stays in memory (R9). It runs
where extraction runs (a worker process when the service has them, so a crash stays
there), behind the gate enrollment passes (purpose declared, R1; deployment check, R10
and the rest), and is recorded as ``faces.detected`` (R11), refusals too.
"""

from __future__ import annotations

from faceguard.api.core import Core
from faceguard.api.governance import Governance
from faceguard.audit.operations import Op
from faceguard.engine.pipeline import FacesFound, find_faces

__all__ = ["FacesFound", "detect_faces"]


def detect_faces(core: Core, governance: Governance, image: bytes, purpose: str,
                 actor: str) -> FacesFound:
    """Every face's box in ``image`` (decoded, EXIF-oriented pixels), largest first, with
    whether it is big enough for the enrollment gate."""
    with core.recorded(Op.FACES_DETECTED, actor, purpose):
        core.purpose(purpose)
        governance.require_live()
        limits, smallest = core.image_limits, core.enroll_gate.min_face_px
        found = (core.extractor.find_faces(image, limits=limits, min_face_px=smallest)
                 if core.extractor is not None
                 else find_faces(core.engine, image, limits=limits, min_face_px=smallest))
    core.store.commit(lambda conn: core.store.audit.append(
        conn, actor=actor, operation=Op.FACES_DETECTED, outcome="ok", purpose=purpose,
        rules=["R9", "R11"], detail={"faces": len(found.boxes), "usable": sum(found.usable),
                                     "width": found.width, "height": found.height}))
    return found
