"""Liveness challenges (R26) for terminals and the enrolling operator.

``POST /api/v1/liveness/challenges`` issues a challenge to the calling key: the terminal is
the key itself, so only that key can answer it (an answer sent with another key is an attack,
``challenge.wrong_terminal``). ``external_id`` binds it to one person. The answer goes to
the enroll, verify or identify route as a JSON body (``liveness_wire``). While the terminal
or the person is locked out after repeated failures, the challenge is refused (403, R26).
"""

from __future__ import annotations

from fastapi import APIRouter, status

from faceguard.service.auth import CameraKey
from faceguard.service.deps import State
from faceguard.service.problems import AUTH_ERRORS, responses
from faceguard.service.schemas import ChallengeCreate, ChallengePublic

router = APIRouter(prefix="/api/v1/liveness", tags=["liveness"])


@router.post("/challenges", status_code=status.HTTP_201_CREATED, response_model=ChallengePublic,
             responses=responses(*AUTH_ERRORS),
             summary="A liveness challenge for this terminal (R26)")
def issue_challenge(state: State, principal: CameraKey,
                    body: ChallengeCreate | None = None) -> ChallengePublic:
    """A single-use nonce and two or three head movements to film, valid for a few seconds.

    Show ``instructions`` one by one, film the person (unmirrored JPEGs, 6 to 15 frames per
    second, ``min_frames`` to ``max_frames`` in all, within ``max_capture_ms``) and send the
    frames with ``challenge_id`` before ``expires_at``.
    """
    subject = body.external_id if body is not None else None
    challenge = state.fg.liveness.issue_challenge(principal.terminal, subject=subject,
                                         actor=principal.actor)
    return ChallengePublic.model_validate(challenge.to_wire())
