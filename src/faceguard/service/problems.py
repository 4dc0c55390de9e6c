"""Errors as RFC 9457 problem details (``application/problem+json``), with the rule ID.

Every error the service answers is a ``Problem``: ``type`` (a URI reference to the
``/-/problems`` page, which documents each type), ``title``, ``status``, ``detail``, plus the
extension members ``rule`` (the REQUIREMENTS.md rule that caused it, if any), ``error`` (the
library's exception class) and, for validation errors, ``errors``. Library errors map to
statuses here, in one place (``status_of``); browsers asking for HTML get the same problem
rendered as a page. No input should produce a 5xx; an unexpected exception is answered 500
without internals and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from faceguard.errors import (
    AuditError,
    EngineMismatch,
    FaceError,
    FaceguardError,
    ImageError,
    ImageTooLarge,
    LivenessError,
    NotFound,
    NoticeError,
    PolicyError,
    QualityError,
    TooManyFaces,
    VaultError,
)
from faceguard.fixes import fix_for

log = logging.getLogger("faceguard.service")
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/-/problems#"


@dataclass(frozen=True)
class ProblemType:
    status: int
    title: str
    explanation: str


#: Every problem type the service answers with (documented on ``/-/problems``).
TYPES: dict[str, ProblemType] = {
    "bad-request": ProblemType(400, "Bad request", "The request is malformed or inconsistent "
                               "(a ConfigError of the library), e.g. a review answered twice."),
    "unauthenticated": ProblemType(401, "Authentication required", "No API key, an unknown or "
                                   "revoked key, or an expired session."),
    "second-factor": ProblemType(401, "Second factor required", "At protection level 3 admin "
                                 "actions need a fresh TOTP code (header X-TOTP) (R25)."),
    "forbidden": ProblemType(403, "Not allowed for this key", "The key's role, or a terminal "
                             "key's purposes, do not cover this operation (R14)."),
    "refused-by-rule": ProblemType(403, "Refused by a rule", "A legal rule refused the "
                                   "operation; ``rule`` names it (see REQUIREMENTS.md). A "
                                   "liveness refusal (R26) lists the decision and its reason "
                                   "codes in ``errors``."),
    "not-found": ProblemType(404, "Not found", "No such person, decision, review, key or page."),
    "method-not-allowed": ProblemType(405, "Method not allowed", "The path exists but not "
                                      "with this HTTP method."),
    "conflict": ProblemType(409, "Conflict", "Stored data cannot be used as asked (e.g. "
                            "templates of another engine, or a key already destroyed)."),
    "notice-required": ProblemType(409, "Notice required", "No complete notice is published "
                                   "for the purpose yet (R2): publish one first."),
    "timeout": ProblemType(408, "Request timeout", "The body stopped arriving: no bytes for "
                           "the idle limit (a client that sends slowly cannot hold a "
                           "connection)."),
    "too-large": ProblemType(413, "Content too large", "The body or image exceeds the byte or "
                             "pixel limits."),
    "unsupported-media-type": ProblemType(415, "Unsupported media type", "The upload is not a "
                                          "JPEG, PNG or WEBP image (sniffed from its bytes)."),
    "validation": ProblemType(422, "Invalid request", "Fields are missing or malformed; "
                              "``errors`` lists them."),
    "invalid-image": ProblemType(422, "Not a usable image", "The bytes could not be decoded "
                                 "as an image."),
    "no-usable-face": ProblemType(422, "No usable face", "No face, several faces where one is "
                                  "needed, or a face failing the quality gate (size, "
                                  "sharpness, pose)."),
    "throttled": ProblemType(429, "Too many failed attempts", "Too many failed "
                             "authentications from this address or with this key ID (a valid "
                             "key: with its own wrong codes); wait for Retry-After seconds."),
    "internal": ProblemType(500, "Internal error", "An unexpected failure; nothing was "
                            "changed by the request. It is logged."),
    "storage": ProblemType(503, "Record unavailable", "The processing record could not be "
                           "written, so nothing was done (R11)."),
}


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="URI reference identifying the problem type")
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = Field(default=None, description="rule ID (REQUIREMENTS.md), if any")
    error: str | None = Field(default=None, description="library exception class, if any")
    errors: list[dict[str, Any]] | None = None
    fix: str | None = Field(default=None, description="what to do about it, naming the "
                            "route (or, where none exists, the server command)")


class ProblemError(Exception):
    """Raised by the service to answer with a problem (auth, uploads, throttling)."""

    def __init__(self, kind: str, detail: str, *, rule: str | None = None,
                 headers: dict[str, str] | None = None, status: int | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.rule = rule
        self.headers = headers or {}
        self.status = status or TYPES[kind].status
        self.errors = errors


def problem(kind: str, detail: str, *, request: Request | None = None,
            rule: str | None = None, error: str | None = None, status: int | None = None,
            errors: list[dict[str, Any]] | None = None) -> Problem:
    spec = TYPES[kind]
    return Problem(type=TYPE_BASE + kind, title=spec.title, status=status or spec.status,
                   detail=detail, instance=request.url.path if request else None, rule=rule,
                   error=error, errors=errors)


def kind_of(exc: FaceguardError) -> str:
    """The problem type of a library error (the one mapping from exceptions to HTTP)."""
    if isinstance(exc, NoticeError):
        return "notice-required"
    if isinstance(exc, PolicyError):
        return "refused-by-rule"
    if isinstance(exc, ImageTooLarge):
        return "too-large"
    if isinstance(exc, ImageError):
        return "invalid-image"
    if isinstance(exc, FaceError):
        return "no-usable-face"
    if isinstance(exc, NotFound):
        return "not-found"
    if isinstance(exc, (EngineMismatch, VaultError)):
        return "conflict"
    if isinstance(exc, AuditError):
        return "storage"
    return "bad-request"  # ConfigError and anything else the caller got wrong


def status_of(exc: FaceguardError) -> int:
    return TYPES[kind_of(exc)].status


def errors_of(exc: FaceguardError) -> list[dict[str, Any]] | None:
    """The machine-readable details of a library error: the failed quality check, the
    number of faces, or the liveness decision with its reason codes (R26)."""
    if isinstance(exc, QualityError):
        return [{"check": exc.check}]
    if isinstance(exc, TooManyFaces):
        return [{"faces": exc.count}]
    if isinstance(exc, LivenessError):
        return [{"decision": exc.decision, "code": code, "message": message}
                for code, message in exc.reasons] or [{"decision": exc.decision}]
    return None


def from_error(exc: FaceguardError, request: Request | None = None) -> Problem:
    body = problem(kind_of(exc), str(exc), request=request, rule=exc.rule,
                   error=type(exc).__name__, errors=errors_of(exc))
    if request is not None:
        purpose = request.path_params.get("purpose")
        body.fix = fix_for(exc, "page" if _wants_html(request) else "rest",
                           purpose if isinstance(purpose, str) else None)
    return body


def responses(*statuses: int, html: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses (schema: ``Problem``);
    ``html``: the page may instead answer with a page explaining it (the kiosk)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        titles = sorted({t.title for t in TYPES.values() if t.status == status})
        content: dict[str, Any] = {
            MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        if html:
            content["text/html"] = {"schema": {"type": "string"}}
        out[status] = {"description": "; ".join(titles) or "Error", "content": content}
    return out


#: What every authenticated route can answer (400: a body that cannot be parsed at all).
AUTH_ERRORS = (400, 401, 403, 422, 429)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.endswith(".json") or path.startswith("/-/metrics"):
        return False
    return "text/html" in request.headers.get("accept", "")


def respond(request: Request, body: Problem, headers: dict[str, str] | None = None) -> Response:
    """The problem as JSON, or as an HTML page for a browser."""
    if _wants_html(request):
        from faceguard.service.templating import render_error

        return render_error(request, body, headers)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=body.status,
                        media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        body = problem(exc.kind, exc.detail, request=request, rule=exc.rule, status=exc.status,
                       errors=exc.errors)
        if exc.kind in ("unauthenticated", "second-factor") and _wants_html(request) and (
                request.method == "GET"):
            from faceguard.service.templating import login_redirect

            return login_redirect(request)
        return respond(request, body, exc.headers)

    async def on_library(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FaceguardError)
        body = from_error(exc, request)
        if body.status >= 500:
            log.error("processing record unavailable: %s", exc)
        return respond(request, body)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return respond(request, problem("validation", f"invalid request ({where})",
                                        request=request, errors=errors))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large",
                415: "unsupported-media-type", 422: "validation"}.get(exc.status_code,
                                                                      "bad-request")
        detail = exc.detail if isinstance(exc.detail, str) else TYPES[kind].title
        headers = dict(exc.headers) if exc.headers else None
        return respond(request, problem(kind, detail, request=request,
                                        status=exc.status_code if exc.status_code < 500
                                        else 400), headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(request, problem("internal", "an unexpected error occurred; it was "
                                        "logged", request=request))

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(FaceguardError, on_library)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
