"""The kiosk: where a person reads the notice, decides, and has their face captured.

Run on a device logged in with an operator key. The steps, each a form posting to the next:

1. ``/kiosk``: face recognition is optional; the other ways in are listed (R6). The person
   gives their ID and name, and says whether they are under 14 (nothing pre-ticked).
2. ``/kiosk/consent``: the full notice of each purpose (R2) and one separate question per
   purpose, neither answer pre-selected (R3). Under 14: the guardian's details (R5).
   Purposes the person declined before are not asked again (R4).
3. ``/kiosk/decide``: each "yes" is a consent, each "no" is recorded as declined; with no
   "yes" the person sees the alternatives, not an error (R4, R6).
4. ``/kiosk/enroll``: the photo, from the camera (getUserMedia; the one script) or a file;
   the outcome in plain words. The photo is never stored (R9).

Where liveness is required (R26) step 4 is the live check instead (``kiosk_live``): the
page asks for a challenge, shows its movements one by one, films them and sends the frames;
a photo file is not offered, and one sent anyway is refused (R26).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from faceguard import Guardian
from faceguard.api.faceguard import Faceguard
from faceguard.errors import (
    FaceError,
    FaceguardError,
    ImageError,
    LivenessError,
    NoFaceFound,
    PolicyError,
    QualityError,
    TooManyFaces,
)
from faceguard.i18n import LANGUAGES
from faceguard.i18n import gettext as _
from faceguard.results import EnrollResult
from faceguard.service.auth import OperatorKey, Principal
from faceguard.service.deps import State
from faceguard.service.language import i18n_text, page_language
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses, status_of
from faceguard.service.templating import render
from faceguard.service.uploads import openapi_body, read_images
from faceguard.timeutil import iso, utc_now

router = APIRouter(prefix="/kiosk", tags=["kiosk"])


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; translated where it is shown."""
    return message


PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "to the login page"},
    **responses(*AUTH_ERRORS, 400, 403, 409, 413, 415, html=True)}
Field = Annotated[str, Form(max_length=200)]
DECISION_FIELD = "consent-"

QUALITY_WORDS = {
    "size": N_("Your face was too small in the picture. Please come a little closer."),
    "sharpness": N_("The picture was blurred. Please hold still and try again."),
    "pose": N_("Please look straight at the camera and try again."),
}


_TURN_FURTHER = N_("Please turn your head a little further.")
_COLOURS_UNCLEAR = N_("We could not see the screen's colours on your face clearly. Please "
                      "look at the screen while it changes colour.")

#: The liveness reasons a person can do something about (R26), in their words.
LIVENESS_WORDS = {
    "challenge.expired": N_("That took too long. Please try again."),
    "motion.too_slow": N_("That took too long. Please try again."),
    "motion.none": N_("We did not see the head movements we asked for. Please try again and "
                   "move your head clearly."),
    "motion.mismatch": N_("We saw other movements than the ones we asked for. Please follow the "
                       "instructions one by one."),
    "motion.wrong_order": N_("The movements came in another order than the one we asked for. "
                          "Please follow the instructions one by one."),
    "motion.not_facing": N_("Please look straight at the camera before you start moving."),
    "depth.insufficient": _TURN_FURTHER,
    "depth.curved": _TURN_FURTHER,
    "face.not_found": N_("We could not see your face clearly. Please face the camera in good "
                      "light."),
    "face.too_small": N_("Your face was too small in the picture. Please come a little closer."),
    "frames.too_few": N_("The camera sent too few pictures. Please try again."),
    "frames.gap": N_("The camera stopped for a moment. Please try again."),
    "colour.none": N_("We could not see the screen's colours on your face. Please come closer "
                   "to the screen and look at it while it changes colour."),
    "colour.unclear": _COLOURS_UNCLEAR,
    "colour.not_seen": N_("Please keep your face in view while the screen changes colour."),
    "colour.flat": _COLOURS_UNCLEAR,
}


def liveness_words(exc: LivenessError) -> str:
    """Why the live check refused, for the person at the kiosk (R26), in the page's
    language (the request's ``i18n.use``)."""
    if exc.decision == "locked":
        return _("Too many attempts have failed, so the live check is paused here for a "
                 "while. Please use one of the other ways in, or ask the staff.")
    if exc.decision == "required":
        return _("A live check with the camera is needed here: a photo cannot be used. If "
                 "the camera does not work, please use one of the other ways in.")
    if exc.decision == "attack":
        return _("The check did not see a live person in front of the camera (it looked "
                 "like a photo, a screen or a recording). If that is wrong, please ask the "
                 "staff.")
    for code, _reason in exc.reasons:
        if code in LIVENESS_WORDS:
            return _(LIVENESS_WORDS[code])
    return _("The live check did not succeed. Please try again.")


