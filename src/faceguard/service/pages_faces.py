"""The operator's face pages: enroll a consenting person from photos, and try verify and
identify on an uploaded picture.

- ``/enroll``: records the person's consent (who took it, the method, the evidence, the
  notice version and the language it was read in) and enrolls one or more photos, through
  the same library calls as ``POST /api/v1/consents`` and ``POST .../enrollments``. Where a
  photo holds several faces the page shows them (boxes over the picture, drawn by
  ``/-/static/enroll.js`` from ``/enroll/faces.json``) and the operator clicks the one to
  enroll; the box goes with the photo (``face_<n>``). Without JavaScript, the answer page
  shows the faces found and asks for the choice and the photos again.
- ``/try``: verify (1:1) or identify (1:N) a picture for a purpose; the page shows the
  decision exactly as a terminal gets it (the same JSON, or the same problem with its rule),
  in words, and the processing-record event it made.

Photos are read into memory only (``uploads.read_images``) and dropped after the request
(R9); an answer page that shows a photo back to the operator inlines it, it is never kept.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from faceguard.api.faceguard import Faceguard
from faceguard.audit.operations import Op
from faceguard.engine.pipeline import FaceChoice
from faceguard.errors import FaceguardError
from faceguard.fixes import fix_for
from faceguard.i18n import LANGUAGES
from faceguard.results import plain
from faceguard.service.auth import OperatorKey, Principal
from faceguard.service.deps import ServiceState, State
from faceguard.service.language import page_language
from faceguard.service.pages import HTML_ERRORS, JSON_ERRORS
from faceguard.service.problems import (
    AUTH_ERRORS,
    Problem,
    ProblemError,
    from_error,
    responses,
    status_of,
)
from faceguard.service.schemas import (
    ConsentReceiptPublic,
    EnrollmentPublic,
    IdentificationPublic,
    VerificationPublic,
    public,
)
from faceguard.service.templating import render
from faceguard.service.uploads import Upload, openapi_body, read_images, sniff

router = APIRouter(tags=["pages"])
PAGE_ERRORS = responses(*AUTH_ERRORS, 404, 409, 413, 415, html=True)
_BOX = re.compile(r"^(centre|\d{1,5},\d{1,5},\d{1,5},\d{1,5})$")
_ENROLL_FIELDS: dict[str, dict[str, Any]] = {
    "external_id": {"type": "string", "maxLength": 128},
    "name": {"type": "string", "maxLength": 200},
    "purpose": {"type": "string", "maxLength": 64},
    "method": {"type": "string", "maxLength": 16},
    "evidence": {"type": "string", "maxLength": 500},
    "language": {"type": "string", "enum": list(LANGUAGES)},
}


def wants_page(request: Request) -> bool:
    """Does the client ask for a page (a browser), rather than JSON?"""
    return "text/html" in request.headers.get("accept", "")


def _field(upload: Upload, name: str, limit: int, label: str) -> str:
    value = (upload.get(name) or "").strip()
    if not value or len(value) > limit:
        raise ProblemError("validation", f"{label} is required (field {name}, 1-{limit} "
                           "characters)", status=422)
    return value


def _purpose(fg: Faceguard, upload: Upload) -> str:
    purpose = (upload.get("purpose") or "").strip()
    if purpose not in fg.deployment.purposes:
        raise ProblemError("validation", f"purpose {purpose[:64]!r} is not declared; choose "
                           f"one of {', '.join(sorted(fg.deployment.purposes))}", rule="R1",
                           status=422)
    return purpose


def _event(fg: Faceguard, seq: int | None, operation: str, actor: str) -> dict[str, Any] | None:
    """The processing-record event of a decision (``seq``), or this actor's latest event of
    ``operation`` (a refusal, which has no sequence number in its answer)."""
    if seq is not None:
        rows = fg.audit.events(before=seq + 1, limit=1)
    else:
        rows = fg.audit.events(limit=1, operations=(operation,))
    if rows and rows[0].get("actor") == actor:
        found: dict[str, Any] = plain(rows[0])
        return found
    return None


def _terminal_problem(exc: FaceguardError, purpose: str | None) -> Problem:
    """The problem a terminal gets over REST for ``exc`` (with the REST fix)."""
    body = from_error(exc)
    body.fix = fix_for(exc, "rest", purpose)
    return body


def _page_problem(exc: FaceguardError, request: Request, purpose: str | None) -> Problem:
    body = from_error(exc, request)
    body.fix = fix_for(exc, "page", purpose)
    return body


# ---- enrollment ---------------------------------------------------------------------------


def enroll_data(fg: Faceguard, settings_max_images: int) -> dict[str, Any]:
    notices = fg.consent.notices()
    data: dict[str, Any] = plain({
        "purposes": [{"purpose": p, "notice_version": n.version if n else None}
                     for p, n in sorted(notices.items())],
        "methods": list(fg.deployment.deployment.consent_methods),
        "languages": list(LANGUAGES),
        "max_images": settings_max_images,
        "liveness_required": fg.liveness.required(),
    })
    return data


def _enroll_page(request: Request, state: ServiceState, principal: Principal, *,
                 status_code: int = 200, **context: Any) -> Response:
    context.setdefault("form", {})
    for name in ("result", "receipt", "event", "error", "choose"):
        context.setdefault(name, None)
    return render(request, "enroll.html", principal=principal, status_code=status_code,
                  notice_language=page_language(request),
                  **enroll_data(state.fg, state.settings.max_images), **context)


@router.get("/enroll", summary="Enroll a consenting person from photos (operator)",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def enroll_form(request: Request, state: State, principal: OperatorKey) -> Response:
    return _enroll_page(request, state, principal)


@router.get("/enroll.json", summary="What the enroll page offers (JSON)", responses=JSON_ERRORS)
def enroll_json(state: State, principal: OperatorKey) -> dict[str, Any]:
    return enroll_data(state.fg, state.settings.max_images)


def _faces(fg: Faceguard, image: bytes, purpose: str, actor: str) -> dict[str, Any]:
    found = fg.faces_in(image, purpose, actor=actor)
    return {"width": found.width, "height": found.height,
            "faces": [{"box": list(box), "usable": usable}
                      for box, usable in zip(found.boxes, found.usable, strict=True)]}


@router.post("/enroll/faces.json", summary="The faces of a photo, to choose one (operator; "
             "detection only, nothing kept)", responses=responses(*AUTH_ERRORS, 409, 413, 415),
             openapi_extra=openapi_body({"purpose": _ENROLL_FIELDS["purpose"]}))
async def faces(request: Request, state: State, principal: OperatorKey) -> dict[str, Any]:
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    purpose = _purpose(state.fg, upload)
    return await run_in_threadpool(_faces, state.fg, upload.images[0], purpose,
                                   principal.actor)


def _choices(upload: Upload) -> list[str | None]:
    """Each photo's face choice (``face_1``, ``face_2``...): a box, "centre" or none."""
    out: list[str | None] = []
    for number in range(1, len(upload.images) + 1):
        value = (upload.get(f"face_{number}") or "").strip()
        if value and not _BOX.match(value):
            raise ProblemError("validation", f"face_{number} must be 'centre' or a box "
                               "'left,top,right,bottom' in pixels", status=422)
        out.append(value or None)
    return out


