"""Render an assessment, a filing packet or a protection report to HTML or PDF.

Both outputs come from one intermediate document (``document``): a title, key-value rows and
blocks (headings, paragraphs, lists), so the HTML and the PDF always hold the same content.

- HTML: Jinja2 templates in ``faceguard/templates`` (autoescape on), self-contained: inline
  CSS, no external stylesheets, fonts, scripts or images.
- PDF: fpdf2, no browser. Font choice, in order: the ``font`` argument (a TTF/OTF file, e.g. a
  CJK font for Chinese text); else, with ``system_fonts``, DejaVu Sans if installed
  (``FONT_CANDIDATES``: Debian/Ubuntu ``fonts-dejavu-core``, Fedora, Arch paths); else the
  PDF core font Helvetica, which covers Latin-1 only. A fresh machine with only Python may
  have no fonts at all, so the core-font path is the guaranteed one. Characters the chosen
  font cannot show are replaced: typographic ones by ASCII equivalents
  (``pdf.ASCII_STANDINS``: ``--`` ``>=`` ``"``), any other by ``?``; the PDF then ends with a
  note saying how many were replaced and that the HTML, TOML and JSON forms hold the full
  text.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from faceguard import i18n
from faceguard.assess.assessment import Assessment, content_hash
from faceguard.assess.filing import FilingPacket
from faceguard.assess.protection import ProtectionReport
from faceguard.assess.sections import PLACEHOLDER
from faceguard.errors import ConfigError
from faceguard.i18n import Language, ngettext
from faceguard.i18n import gettext as _
from faceguard.policy.packs import pipl_words

Kind = Literal["assessment", "filing", "protection"]
KINDS: dict[str, type] = {
    "assessment": Assessment, "filing": FilingPacket, "protection": ProtectionReport,
}

#: Where DejaVu Sans is looked for (regular, bold) when no font is given.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
     "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)

@dataclass(frozen=True)
class Block:
    """One piece of a document: heading (``h2``, ``h3``), paragraph (``p``), list (``ul``),
    or a note (``note``); ``css`` marks DPO placeholders (``todo``) and warnings (``warn``)."""

    kind: Literal["h2", "h3", "p", "ul", "note"]
    text: str = ""
    items: tuple[str, ...] = ()
    css: str = ""
    #: The language of stored text (a draft's, a DPO's) when it is not the document's.
    lang: str = ""


@dataclass(frozen=True)
class Document:
    title: str
    rows: list[tuple[str, str]]
    blocks: list[Block] = field(default_factory=list)
    banner: str = ""
    banner_css: str = ""


_CJK = re.compile(r"[\u4e00-\u9fff]")


def written_in(text: str) -> str:
    """The language stored text is written in: ``zh-CN`` with Chinese characters, else
    ``en`` (an assessment is drafted in its deployment's language)."""
    return "zh-CN" if _CJK.search(text) else "en"


def text_blocks(text: str, css: str = "") -> list[Block]:
    """Plain section text to blocks: blank lines split paragraphs, ``- `` lines are items;
    each marked with its language where that is not the document's."""
    lang = written_in(text)
    lang = "" if lang == i18n.current() else lang
    blocks: list[Block] = []
    for chunk in text.strip().split("\n\n"):
        lines = [line.rstrip() for line in chunk.strip().splitlines() if line.strip()]
        prose = [line for line in lines if not line.startswith("- ")]
        items = tuple(line[2:] for line in lines if line.startswith("- "))
        if prose:
            blocks.append(Block("p", " ".join(prose), css=css, lang=lang))
        if items:
            blocks.append(Block("ul", items=items, css=css, lang=lang))
    return blocks


def _shown(text: str) -> str:
    """Stored text as a reader sees it: the DPO placeholder marker in the reader's words
    (the file keeps the marker, which approval looks for)."""
    return text.replace(PLACEHOLDER, _(PLACEHOLDER))


def _assessment_doc(a: Assessment, pipl: bool = True) -> Document:
    processor = _("Personal information processor") if pipl else _("Controller")
    rows = [(_("Deployment"), a.deployment), (processor, a.controller),
            (_("Drafted on"), a.drafted_on.isoformat()),
            (_("Deployment fingerprint"), a.deployment_sha256),
            (_("Content hash"), content_hash(a))]
    if a.approval is not None:
        rows += [(_("Approved by"), a.approval.by),
                 (_("Approved at"), a.approval.at.isoformat()),
                 (_("Keep until"), a.approval.keep_until.isoformat())]
        banner = _("Approved by %(by)s on %(day)s") % {"by": a.approval.by,
                                                       "day": a.approval.at.date()}
        css = "ok"
    else:
        pending = a.pending
        banner = _("DRAFT, not approved") + (
            _(": %(n)s sections to be completed by the DPO") % {"n": len(pending)}
            if pending else "")
        css = "warn"
    blocks: list[Block] = []
    for number, s in enumerate(a.sections, start=1):
        blocks += [Block("h2", f"{number}. {_(s.title)}"),
                   Block("note", _("Sources: ") + "; ".join(s.sources))]
        blocks += text_blocks(_shown(s.prefilled))
        if s.dpo.strip() or s.needs_human:
            blocks.append(Block("h3", _("Assessment by the DPO")))
            blocks += text_blocks(_shown(s.dpo) or _("(empty)"), "" if s.complete else "todo")
    title = (_("Personal information protection impact assessment") if pipl else
             _("Data protection impact assessment (DPIA)"))
    return Document(title, rows, blocks, banner, css)


#: Headings of a filing packet, in order (the PDF test checks each one).
FILING_HEADINGS = ("Processor", "Filing status", "Purposes", "Methods", "People stored",
                   "Safeguards", "Rules applied", "Impact assessment")


def _yes(flag: bool) -> str:
    return _("yes") if flag else _("no")


def _filing_doc(p: FilingPacket, pipl: bool = True) -> Document:
    s, m = p.status, p.methods
    rows = [(_("Generated on"), p.generated_on.isoformat()),
            (_("Filing authority"),
             p.authority or _("the competent cyberspace administration"))]
    purposes = tuple(
        _("%(name)s: %(description)s Necessity: %(necessity)s Retention: %(days)s days. "
          "Templates: %(templates)s.") % {
            "name": x.name, "description": x.description, "necessity": x.necessity,
            "days": x.retention_days, "templates": f"{x.templates:,}"} for x in p.purposes)
    status_items = [_("Required: %(yes)s (%(threshold)s)") % {"yes": _yes(s.required),
                                                             "threshold": s.threshold_text},
                    _("Threshold crossed on: %(day)s") % {"day": s.crossed_on or "-"},
                    _("Deadline: %(day)s") % {"day": s.deadline or "-"},
                    _("Overdue: %(yes)s") % {"yes": _yes(s.overdue)}]
    rules = tuple(f"{r.get('id', '-')}: " + "; ".join(f"{k} {v}" for k, v in r.items()
                                                       if k != "id") for r in p.rules)
    none = (_("(none)"),)
    sections: list[tuple[str, list[Block]]] = [
        ("Processor", [Block("ul", items=(
            _("Name: %(value)s") % {"value": p.processor.name},
            _("Contact: %(value)s") % {"value": p.processor.contact},
            _("Deployment: %(value)s") % {"value": p.processor.deployment}))]),
        ("Filing status", [Block("p", s.detail), Block("ul", items=tuple(status_items))]),
        ("Purposes", [Block("ul", items=purposes)]),
        ("Methods", [Block("p", m.processing), Block("ul", items=(
            _("Place type: %(value)s") % {"value": m.place},
            _("Public place: %(value)s") % {"value": _yes(m.public_place)},
            _("Collection area: %(value)s") % {"value": m.collection_area or "-"},
            _("Signage: %(value)s") % {"value": m.signage or "-"},
            _("Transmission: %(value)s") % {"value": _(m.transmission)},
            _("Liveness: %(value)s") % {"value": _(m.liveness)},
            _("Alternatives: %(value)s") % {
                "value": ", ".join(i18n.term(a) for a in m.alternatives)
                or _("(none)")}))]),
        ("People stored", [Block("p", ngettext("%(num)s distinct person.",
                                               "%(num)s distinct people.", p.people)
                                 % {"num": f"{p.people:,}"})]),
        ("Safeguards", [Block("p", _("Protection level: %(level)s.")
                              % {"level": p.protection_level}),
                        Block("ul", items=tuple(p.safeguards) or none)]),
        ("Rules applied", [Block("ul", items=rules or none)]),
    ]
    blocks: list[Block] = []
    for heading, body in sections:
        blocks += [Block("h2", _(heading)), *body]
    blocks.append(Block("h2", _("Impact assessment")))
    if p.assessment is None:
        blocks.append(Block("p", _("No impact assessment."), css="warn"))
    else:
        inner = _assessment_doc(p.assessment, pipl)
        blocks.append(Block("p", inner.banner, css=inner.banner_css))
        blocks += [Block("h3", b.text) if b.kind == "h2" else b for b in inner.blocks]
    banner = "; ".join(p.warnings)
    return Document(_("Filing packet: face recognition application (FRM 15)"), rows, blocks,
                    banner, "warn" if banner else "")


def _protection_doc(r: ProtectionReport, pipl: bool = True) -> Document:
    rows = [(_("Declared level"), str(r.level)),
            (_("Control profile"), _("level %(level)s") % {"level": r.profile}),
            (_("Place type"), r.place), (_("Public place"), _yes(r.public_place)),
            (_("People"), f"{r.people:,}"), (_("Purposes"), ", ".join(r.purposes) or "-")]
    blocks = [Block("h2", _("Controls faceguard provides"))]
    for c in r.controls:
        blocks += [Block("h3", f"{c.name} [{c.provided_by}]"),
                   Block("p", _("Requirement: %(text)s.") % {"text": c.requirement}),
                   Block("p", _("How: %(text)s.") % {"text": c.how})]
    blocks += [Block("h2", _("What the operator must add")),
               Block("ul", items=tuple(r.operator_tasks)), Block("h2", _("Plausibility"))]
    if r.warnings:
        blocks.append(Block("ul", items=tuple(
            _("[%(rule)s] %(reason)s; suggested level %(level)s") % {
                "rule": w.rule, "reason": w.reason, "level": w.suggested_level}
            for w in r.warnings), css="warn"))
    else:
        blocks.append(Block("p", _("The declared level is plausible for the place and "
                                   "scale.")))
    banner = (_("Level plausible") if r.plausible else
              ngettext("%(num)s plausibility warning", "%(num)s plausibility warnings",
                       len(r.warnings)) % {"num": len(r.warnings)})
    return Document(_("Protection level report (MLPS)"), rows, blocks, banner,
                    "ok" if r.plausible else "warn")


#: The notice every document of a trial deployment opens with.
TRIAL_BANNER = ("TRIAL deployment (faceguard serve --dev): not lawful for real people; "
                "no DPO has approved this document")


def document(kind: str, obj: Any, *, trial: bool = False, language: Language = "en",
             packs: Sequence[str] | None = None) -> Document:
    """The intermediate document for ``kind`` (``assessment``, ``filing``, ``protection``)
    in ``language`` (headings, labels and the generated frame; the texts a person wrote
    stay as written, and an assessment's drafted text is in the language it was drafted
    in); a ``trial``'s carries ``TRIAL_BANNER`` first. ``packs``: the deployment's law
    packs, whose ``vocabulary`` says whose words are used: GDPR's (controller, data
    protection impact assessment) or PIPL's (unknown: PIPL's)."""
    pipl = pipl_words(packs)
    with i18n.use(language):
        return _document(kind, obj, trial, pipl)


def _document(kind: str, obj: Any, trial: bool, pipl: bool) -> Document:
    expected = KINDS.get(kind)
    if expected is None:
        raise ConfigError(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    if not isinstance(obj, expected):
        raise ConfigError(f"a {kind} report needs a {expected.__name__}, "
                          f"not {type(obj).__name__}")
    builders: dict[str, Callable[[Any, bool], Document]] = {
        "assessment": _assessment_doc, "filing": _filing_doc, "protection": _protection_doc}
    doc = builders[kind](obj, pipl)
    if trial:
        first = _(TRIAL_BANNER)
        banner = f"{first}. {doc.banner}" if doc.banner else first
        doc = replace(doc, title=f"{_('TRIAL')} - {doc.title}", banner=banner,
                      banner_css="warn")
    return doc


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("faceguard", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True)
    return env


def render_html(kind: str, obj: Any, *, trial: bool = False, language: Language = "en",
                packs: Sequence[str] | None = None) -> str:
    """A self-contained HTML page (inline CSS, nothing external)."""
    doc = document(kind, obj, trial=trial, language=language, packs=packs)
    pipl = pipl_words(packs)
    with i18n.use(language):
        return str(_environment().get_template(f"{kind}.html").render(
            doc=doc, kind=kind, language=language, pipl=pipl))


def render_pdf(kind: str, obj: Any, *, font: Path | None = None,
               system_fonts: bool = True, trial: bool = False,
               language: Language = "en", packs: Sequence[str] | None = None) -> bytes:
    """A PDF of the same document (see the module docstring for the font choice)."""
    from faceguard.assess.pdf import write_pdf

    fallback = None
    if language == "zh-CN":
        # the CJK fonts have no Latin glyphs: the body font draws Latin, the CJK font the rest
        fallback = cjk_font()
        system_fonts = True
    regular, bold = _pick_font(font, system_fonts)
    if fallback is not None and regular is None:
        regular = fallback  # no Latin font on the machine: the CJK font alone
    if regular == fallback:
        fallback = None
    doc = document(kind, obj, trial=trial, language=language, packs=packs)
    with i18n.use(language):
        return write_pdf(doc, regular, bold, fallback)


#: TrueType fonts with the CJK ideographs, from distribution packages (Debian:
#: fonts-droid-fallback), embedded in zh-CN PDFs; ``FACEGUARD_CJK_FONT`` names another.
CJK_FONTS = ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
             "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
             "/usr/share/fonts/droid/DroidSansFallbackFull.ttf")


def cjk_font() -> Path:
    """The font of zh-CN PDFs; ``ConfigError`` saying which package to install."""
    named = os.environ.get("FACEGUARD_CJK_FONT")
    for candidate in ([named] if named else []) + list(CJK_FONTS):
        if Path(candidate).is_file():
            return Path(candidate)
    raise ConfigError("no font with Chinese characters for the zh-CN PDF: install "
                      "fonts-droid-fallback (apt-get install fonts-droid-fallback) or set "
                      "FACEGUARD_CJK_FONT to a TrueType file")


def _pick_font(font: Path | None, system_fonts: bool) -> tuple[Path | None, Path | None]:
    if font is not None:
        if not font.is_file():
            raise ConfigError(f"PDF font {font} not found")
        return font, None
    if system_fonts:
        for regular, bold in FONT_CANDIDATES:
            if Path(regular).is_file():
                return Path(regular), Path(bold) if Path(bold).is_file() else None
    return None, None