def plain_words(exc: FaceguardError) -> str:
    """What went wrong, for the person at the kiosk, in the page's language."""
    if isinstance(exc, LivenessError):
        return liveness_words(exc)
    if isinstance(exc, NoFaceFound):
        return _("We could not see a face in the picture. Please look straight at the "
                 "camera, in good light, and try again.")
    if isinstance(exc, TooManyFaces):
        return _("We saw more than one face. Please make sure only you are in the picture.")
    if isinstance(exc, QualityError):
        return _(QUALITY_WORDS.get(exc.check, N_("The picture was not clear enough. Please "
                                                 "try again.")))
    if isinstance(exc, ImageError):
        return _("The picture could not be read. Please take it again.")
    if isinstance(exc, PolicyError):
        return _("Face recognition cannot be set up for you here right now (%(reason)s).") % {
            "reason": exc}
    return _("Something went wrong: %(reason)s") % {"reason": exc.message}


def kiosk_data(fg: Faceguard) -> dict[str, Any]:
    dep = fg.deployment.deployment
    return {
        "name": dep.name, "controller": dep.controller, "contact": dep.contact,
        "alternatives": list(dep.alternatives),
        "minors_allowed": bool(dep.minors_rules.strip()),
        "minors_rules": dep.minors_rules,
        "liveness_required": fg.liveness.required(),
        "notices": {p: (n.fields | {"version": str(n.version), "texts": n.texts}
                        if n else None)
                    for p, n in fg.consent.notices().items()},
    }


@router.get("", summary="Kiosk: start", response_class=HTMLResponse, responses=PAGE_ERRORS)
def start(request: Request, state: State, principal: OperatorKey) -> Response:
    return render(request, "kiosk_start.html", principal=principal, kiosk=True,
                  **kiosk_data(state.fg))


@router.get(".json", summary="Kiosk: what it shows (JSON)",
            responses=responses(*AUTH_ERRORS))
def start_json(state: State, principal: OperatorKey) -> dict[str, Any]:
    return kiosk_data(state.fg)


def _questions(fg: Faceguard, external_id: str) -> dict[str, list[Any]]:
    """Per purpose: ask (with its notice), already agreed, declined before, no notice."""
    notices = fg.consent.notices()
    before = fg.consent.declined(external_id)
    agreed = set(fg.consent.active_purposes(external_id))
    out: dict[str, list[Any]] = {"ask": [], "agreed": [], "declined": [], "unavailable": []}
    for purpose, notice in notices.items():
        if purpose in agreed:
            out["agreed"].append(purpose)
        elif purpose in before:
            out["declined"].append((purpose, before[purpose]))
        elif notice is None:
            out["unavailable"].append(purpose)
        else:
            out["ask"].append((purpose, notice))
    return out


def _person(external_id: str, name: str) -> tuple[str, str]:
    external_id, name = external_id.strip(), name.strip()
    if not external_id or not name:
        raise ProblemError("validation", "please give your ID and your name", status=422)
    return external_id, name


@router.post("/consent", summary="Kiosk: the notices and one question per purpose",
             response_class=HTMLResponse, responses=PAGE_ERRORS)
def consent(request: Request, state: State, principal: OperatorKey,
            external_id: Field, name: Field, under_14: Annotated[bool, Form()] = False
            ) -> Response:
    fg = state.fg
    external_id, name = _person(external_id, name)
    data = kiosk_data(fg)
    if under_14 and not data["minors_allowed"]:
        return render(request, "kiosk_declined.html", principal=principal, kiosk=True,
                      reason="minors", status_code=403, **data)
    questions = _questions(fg, external_id)
    if not questions["ask"] and not questions["agreed"]:
        return render(request, "kiosk_declined.html", principal=principal, kiosk=True,
                      reason="declined-before", questions=questions, **data)
    return render(request, "kiosk_consent.html", principal=principal, kiosk=True,
                  external_id=external_id, person_name=name, under_14=under_14,
                  questions=questions, error=None, **data)


def _grant(fg: Faceguard, principal: Principal, external_id: str, name: str, purpose: str,
           under_14: bool, guardian: Guardian | None, language: str) -> None:
    notice = fg.consent.current_notice(purpose)
    version = notice.version if notice else 0
    evidence = (f"kiosk {principal.key.id}; notice v{version} read in {language}; "
                f"{iso(utc_now())}")
    fg.consent.grant(external_id, purpose, name=name, method="click", evidence=evidence,
                     minor=under_14, guardian=guardian, actor=principal.actor,
                     language=language)


