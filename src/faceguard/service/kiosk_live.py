"""The kiosk's live check (R26): a challenge for the person at the kiosk, and their
enrollment from the frames that answer it.

The capture page (``kiosk_capture.html`` with ``kiosk.js``) calls these with the kiosk's
session, as JSON, where the deployment requires liveness:

1. ``POST /kiosk/challenge`` ``{"external_id": ...}``: a challenge issued to the kiosk's key
   and bound to that person (``Challenge.to_wire()``);
2. ``POST /kiosk/enroll.json`` ``{"external_id", "purposes": [...], "liveness": {...}}`` (the
   wire format of ``liveness_wire``): the answer is checked once and its most frontal frame
   enrolled for each purpose the person agreed to.

Refusals are problem details whose ``detail`` is written for the person at the kiosk
(``plain_words``), with the rule and, for liveness, the decision and reason codes in
``errors``; the page shows them and offers a new attempt with a fresh challenge, except
while the person or the kiosk is locked out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from faceguard import i18n
from faceguard.errors import FaceguardError
from faceguard.results import EnrollResult
from faceguard.service.auth import OperatorKey
from faceguard.service.deps import State
from faceguard.service.liveness_wire import json_schema, read_json, to_answer
from faceguard.service.pages_kiosk import plain_words
from faceguard.service.problems import (
    AUTH_ERRORS,
    ProblemError,
    errors_of,
    kind_of,
    responses,
    status_of,
)
from faceguard.service.schemas import (
    ChallengePublic,
    KioskChallengeCreate,
    KioskEnrollCreate,
    KioskEnrolledOne,
    KioskEnrolledPublic,
)

router = APIRouter(prefix="/kiosk", tags=["kiosk"])
LIVE_ERRORS = responses(*AUTH_ERRORS, 403, 404, 409, 413, 415)


def kiosk_problem(exc: FaceguardError, done: list[EnrollResult]) -> ProblemError:
    """A library error as a problem in the person's words, keeping its rule and details."""
    detail = plain_words(exc)
    if done:
        detail += " (Already set up for: " + ", ".join(
            r.purpose.replace("-", " ") for r in done) + ".)"
    errors: list[dict[str, Any]] = [*(errors_of(exc) or []), {"message": str(exc)}]
    return ProblemError(kind_of(exc), detail, rule=exc.rule, status=status_of(exc),
                        errors=errors)


@router.post("/challenge", status_code=status.HTTP_201_CREATED, response_model=ChallengePublic,
             responses=responses(*AUTH_ERRORS),
             summary="Kiosk: a liveness challenge for the person at the kiosk (R26)")
def challenge(state: State, principal: OperatorKey,
              body: KioskChallengeCreate) -> ChallengePublic:
    """Issued to the kiosk's key and bound to ``external_id``; refused while locked out."""
    try:
        issued = state.fg.liveness.issue_challenge(principal.terminal, subject=body.external_id,
                                          actor=principal.actor)
    except FaceguardError as exc:
        raise kiosk_problem(exc, []) from exc
    wire = issued.to_wire()
    # the person reads the movements in the kiosk's language (the REST route answers a
    # program, in English)
    wire["instructions"] = [i18n.gettext(text) for text in wire["instructions"]]
    return ChallengePublic.model_validate(wire)


@router.post("/enroll.json", status_code=status.HTTP_201_CREATED,
             response_model=KioskEnrolledPublic, responses=LIVE_ERRORS,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": json_schema(KioskEnrollCreate)}}}},
             summary="Kiosk: enroll from a live answer (JSON)")
async def enroll_live(request: Request, state: State,
                      principal: OperatorKey) -> KioskEnrolledPublic:
    """One live answer enrolls the person for each purpose they agreed to, or nothing is
    enrolled when it does not pass (R26). The frames are never stored (R9)."""
    body = await read_json(request, KioskEnrollCreate, state.settings.max_liveness_bytes)
    answer = to_answer(body.liveness, principal.terminal)
    done: list[EnrollResult] = []
    for purpose in dict.fromkeys(body.purposes):
        try:
            done.append(await run_in_threadpool(state.fg.enroll, body.external_id, [], purpose,
                                                actor=principal.actor, liveness=answer))
        except FaceguardError as exc:
            raise kiosk_problem(exc, done) from exc
    return KioskEnrolledPublic(
        message="Your pictures were not kept. You can withdraw at any time, and your "
                "template is then erased at once: ask the staff.",
        enrollments=[KioskEnrolledOne(purpose=r.purpose, expires_at=r.expires_at)
                     for r in done])
