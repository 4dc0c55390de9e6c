"""Write a ``render.Document`` as PDF with fpdf2 (no browser), A4, one font family.

With ``regular=None`` the PDF core font Helvetica is used (Latin-1 only). A ``fallback``
font (the CJK font of Chinese documents, whose ideographs the body font lacks) draws what
the body font cannot: fpdf2 switches font per character, so Latin text keeps the body
font (the CJK fallback fonts of the distributions have no Latin glyphs). Characters no
font can show are replaced (``ASCII_STANDINS``, else ``?``) and counted; a note at the
end says how many.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from faceguard.errors import ConfigError
from faceguard.i18n import gettext

if TYPE_CHECKING:
    from faceguard.assess.render import Block, Document

_INK = {"": (0, 0, 0), "todo": (176, 84, 0), "warn": (176, 0, 0), "ok": (0, 110, 40),
        "note": (90, 90, 90)}
_MARGIN = 18.0

#: Typographic characters and their ASCII stand-ins when the font lacks them.
ASCII_STANDINS = {
    "\u2014": "--", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
    "\u201d": '"', "\u2026": "...", "\u2265": ">=", "\u2264": "<=", "\u2192": "->",
    "\u00d7": "x", "\u2022": "-", "\u00a0": " ", "\u3001": ", ", "\uff0c": ", ",
    "\u3002": ". ", "\uff1a": ": ", "\uff08": "(", "\uff09": ")",
}
_INDENT = 5.0
_KEEP = 25.0  # mm of page left below which a heading starts a new page


class _Cleaner:
    """Maps text onto what the font can draw, counting replaced characters."""

    def __init__(self, supported: Callable[[str], bool]) -> None:
        self.supported = supported
        self.replaced = 0

    def __call__(self, text: str) -> str:
        out = []
        for ch in text:
            if ch == "\n" or self.supported(ch):
                out.append(ch)
            elif ch in ASCII_STANDINS:
                out.append(ASCII_STANDINS[ch])
            else:
                out.append("?")
                self.replaced += 1
        return "".join(out)


class _Pdf(FPDF):
    footer_text = ""
    page_word = "page"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(size=7.5)
        self.set_text_color(*_INK["note"])
        self.cell(0, 5, f"{self.footer_text} - {self.page_word} {self.page_no()}/{{nb}}",
                  align="C")


def _ttf_cmap(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    with path.open("rb") as handle:
        font = TTFont(handle, lazy=True, fontNumber=0)
        return set(font.getBestCmap() or {})


def _setup_fonts(pdf: _Pdf, regular: Path | None, bold: Path | None,
                 fallback: Path | None = None) -> tuple[str, str, _Cleaner]:
    """Family, bold style and cleaner for the chosen font (and its fallback)."""
    if regular is None:
        return "helvetica", "B", _Cleaner(lambda ch: 0x20 <= ord(ch) <= 0xFF and ord(ch) != 0x7F)
    try:
        cmap = _ttf_cmap(regular)  # parses (and closes) the file before fpdf2 opens it
        pdf.add_font("body", "", str(regular))
        if bold is not None:
            pdf.add_font("body", "B", str(bold))
        if fallback is not None:
            cmap |= _ttf_cmap(fallback)
            pdf.add_font("fallback", "", str(fallback))
            pdf.set_fallback_fonts(["fallback"], exact_match=False)
    except Exception as exc:  # fontTools and fpdf raise many types for a bad font file
        raise ConfigError(f"cannot use {regular} as the PDF font: {exc}") from exc
    # with a fallback font, no bold style: fpdf2 (2.8) then draws some regular Latin runs
    # with the bold font's glyph numbers (garbage); headings stay larger instead
    strong = "B" if bold is not None and fallback is None else ""
    return "body", strong, _Cleaner(lambda ch: ord(ch) in cmap)


class _Writer:
    def __init__(self, pdf: _Pdf, family: str, strong: str, clean: _Cleaner) -> None:
        self.pdf, self.family, self.strong, self.clean = pdf, family, strong, clean

    def __call__(self, text: str, size: float, *, bold: bool = False, css: str = "",
                 indent: float = 0, gap: float = 1.0) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, self.strong if bold else "", size)
        pdf.set_text_color(*_INK.get(css, _INK[""]))
        pdf.set_x(_MARGIN + indent)
        pdf.multi_cell(pdf.epw - indent, size * 0.5, self.clean(text), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    def block(self, block: Block) -> None:
        if block.kind in ("h2", "h3") and self.pdf.get_y() > self.pdf.h - _MARGIN - _KEEP:
            self.pdf.add_page()  # keep a heading with what follows it
        if block.kind == "h2":
            self.pdf.ln(2)
            self(block.text, 13, bold=True, gap=1.5)
        elif block.kind == "h3":
            self(block.text, 10.5, bold=True, gap=1)
        elif block.kind == "note":
            self(block.text, 8, css="note")
        elif block.kind == "p":
            self(block.text, 9.5, css=block.css, gap=2)
        else:
            for item in block.items:
                self(f"- {item}", 9.5, css=block.css, indent=_INDENT, gap=0.6)
            self.pdf.ln(1.5)


def write_pdf(doc: Document, regular: Path | None, bold: Path | None,
              fallback: Path | None = None) -> bytes:
    """The PDF bytes of ``doc`` (``fallback``: a font for what ``regular`` lacks)."""
    pdf = _Pdf(format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_MARGIN)
    family, strong, clean = _setup_fonts(pdf, regular, bold, fallback)
    pdf.set_title(clean(doc.title))
    pdf.set_creator("faceguard")
    pdf.footer_text = clean(doc.title)
    pdf.page_word = clean(gettext("page"))
    pdf.add_page()
    write = _Writer(pdf, family, strong, clean)
    write(doc.title, 16, bold=True, gap=3)
    if doc.banner:
        write(doc.banner, 10.5, bold=True, css=doc.banner_css, gap=2)
    for key, value in doc.rows:
        write(f"{key}: {value}", 8.5, gap=0.5)
    pdf.ln(3)
    for block in doc.blocks:
        write.block(block)
    if clean.replaced:
        pdf.ln(4)
        write(f"Note: {clean.replaced} characters that the PDF font cannot show were replaced "
              "by '?'; the HTML, TOML and JSON versions hold the full text.", 8, css="note")
    return bytes(pdf.output())
