"""``create_app(fg, settings)``: the FastAPI application around one ``Faceguard``.

The entry point (``faceguard serve``, or a test) opens the ``Faceguard`` and passes it in;
nothing is built at import time. At protection level 3 and above the app refuses to be
built (``ConfigError``, R25) until separate admin, auditor and operator keys exist, held by
different people, with TOTP on every admin key.

Routes: the REST API under ``/api/v1`` (liveness challenges under ``/api/v1/liveness``), the
pages (each with a ``.json`` twin), the kiosk under ``/kiosk`` (with its live check), internal
routes under ``/-/`` (health, metrics, docs, login), the OpenAPI document at
``/openapi.json``. See ``/-/docs`` for the table of routes and roles.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from faceguard.api.faceguard import Faceguard
from faceguard.service import (
    body_limit,
    kiosk_live,
    pages,
    pages_assess,
    pages_faces,
    pages_keys,
    pages_kiosk,
    problems,
    routes_consents,
    routes_faces,
    routes_governance,
    routes_internal,
    routes_keys,
    routes_liveness,
    routes_redact,
    routes_rights,
)
from faceguard.service.auth import roles_of
from faceguard.service.deps import ServiceState
from faceguard.service.language import PageLanguage
from faceguard.service.routes_internal import _version
from faceguard.service.settings import ServiceSettings

DESCRIPTION = """Face recognition with the law enforced by construction.

Authenticate with an API key (`Authorization: Bearer fgk_...` or `X-API-Key`), or in a
browser through `/-/login` (session cookie). Each operation lists the roles it admits in
`x-roles`. Errors are RFC 9457 problem details carrying the rule ID (`rule`) when a rule
caused them; the types are described at `/-/problems`. Decisions never include scores (R17).
"""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def build_state(fg: Faceguard, settings: ServiceSettings) -> ServiceState:
    keys = fg.api_keys
    keys.require_level3()
    return ServiceState(
        fg=fg, settings=settings, keys=keys,
        throttle=fg.shared.throttle(settings.auth_failures, settings.auth_window_seconds,
                             settings.lockout_seconds),
        sessions=fg.shared.sessions(settings.session_idle_seconds, settings.session_max_seconds),
    )


#: The routers, in the order they are matched.
MODULES = (routes_internal, routes_faces, routes_liveness, routes_consents, routes_rights,
           routes_governance, routes_keys, routes_redact, pages, pages_assess, pages_faces,
           pages_keys, pages_kiosk, kiosk_live)


def api_routes() -> Iterator[APIRoute]:
    """Every route of the service (read from the routers: how an app nests included
    routers differs between FastAPI versions)."""
    for module in MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                yield route


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION,
                             routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = problems.Problem.model_json_schema(
            ref_template="#/components/schemas/{model}")
        for route in api_routes():
            if not route.include_in_schema:
                continue
            roles = roles_of(route)
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is not None:
                    operation["x-roles"] = list(roles) if roles else ["public"]
        app.openapi_schema = schema
        return schema

    return openapi


def create_app(fg: Faceguard, settings: ServiceSettings | None = None) -> FastAPI:
    """The service for ``fg``; ``ConfigError`` (R25) when level 3 is not configured."""
    settings = settings or ServiceSettings()
    state = build_state(fg, settings)
    # Forms (login, kiosk, admin pages) take text fields only: a file part is refused before
    # Starlette's parser would spool it to a temporary file (R9). Images go through
    # ``uploads``, which keeps every part in memory.
    app = FastAPI(title="faceguard", version=_version(), description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  form_limits={"max_files": 0})
    app.state.service = state
    for module in MODULES:
        app.include_router(module.router)
    app.mount("/-/static", StaticFiles(packages=[("faceguard", "static")]), name="static")
    problems.install(app)

    @app.middleware("http")
    async def measure(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        # faceguard.toml edited since? (one stat while it is not; api.config_watch); the
        # pages and /-/health show this state
        request.state.config = state.fg.reload_config(actor="service")
        response = await call_next(request)
        route = request.scope.get("route")
        template = route.path if isinstance(route, APIRoute) else "(other)"
        state.metrics.request(request.method, template, response.status_code)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    app.add_middleware(PageLanguage)
    body_limit.install(app, max(settings.max_upload_bytes, settings.max_liveness_bytes),
                       settings.body_idle_seconds)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app