@router.post("/decide", summary="Kiosk: record each decision", openapi_extra={
    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "required": ["external_id", "name"],
                   "properties": {"external_id": {"type": "string", "maxLength": 200},
                                  "name": {"type": "string", "maxLength": 200},
                                  "under_14": {"type": "boolean"},
                                  "guardian_name": {"type": "string", "maxLength": 200},
                                  "guardian_relationship": {"type": "string", "maxLength": 200},
                                  "guardian_evidence": {"type": "string", "maxLength": 200},
                                  "language": {"type": "string", "enum": list(LANGUAGES)}},
                   "additionalProperties": {"type": "string", "enum": ["agree", "decline"]}}}}}},
    response_class=HTMLResponse, responses=PAGE_ERRORS)
async def decide(request: Request, state: State, principal: OperatorKey) -> Response:
    """Fields ``consent-<purpose>`` = ``agree`` | ``decline``, one per purpose asked."""
    fg = state.fg
    try:
        form = await request.form(max_files=0, max_fields=100, max_part_size=4096)
    except Exception as exc:  # malformed bodies of every kind: a 422, never a 500
        raise ProblemError("validation", f"malformed form: {exc}", status=422) from exc
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    external_id, name = _person(values.get("external_id", "")[:200], values.get("name", "")[:200])
    under_14 = values.get("under_14", "").lower() in ("1", "true", "on", "yes")
    questions = _questions(fg, external_id)
    asked = [p for p, _ in questions["ask"]]
    decisions = {p: values.get(DECISION_FIELD + p) for p in asked}
    data = kiosk_data(fg)
    # the language the notices were shown in (the consent page's), recorded with the consent
    shown = values.get("language")
    read_in = shown if shown in LANGUAGES else page_language(request)
    if any(v not in ("agree", "decline") for v in decisions.values()):
        return render(request, "kiosk_consent.html", principal=principal, kiosk=True,
                      external_id=external_id, person_name=name, under_14=under_14,
                      questions=questions, status_code=422,
                      error=i18n_text("Please answer each question: yes or no.", request),
                      **data)
    guardian = None
    if under_14:
        guardian = Guardian(values.get("guardian_name", "")[:200],
                            values.get("guardian_relationship", "")[:200],
                            values.get("guardian_evidence", "")[:200])
    agreed, refused = [], []
    for purpose, decision in decisions.items():
        if decision == "decline":
            await run_in_threadpool(fg.consent.record_decline, external_id, purpose,
                                    channel=f"kiosk {principal.key.id}", actor=principal.actor)
            refused.append(purpose)
            continue
        try:
            await run_in_threadpool(_grant, fg, principal, external_id, name, purpose,
                                    under_14, guardian, read_in)
        except FaceguardError as exc:
            return render(request, "kiosk_outcome.html", principal=principal, kiosk=True,
                          ok=False, message=plain_words(exc), rule=exc.rule, results=[],
                          status_code=status_of(exc), **data)
        agreed.append(purpose)
    agreed += questions["agreed"]
    if not agreed:
        return render(request, "kiosk_declined.html", principal=principal, kiosk=True,
                      reason="declined", questions=questions, refused=refused, **data)
    return render(request, "kiosk_capture.html", principal=principal, kiosk=True,
                  external_id=external_id, purposes=agreed, refused=refused, error=None,
                  **data)


@router.post("/enroll", summary="Kiosk: capture and enroll", openapi_extra=openapi_body(
    {"external_id": {"type": "string", "maxLength": 200},
     "purpose": {"type": "array", "items": {"type": "string", "maxLength": 64}}}),
    response_class=HTMLResponse, responses=PAGE_ERRORS)
async def enroll(request: Request, state: State, principal: OperatorKey) -> Response:
    fg = state.fg
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    external_id = (upload.get("external_id") or "").strip()[:200]
    purposes = [p for p in dict.fromkeys(upload.getall("purpose")) if p in
                fg.deployment.purposes]
    data = kiosk_data(fg)
    if not external_id or not purposes:
        raise ProblemError("validation", "the form lost the person's ID or purposes; start "
                           "again", status=422)
    results: list[EnrollResult] = []
    for purpose in purposes:
        try:
            results.append(await run_in_threadpool(fg.enroll, external_id, upload.images,
                                                   purpose, actor=principal.actor))
        except (FaceError, ImageError) as exc:
            return render(request, "kiosk_capture.html", principal=principal, kiosk=True,
                          external_id=external_id, purposes=purposes, refused=[],
                          error=plain_words(exc), status_code=422, **data)
        except FaceguardError as exc:
            return render(request, "kiosk_outcome.html", principal=principal, kiosk=True,
                          ok=False, message=plain_words(exc), rule=exc.rule, results=results,
                          status_code=status_of(exc), **data)
    return render(request, "kiosk_outcome.html", principal=principal, kiosk=True, ok=True,
                  message=None, rule=None, results=results, **data)
