"""Enrollment (operator), verification and identification (terminal keys, per purpose).

Images arrive as multipart ``image`` parts or a raw body (see ``uploads``), or, where the
person must be shown live (R26), as a JSON body answering a liveness challenge (see
``liveness_wire``): the face recognised is then the answer's most frontal frame. Where
liveness is required an image without an answer is refused (R26). The library does the work
in a worker thread (face extraction is CPU-bound); answers are decisions, never scores
(R17). Each decision's ``audit_seq`` is what ``/explanation`` and review requests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool

from faceguard.audit.operations import Op
from faceguard.liveness import LivenessAnswer
from faceguard.service.auth import OperatorKey, Principal, TerminalKey, TerminalPurpose
from faceguard.service.deps import ServiceState, State
from faceguard.service.liveness_wire import is_json, json_schema, read_json, to_answer
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses
from faceguard.service.schemas import (
    EnrollmentPublic,
    IdentificationPublic,
    LiveFaceCreate,
    LiveIdentifyCreate,
    VerificationPublic,
    public,
)
from faceguard.service.uploads import openapi_body, read_images

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
        raise ProblemError("validation", "the person's external ID is required (field "
                           "external_id, or the X-External-Id header with a raw image), "
                           "1-128 characters", status=422)
    return value


@dataclass
class Probe:
    """What a request brought: images (none with a liveness answer), or a live answer."""

    images: list[bytes]
    external_id: str | None
    liveness: LivenessAnswer | None


async def read_probe(request: Request, state: ServiceState, principal: Principal, *,
                     max_images: int, identify: bool = False) -> Probe:
    """Images (multipart or raw), or a JSON liveness answer from ``principal``'s terminal."""
    if is_json(request):
        limit = state.settings.max_liveness_bytes
        if identify:
            found = await read_json(request, LiveIdentifyCreate, limit)
            return Probe([], None, to_answer(found.liveness, principal.terminal))
        body = await read_json(request, LiveFaceCreate, limit)
        return Probe([], body.external_id, to_answer(body.liveness, principal.terminal))
    upload = await read_images(request, limit=state.settings.max_upload_bytes,
                               max_images=max_images)
    return Probe(upload.images, upload.get("external_id"), None)


@router.post("/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentPublic,
             responses=IMAGE_ERRORS, openapi_extra=openapi_body(
                 _ID_FIELD, many=True, live=json_schema(LiveFaceCreate)),
             summary="Enroll a consenting person's face for a purpose")
async def enroll(
    request: Request, state: State, principal: OperatorKey, purpose: PurposePath,
    external_id: ExternalIdHeader = None,
    replace: Annotated[bool, Query(description="correction (R16): replace the person's "
                                   "templates for this purpose")] = False,
    face: Annotated[str | None, Query(
        max_length=64, pattern=r"^(centre|\d+,\d+,\d+,\d+)$",
        description="where a picture holds several faces: 'centre' (the face nearest the "
                    "centre) or the box 'left,top,right,bottom' in pixels")] = None,
) -> EnrollmentPublic:
    """All images or none are stored; needs the person's valid consent for ``purpose`` (R3).
    A liveness answer enrolls its most frontal frame; the same answer may enroll the person
    in each of their purposes, once each, within a minute (R26)."""
    probe = await read_probe(request, state, principal, max_images=state.settings.max_images)
    person = _external_id(probe.external_id, external_id)
    result = await run_in_threadpool(state.fg.enroll, person, probe.images, purpose,
                                     actor=principal.actor, replace=replace,
                                     liveness=probe.liveness, face=face)
    return public(EnrollmentPublic, result)


@router.post("/verifications", response_model=VerificationPublic, responses=IMAGE_ERRORS,
             openapi_extra=openapi_body(_ID_FIELD, live=json_schema(LiveFaceCreate)),
             summary="1:1 - is this the person?")
async def verify(
    request: Request, state: State, principal: TerminalKey, purpose: TerminalPurpose,
    external_id: ExternalIdHeader = None,
) -> VerificationPublic:
    """Compares only with templates stored for ``purpose`` under a valid consent."""
    probe = await read_probe(request, state, principal, max_images=1)
    person = _external_id(probe.external_id, external_id)
    # with a liveness answer the library recognises its live frame instead of the image
    image = probe.images[0] if probe.images else b""
    result = await run_in_threadpool(state.fg.verify, person, image, purpose,
                                     actor=principal.actor, liveness=probe.liveness)
    state.metrics.decision(Op.FACE_VERIFIED, result.decision)
    return VerificationPublic(decision=result.decision, purpose=result.purpose,
                              operating_point=result.operating_point,
                              audit_seq=result.audit_seq)


@router.post("/identifications", response_model=IdentificationPublic, responses=IMAGE_ERRORS,
             openapi_extra=openapi_body({}, live=json_schema(LiveIdentifyCreate)),
             summary="1:N - who is this?")
async def identify(
    request: Request, state: State, principal: TerminalKey, purpose: TerminalPurpose,
) -> IdentificationPublic:
    """The matched person's external ID among those consenting to ``purpose``, or unknown."""
    probe = await read_probe(request, state, principal, max_images=1, identify=True)
    image = probe.images[0] if probe.images else b""
    result = await run_in_threadpool(state.fg.identify, image, purpose,
                                     actor=principal.actor, liveness=probe.liveness)
    state.metrics.decision(Op.FACE_IDENTIFIED, result.decision)
    return IdentificationPublic(decision=result.decision, purpose=result.purpose,
                                operating_point=result.operating_point,
                                audit_seq=result.audit_seq, external_id=result.external_id,
                                candidates=list(result.candidates), reason=result.reason)
