"""Server-rendered pages: one Jinja2 environment over ``templates/service`` (autoescaped).

Templates are flat, with ``_partial.html`` names for the pieces others include. Pages use
only the self-hosted stylesheet under ``/-/static``; nothing is fetched from elsewhere, and
every page works without JavaScript (the kiosk's camera is the one script, and it falls back
to a file input).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from faceguard import i18n
from faceguard.service.language import page_language, script_words

if TYPE_CHECKING:
    from faceguard.service.auth import Principal
    from faceguard.service.problems import Problem

#: What each page's navigation offers, by role.
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/dashboard", "Dashboard", ("admin", "operator", "auditor")),
    ("/subjects", "People", ("admin", "operator")),
    ("/record", "Processing record", ("admin", "auditor")),
    ("/reports", "Assessment & filing", ("admin", "auditor")),
    ("/assessment", "Impact assessment", ("admin", "auditor")),
    ("/reviews", "Rights requests", ("admin", "auditor")),
    ("/keys", "API keys", ("admin",)),
    ("/kiosk", "Kiosk", ("operator",)),
    ("/enroll", "Enroll from photos", ("operator",)),
    ("/try", "Try verify and identify", ("operator",)),
)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def written_in(text: str) -> str:
    """The language stored text (a drafted assessment, a DPO's words) is written in."""
    return "zh-CN" if _CJK.search(text or "") else "en"


def _short_time(value: str | None) -> str:
    """``2026-11-22T19:40:01.123456+00:00`` -> ``2026-11-22 19:40 UTC``."""
    if not value:
        return "-"
    return f"{value[:10]} {value[11:16]} UTC" if len(value) >= 16 else value


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("faceguard", "templates/service"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, extensions=["jinja2.ext.i18n"],
    )
    env.filters["when"] = _short_time
    env.filters["t"] = i18n.gettext
    env.filters["written_in"] = written_in
    env.globals["script_words"] = script_words
    # the language is the current context's (``i18n.use``), set per page by ``render``
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True)
    return env


def render(request: Request, template: str, *, principal: Principal | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """Render a page with the common context (dev banner, deployment, navigation)."""
    state = getattr(request.app.state, "service", None)
    if principal is None and state is not None and status_code < 500:
        # a public page (or a refusal): who is logged in, if anyone
        from faceguard.service.auth import session_principal

        principal = session_principal(request, state)
    nav = [(href, label) for href, label, roles in NAV
           if principal is not None and principal.role in roles]
    common = {
        "dev": bool(state and state.settings.dev),
        "trial": bool(state and state.fg.deployment.deployment.trial),
        # polled by the app's middleware (not yet where an outer middleware answers)
        "config": getattr(request.state, "config", None) or (
            state.fg.reload_config(actor="service") if state else None),
        "site": state.fg.deployment.deployment.name if state else "faceguard",
        "principal": principal,
        "nav": nav,
        "path": request.url.path,
    }
    language = page_language(request)
    context.setdefault("language", language)
    with i18n.use(language):
        html = environment().get_template(template).render(**common, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def render_error(request: Request, problem: Problem,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "error.html", problem=problem, status_code=problem.status,
                  headers=headers)


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/-/login?next={quote(target, safe='')}", status_code=303)