def _undecided(fg: Faceguard, upload: Upload, purpose: str, choices: list[str | None],
               actor: str) -> list[dict[str, Any]]:
    """The photos holding several usable faces and no choice, shown back to choose from."""
    shown = []
    for number, (image, choice) in enumerate(zip(upload.images, choices, strict=True), 1):
        if choice is not None:
            continue
        found = _faces(fg, image, purpose, actor)
        if sum(f["usable"] for f in found["faces"]) > 1:
            inline = base64.b64encode(image).decode("ascii")
            shown.append({"number": number, **found,
                          "src": f"data:{sniff(image) or 'image/jpeg'};base64,{inline}"})
    return shown


def _enroll(fg: Faceguard, principal: Principal, upload: Upload, form: dict[str, str],
            choices: list[str | None]) -> tuple[ConsentReceiptPublic, EnrollmentPublic]:
    """The consent with its evidence, then the photos: the library calls of REST."""
    purpose = form["purpose"]
    notice = fg.consent.current_notice(purpose)
    version = notice.version if notice is not None else 0
    evidence = (f"{form['evidence']}; taken by {principal.key.holder} ({principal.key.id}) "
                f"on the enroll page; notice v{version} read in {form['language']}")
    receipt = fg.consent.grant(form["external_id"], purpose, name=form["name"],
                               method=form["method"], evidence=evidence[:500],
                               actor=principal.actor, language=form["language"])
    face: list[FaceChoice | None] = list(choices)
    result = fg.enroll(form["external_id"], upload.images, purpose, actor=principal.actor,
                       face=face if any(face) else None)
    return public(ConsentReceiptPublic, receipt), public(EnrollmentPublic, result)


@router.post("/enroll", summary="Record the consent and enroll the photos (form)",
             response_class=HTMLResponse, status_code=201, responses=PAGE_ERRORS,
             openapi_extra=openapi_body(_ENROLL_FIELDS, many=True))
