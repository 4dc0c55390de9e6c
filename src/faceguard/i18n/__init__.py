"""Languages: Chinese (``zh-CN``) and English (``en``), with gettext message catalogues.

The catalogues are ``locale/<locale>/LC_MESSAGES/faceguard.po``; Babel compiles each to
its binary form (``.mo``) in memory the first time a language is used, so an install from
source needs no build step and the ``.po`` stays the one file to edit. English is the
source language (its messages are the ``msgid``). Legal terms use the texts' own Chinese
words (个人信息保护影响评估, 单独同意, 《人脸识别技术应用安全管理办法》, ...).

``use(language)`` sets the language of the current context (a request, a document being
rendered); ``gettext``/``ngettext`` translate in it. ``negotiate`` picks a language from a
browser's ``Accept-Language`` with the deployment's default (``default_language``).
Babel is imported only when a catalogue is first needed.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from babel.support import Translations

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
DOMAIN = "faceguard"

_current: ContextVar[Language] = ContextVar("faceguard_language", default="en")


def _locale_dir(language: Language) -> str:
    return language.replace("-", "_")


@functools.cache
def translations(language: Language) -> Translations | None:
    """The compiled catalogue of ``language`` (None for English, the source language)."""
    if language == "en":
        return None
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    source = resources.files("faceguard.i18n").joinpath(
        "locale", _locale_dir(language), "LC_MESSAGES", f"{DOMAIN}.po")
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=_locale_dir(language), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def current() -> Language:
    return _current.get()


@contextmanager
def use(language: Language) -> Iterator[None]:
    """Translate in ``language`` inside this block."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    found = translations(_current.get())
    return message if found is None else found.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    found = translations(_current.get())
    if found is None:
        return singular if n == 1 else plural
    return found.ngettext(singular, plural, n)


def term(code: str) -> str:
    """A code word of the deployment file (``resident-card``, ``access-control``) as a
    reader sees it: the code itself in English, its catalogue word elsewhere (住户卡)."""
    if _current.get() == "en":
        return code
    return gettext(code.replace("-", " "))


def default_language(pack_language: str | None, configured: str | None) -> Language:
    """``deployment.language``, else the packs' (``language`` in a pack's numbers: ``zh-CN``
    in the cn packs), else ``en``."""
    for choice in (configured, pack_language):
        for language in LANGUAGES:
            if choice == language:
                return language
    return "en"


def negotiate(accept_language: str | None, default: Language) -> Language:
    """The first of the browser's languages we have (``zh``, ``zh-CN``, ``zh-Hans`` ->
    ``zh-CN``; ``en-*`` -> ``en``), by quality; ``default`` when none is."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, order, tag.strip().lower()))
    for _q, _o, tag in sorted(ranked):
        if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return default
