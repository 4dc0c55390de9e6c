"""Internal routes under ``/-/``: health, metrics, public key, docs, problem types, login.

Logging in: ``/-/login`` takes an API key once (and, for an admin key at protection level 3,
a TOTP code) and sets the ``fg_session`` cookie: HttpOnly (scripts cannot read it),
SameSite=Strict (other sites cannot send it), Secure when ``cookie_secure`` is set, holding
a random session token, not the key. ``/-/logout`` ends the session. Logging in with
``next=/kiosk`` (what a kiosk device bookmarks) opens a kiosk-only session.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from faceguard.audit.operations import Op
from faceguard.service.auth import (
    COOKIE,
    ReaderKey,
    check_second_factor,
    needs_second_factor,
    refuse_bad_key,
    refuse_if_holder_locked,
    roles_of,
)
from faceguard.service.deps import FG, State
from faceguard.service.metrics import CONTENT_TYPE
from faceguard.service.problems import AUTH_ERRORS, TYPES, responses
from faceguard.service.schemas import HealthPublic, PublicKeyPublic
from faceguard.service.settings import SETTINGS_DOC
from faceguard.service.templating import render, safe_next

if TYPE_CHECKING:
    from faceguard.api.config_watch import ConfigState

router = APIRouter(prefix="/-", tags=["internal"])


def _version() -> str:
    try:
        return version("faceguard")
    except PackageNotFoundError:
        return "0"


@router.get("/health", response_model=HealthPublic, summary="Is the service up?")
def health(request: Request, fg: FG) -> HealthPublic:
    """Public. ``deployment_live`` is false while the deployment fails its check;
    ``config`` is not ``current`` while an edit of ``faceguard.toml`` is not in force
    (``config_problem`` says why)."""
    config: ConfigState = request.state.config  # polled by the app's middleware
    live = fg.governance.check().passed
    return HealthPublic(status="ok", version=_version(), deployment_live=live,
                        config=config.state, config_problem=config.reason,
                        config_loaded_at=config.loaded_at)


@router.get("/metrics", response_class=PlainTextResponse, responses={
    200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
    **responses(*AUTH_ERRORS)}, summary="Prometheus metrics")
def metrics(state: State, principal: ReaderKey) -> Response:
    return Response(state.metrics.render(state.fg), media_type=CONTENT_TYPE)


@router.get("/public-key", response_model=PublicKeyPublic,
            summary="The key that verifies deletion certificates and audit checkpoints")
def public_key(fg: FG) -> PublicKeyPublic:
    return PublicKeyPublic(public_key=fg.audit.public_key_hex)


def route_table() -> list[dict[str, Any]]:
    from faceguard.service.app import api_routes

    rows = []
    for route in api_routes():
        if route.include_in_schema:
            roles = roles_of(route)
            for method in sorted(route.methods or ()):
                rows.append({"method": method, "path": route.path,
                             "summary": route.summary or route.name,
                             "roles": ", ".join(roles) if roles else "public"})
    return sorted(rows, key=lambda r: (r["path"], r["method"]))


@router.get("/docs", response_class=HTMLResponse, summary="API documentation (this service)")
def docs(request: Request) -> HTMLResponse:
    """Every route with the roles it admits; the machine-readable form is /openapi.json."""
    return render(request, "docs.html", routes=route_table(), settings=SETTINGS_DOC)


@router.get("/problems", response_class=HTMLResponse, summary="The problem types")
def problems_page(request: Request) -> HTMLResponse:
    return render(request, "problems.html", types=TYPES)


@router.get("/problems.json", summary="The problem types (JSON)")
def problems_json() -> dict[str, dict[str, Any]]:
    return {k: {"status": t.status, "title": t.title, "explanation": t.explanation}
            for k, t in TYPES.items()}


@router.get("/login", response_class=HTMLResponse, summary="Log in with an API key")
def login_page(request: Request, state: State, next: str = "/dashboard") -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next), error=None,
                  level=state.keys.level)


@router.post("/login", response_class=HTMLResponse, responses={
    303: {"description": "logged in; the session cookie is set"},
    401: {"description": "wrong key or code: the form again, saying why",
          "content": {"text/html": {"schema": {"type": "string"}}}},
    **responses(422, 429)}, summary="Open a browser session")
def login(
    request: Request, state: State,
    key: Annotated[str, Form(max_length=200)],
    totp: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=500)] = "/dashboard",
) -> Response:
    found = state.keys.authenticate(key.strip())
    error = None
    second = False
    if found is None:
        refuse_bad_key(state, request, key.strip(), {"via": "login"})
        error = "That key is not valid (unknown, mistyped or revoked)."
    else:
        refuse_if_holder_locked(state, found)  # never the address's failures: R25
    if found is not None and needs_second_factor(state, found):
        if not totp.strip():
            error = ("Protection level 3: admin keys also need the 6-digit code from the "
                     "authenticator app.")
        elif not check_second_factor(state, request, found, totp):
            error = "The code is wrong or was already used; wait for the next one."
        else:
            second = True
    if error is not None or found is None:
        return render(request, "login.html", next=safe_next(next), error=error,
                      level=state.keys.level, status_code=401)
    target = safe_next(next)
    token = state.sessions.create(found.id, second_factor=second,
                                  kiosk_only=target.startswith("/kiosk"))
    state.keys.record(Op.ACCESS_LOGIN, "ok", actor=found.actor,
                      detail={"second_factor": second}, rules=("R25",))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=state.settings.session_max_seconds,
                        httponly=True, samesite="strict", secure=state.settings.cookie_secure,
                        path="/")
    return response


@router.post("/logout", responses={303: {"description": "logged out"}},
             summary="End the browser session")
def logout(request: Request, state: State) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        state.sessions.end(token)
    response = RedirectResponse("/-/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=state.settings.cookie_secure)
    return response
