"""The language of a page: ``?lang=`` if given, else the browser's ``Accept-Language``,
else the deployment's default (``deployment.language``; ``zh-CN`` under the cn packs)."""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

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


#: Paths whose answers are for programs, not people: always English.
_MACHINE_PREFIXES = ("/api/", "/-/static/", "/-/health", "/-/metrics", "/-/public-key")


def is_page(path: str) -> bool:
    """Whether ``path`` answers a person (a page, or the kiosk's JSON that its script
    shows to the person in front of it), not a program."""
    if path.startswith("/kiosk"):
        return True
    return not path.startswith(_MACHINE_PREFIXES) and not path.endswith(".json")


class PageLanguage:
    """ASGI middleware: a page request runs in its page's language (``i18n.use``), so the
    texts a route builds before rendering (a filing status, a refusal) are in it too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        with i18n.use(page_language(Request(scope))):
            await self.app(scope, receive, send)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; translated where it is shown."""
    return message


#: What the kiosk's script (``static/kiosk.js``) says to the person, in its own words: the
#: page hands it their translations (``script_words``).
SCRIPT_WORDS: tuple[str, ...] = (
    N_("Camera ready. Look at the camera and press \u201cTake photo\u201d."),
    N_("No camera available: choose a photo file below instead."),
    N_("Photo taken. Checking\u2026"),
    N_("Look straight at the screen while it changes colour"),
    N_("Look straight at the camera"),
    N_("Get ready: look straight at the camera"),
    N_("You are not enrolled"),
    N_("Something went wrong. Please try again."),
    N_("reason:"),
    N_("Please use one of the other ways in, or ask the staff."),
    N_("Press \u201cTry again\u201d for a new check."),
    N_("Preparing the check\u2026"),
    N_("Recording\u2026"),
    N_("The camera took too long to start. Please try again."),
    N_("Thank you. Checking\u2026 this takes a few seconds."),
    N_("%(num)s pictures taken; checking them."),
    N_("The camera could not be started, so the live check cannot be done. Please use one "
       "of the other ways in, or ask the staff."),
    N_("The service could not be reached. Please try again."),
    N_("No camera available here, so the live check cannot be done. Please use one of the "
       "other ways in."),
    N_("When you are ready, press \u201cStart the live check\u201d."),
)


def script_words() -> dict[str, str]:
    """The kiosk script's words in the current language (English: none needed)."""
    return {w: i18n.gettext(w) for w in SCRIPT_WORDS if i18n.gettext(w) != w}
