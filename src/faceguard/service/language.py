"""The language of a page: ``?lang=`` if given, else the browser's ``Accept-Language``,
else the deployment's default (``deployment.language``; ``zh-CN`` under the cn packs)."""

from __future__ import annotations

from fastapi import Request

from faceguard import i18n
from faceguard.i18n import LANGUAGES, Language, default_language, negotiate
from faceguard.policy.packs import pack_numbers


def deployment_language(request: Request) -> Language:
    state = getattr(request.app.state, "service", None)
    if state is None:
        return "en"
    deployment = state.fg.deployment
    return default_language(pack_numbers(deployment).language, deployment.deployment.language)


def page_language(request: Request) -> Language:
    asked = request.query_params.get("lang")
    for language in LANGUAGES:
        if asked == language:
            return language
    return negotiate(request.headers.get("accept-language"), deployment_language(request))


def i18n_text(message: str, request: Request) -> str:
    """``message`` in the page's language (for texts made outside a template)."""
    with i18n.use(page_language(request)):
        return i18n.gettext(message)