async def enroll(request: Request, state: State, principal: OperatorKey) -> Response:
    fg = state.fg
    upload = await read_images(request, limit=state.settings.max_upload_bytes,
                               max_images=state.settings.max_images)
    language = (upload.get("language") or "").strip()
    form = {
        "external_id": _field(upload, "external_id", 128, "the person's external ID"),
        "name": _field(upload, "name", 200, "the person's name"),
        "purpose": _purpose(fg, upload),
        "method": _field(upload, "method", 16, "the consent method"),
        "evidence": _field(upload, "evidence", 300, "the consent evidence (what was signed "
                           "or clicked, and where it is kept)"),
        "language": language if language in LANGUAGES else page_language(request),
    }
    choices = _choices(upload)
    try:
        choose = await run_in_threadpool(_undecided, fg, upload, form["purpose"], choices,
                                         principal.actor)
        if choose and not wants_page(request):
            first = choose[0]
            raise ProblemError("no-usable-face", f"photo {first['number']} holds "
                               f"{len(first['faces'])} faces: choose the one to enroll with "
                               f"face_{first['number']} ('centre' or a box "
                               "'left,top,right,bottom')", status=422,
                               errors=[{"faces": len(first["faces"])}])
        if choose:
            return _enroll_page(request, state, principal, status_code=409, form=form,
                                choose=choose)
        receipt, result = await run_in_threadpool(_enroll, fg, principal, upload, form,
                                                  choices)
    except FaceguardError as exc:
        if not wants_page(request):
            raise
        return _enroll_page(request, state, principal, status_code=status_of(exc), form=form,
                            error=_page_problem(exc, request, form["purpose"]))
    event = _event(fg, result.audit_seq, Op.TEMPLATE_ENROLLED, principal.actor)
    return _enroll_page(request, state, principal, status_code=201, form=form,
                        result=result.model_dump(mode="json"),
                        receipt=receipt.model_dump(mode="json"), event=event)


# ---- try verify and identify ------------------------------------------------------------


def try_data(fg: Faceguard) -> dict[str, Any]:
    return {"purposes": sorted(fg.deployment.purposes),
            "liveness_required": fg.liveness.required()}


def _try_page(request: Request, state: ServiceState, principal: Principal, *,
              status_code: int = 200, **context: Any) -> Response:
    for name in ("answer", "problem", "fix", "event", "mode", "purpose", "external_id"):
        context.setdefault(name, None)
    return render(request, "try.html", principal=principal, status_code=status_code,
                  **try_data(state.fg), **context)


@router.get("/try", summary="Try verify and identify on a picture (operator)",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def try_form(request: Request, state: State, principal: OperatorKey) -> Response:
    return _try_page(request, state, principal)


@router.get("/try.json", summary="What the try page offers (JSON)", responses=JSON_ERRORS)
def try_json(state: State, principal: OperatorKey) -> dict[str, Any]:
    return try_data(state.fg)


def _decide(fg: Faceguard, principal: Principal, mode: str, purpose: str,
            external_id: str, image: bytes) -> VerificationPublic | IdentificationPublic:
    """The decision as the REST routes answer it to a terminal."""
    if mode == "verify":
        found = fg.verify(external_id, image, purpose, actor=principal.actor)
        return VerificationPublic(decision=found.decision, purpose=found.purpose,
                                  operating_point=found.operating_point,
                                  audit_seq=found.audit_seq)
    who = fg.identify(image, purpose, actor=principal.actor)
    return IdentificationPublic(decision=who.decision, purpose=who.purpose,
                                operating_point=who.operating_point, audit_seq=who.audit_seq,
                                external_id=who.external_id, candidates=list(who.candidates),
                                reason=who.reason)


@router.post("/try", summary="Verify or identify a picture (form); the decision as a terminal "
             "gets it", response_class=HTMLResponse, responses=PAGE_ERRORS,
             openapi_extra=openapi_body({"mode": {"type": "string",
                                                  "enum": ["verify", "identify"]},
                                         "purpose": _ENROLL_FIELDS["purpose"],
                                         "external_id": _ENROLL_FIELDS["external_id"]}))
async def try_it(request: Request, state: State, principal: OperatorKey) -> Response:
    fg = state.fg
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    mode = upload.get("mode") or "identify"
    if mode not in ("verify", "identify"):
        raise ProblemError("validation", "mode must be 'verify' or 'identify'", status=422)
    purpose = _purpose(fg, upload)
    external_id = (_field(upload, "external_id", 128, "the person's external ID (to verify "
                          "against)") if mode == "verify" else "")
    operation = Op.FACE_VERIFIED if mode == "verify" else Op.FACE_IDENTIFIED
    context: dict[str, Any] = {"mode": mode, "purpose": purpose, "external_id": external_id}
    try:
        answer = await run_in_threadpool(_decide, fg, principal, mode, purpose, external_id,
                                         upload.images[0])
    except FaceguardError as exc:
        if not wants_page(request):
            raise
        event = _event(fg, None, operation, principal.actor)
        return _try_page(request, state, principal, status_code=status_of(exc),
                         problem=_terminal_problem(exc, purpose).model_dump(exclude_none=True),
                         fix=fix_for(exc, "page", purpose), event=event, **context)
    state.metrics.decision(operation, answer.decision)
    event = _event(fg, answer.audit_seq, operation, principal.actor)
    return _try_page(request, state, principal, answer=answer.model_dump(mode="json"),
                     event=event, **context)
