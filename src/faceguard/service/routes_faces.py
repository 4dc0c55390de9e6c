"""Enrollment (operator), verification and identification (terminal keys, per purpose).

Images arrive as multipart ``image`` parts or a raw body (see ``uploads``). The library does
the work in a worker thread (face extraction is CPU-bound); answers are decisions, never
scores (R17). Each decision's ``audit_seq`` is what ``/explanation`` and review requests use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool

from .auth import OperatorKey, TerminalKey, TerminalPurpose
from .deps import State
from .problems import AUTH_ERRORS, ProblemError, responses
from .schemas import (
    EnrollmentPublic,
    IdentificationPublic,
    VerificationPublic,
    public,
)
from .uploads import openapi_body, read_images

router = APIRouter(prefix="/api/v1/purposes/{purpose}", tags=["faces"])
IMAGE_ERRORS = responses(*AUTH_ERRORS, 400, 404, 409, 413, 415)
ExternalIdHeader = Annotated[str | None, Header(alias="X-External-Id", min_length=1,
                                                max_length=128,
                                                description="the person's external ID, with "
                                                "a raw image body")]
PurposePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]
_ID_FIELD = {"external_id": {"type": "string", "minLength": 1, "maxLength": 128}}


def _external_id(form_value: str | None, header: str | None) -> str:
    value = (form_value if form_value is not None else header or "").strip()
    if not value or len(value) > 128:
        raise ProblemError("validation", "the person's external ID is required (form field "
                           "external_id, or the X-External-Id header with a raw image), "
                           "1-128 characters", status=422)
    return value


@router.post("/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentPublic,
             responses=IMAGE_ERRORS, openapi_extra=openapi_body(_ID_FIELD, many=True),
             summary="Enroll a consenting person's face for a purpose")
async def enroll(
    request: Request, state: State, principal: OperatorKey, purpose: PurposePath,
    external_id: ExternalIdHeader = None,
    replace: Annotated[bool, Query(description="correction (R16): replace the person's "
                                   "templates for this purpose")] = False,
) -> EnrollmentPublic:
    """All images or none are stored; needs the person's valid consent for ``purpose`` (R3)."""
    upload = await read_images(request, limit=state.settings.max_upload_bytes,
                               max_images=state.settings.max_images)
    person = _external_id(upload.get("external_id"), external_id)
    result = await run_in_threadpool(state.fg.enroll, person, upload.images, purpose,
                                     actor=principal.actor, replace=replace)
    return public(EnrollmentPublic, result)


@router.post("/verifications", response_model=VerificationPublic, responses=IMAGE_ERRORS,
             openapi_extra=openapi_body(_ID_FIELD), summary="1:1 - is this the person?")
async def verify(
    request: Request, state: State, principal: TerminalKey, purpose: TerminalPurpose,
    external_id: ExternalIdHeader = None,
) -> VerificationPublic:
    """Compares only with templates stored for ``purpose`` under a valid consent."""
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    person = _external_id(upload.get("external_id"), external_id)
    result = await run_in_threadpool(state.fg.verify, person, upload.images[0], purpose,
                                     actor=principal.actor)
    state.metrics.decision("face.verified", result.decision)
    return VerificationPublic(decision=result.decision, purpose=result.purpose,
                              operating_point=result.operating_point,
                              audit_seq=result.audit_seq)


@router.post("/identifications", response_model=IdentificationPublic, responses=IMAGE_ERRORS,
             openapi_extra=openapi_body({}), summary="1:N - who is this?")
async def identify(
    request: Request, state: State, principal: TerminalKey, purpose: TerminalPurpose,
) -> IdentificationPublic:
    """The matched person's external ID among those consenting to ``purpose``, or unknown."""
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    result = await run_in_threadpool(state.fg.identify, upload.images[0], purpose,
                                     actor=principal.actor)
    state.metrics.decision("face.identified", result.decision)
    return IdentificationPublic(decision=result.decision, purpose=result.purpose,
                                operating_point=result.operating_point,
                                audit_seq=result.audit_seq, external_id=result.external_id,
                                candidates=list(result.candidates), reason=result.reason)
