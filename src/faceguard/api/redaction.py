"""Redaction, ``Faceguard.redaction``: ``redact`` anonymises kept images and video and
records each file in the processing record (R9, R20); the module's ``redact`` does the same
without a data directory (and without a record)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from faceguard.api.core import Part
from faceguard.audit.operations import Op
from faceguard.errors import PolicyError
from faceguard.redact.options import RedactOptions
from faceguard.redact.report import FileReport, RedactionReport

#: R9: raw face images are not kept without separate authorisation; R20 / PIPL 73: only
#: anonymised data (impossible to identify, impossible to restore) is outside the rules.
REDACTION_RULES = ("R9", "R20")

KEEP_REFUSED = (
    "there is no mode that leaves a face uncovered in kept images or footage: an original "
    "face image may be kept only with that person's separate consent (R9, R3), and a "
    "consenting person is enrolled instead (faceguard enroll), which keeps an encrypted "
    "template, not the footage"
)


def refuse_keep(keep: str | None) -> None:
    """Raise ``PolicyError`` (R9) when asked to leave someone's face uncovered."""
    if keep is not None:
        raise PolicyError(f"keeping {keep!r} uncovered is refused: {KEEP_REFUSED}", rule="R9")


def redact(src: Path, dst: Path, *, keep: str | None = None,
           options: RedactOptions | None = None, workers: int = 1,
           progress: Callable[[int], None] | None = None) -> RedactionReport:
    """Anonymise ``src`` (an image, a video or a folder) into ``dst`` without a data
    directory; see :func:`faceguard.redact.redact_media`. Nothing is recorded: operators
    use ``Faceguard.redaction.redact`` so that the processing record shows it (R11)."""
    from faceguard.redact.batch import redact_media  # OpenCV loads on first use

    refuse_keep(keep)
    return redact_media(src, dst, options, workers=workers, progress=progress)


class Redaction(Part):
    """Anonymising faces in media an operator keeps."""

    def redact(
        self,
        src: Path,
        dst: Path,
        *,
        actor: str = "library",
        keep: str | None = None,
        progress: Callable[[int], None] | None = None,
        options: RedactOptions | None = None,
        workers: int = 1,
    ) -> RedactionReport:
        """Cover every face in ``src`` (image, video or folder) irreversibly into ``dst``.

        Each file written is recorded as a ``media.redacted`` event citing R9 and R20, with
        counts, settings and the output's SHA-256 (no paths, no pixels, no boxes); each
        file of a folder that failed is recorded as ``rejected``. A single file that fails
        raises its error (recorded as ``rejected``); ``keep`` is refused (R9, recorded as
        ``refused``). The deployment need not be live: redaction only removes faces.
        ``workers`` processes share the work; ``progress`` gets units done (see
        :func:`faceguard.redact.work_units`).
        """
        from faceguard.redact.batch import redact_media  # OpenCV loads on first use

        with self._core.recorded(Op.MEDIA_REDACTED, actor, None):
            refuse_keep(keep)
            report = redact_media(src, dst, options, workers=workers, progress=progress)
        seqs = []
        store = self._core.store
        with store.write() as conn:
            for done in report.files:
                seqs.append(store.audit.append(
                    conn, actor=actor, operation=Op.MEDIA_REDACTED, outcome="ok",
                    rules=list(REDACTION_RULES), detail=_detail(done, report.settings),
                ))
            for failure in report.failed:
                seqs.append(store.audit.append(
                    conn, actor=actor, operation=Op.MEDIA_REDACTED, outcome="rejected",
                    rules=[failure.rule] if failure.rule else [],
                    detail={"error": failure.error, "message": failure.message[:500]},
                ))
        return report.with_audit(seqs)


def _detail(done: FileReport, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": done.kind,
        "input_format": done.input_format,
        "output_format": done.output_format,
        "width": done.width,
        "height": done.height,
        "frames": done.frames,
        "faces": done.faces,
        "frames_with_faces": done.frames_with_faces,
        "regions_covered": done.regions_covered,
        "style": settings.get("style"),
        "margin": settings.get("margin"),
        "detect_every": settings.get("tracking", {}).get("detect_every"),
        "metadata": "stripped",
        "output_sha256": done.output_sha256,
    }
