"""``faceguard redact IN OUT``: anonymise kept images and video (a thin shell over
``Faceguard.redaction.redact``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from faceguard.cli.common import EXIT_INPUT, Context, Output, facade, json_option, pass_ctx
from faceguard.cli.progress import progress_bar

if TYPE_CHECKING:
    from faceguard.redact.report import RedactionReport

#: ``faceguard.redact.cover.STYLES``, written out so that ``--help`` loads no image library
#: (tests/test_lazy_imports.py checks that the two agree).
STYLES = ("fill", "pixelate")


@click.command("redact")
@click.argument("src", metavar="IN", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--keep", metavar="SUBJECT", default=None,
              help="Refused (R9): no face is left uncovered without consent; consenting "
                   "people are enrolled instead.")
@click.option("--style", type=click.Choice(STYLES), default="fill", show_default=True,
              help="fill: one grey; pixelate: coarse blocks plus random noise.")
@click.option("--margin", type=click.FloatRange(0.15, 2.0), default=0.3, show_default=True,
              help="Grow each face box by this fraction on every side.")
@click.option("--detect-every", type=click.IntRange(1, 30), default=3, show_default=True,
              help="Video: detect on one frame in this many, track in between.")
@click.option("--cnn-every", type=click.IntRange(0, 100), default=5, show_default=True,
              help="Video: add the CNN (turned faces) to one detection in this many; 0: "
                   "never (about 2.5x faster, misses most profiles).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes.")
@click.option("--report", "report_path", default=None,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Write the JSON report (regions covered per frame) to this file.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@json_option
@pass_ctx
def redact(
    ctx: Context, src: Path, dst: Path, keep: str | None, style: str, margin: float,
    detect_every: int, cnn_every: int, workers: int, report_path: Path | None,
    overwrite: bool, as_json: bool,
) -> None:
    """Cover every face in IN (an image, a video or a folder) irreversibly into OUT.

    Images: JPEG, PNG, WEBP. Video: what FFmpeg decodes (H.264, MJPEG, ...), written as
    MPEG-4 (.mp4, .mov) or Motion JPEG (.avi, .mkv). Metadata and audio are not copied.
    Exit 0 when every file was redacted, 4 when one could not be read.
    """
    from faceguard.redact.options import RedactOptions
    from faceguard.redact.track import TrackSettings

    out = Output(as_json)
    options = RedactOptions(
        style=style,  # type: ignore[arg-type]
        margin=margin,
        tracking=TrackSettings.every(detect_every, cnn_every),
        overwrite=overwrite,
    )
    with ctx.open(out) as fg:
        if keep is not None:
            fg.redaction.redact(src, dst, actor="cli", keep=keep)
        total = facade().tools.redaction_units(src)
        with progress_bar(total, "redacting") as update:
            report = fg.redaction.redact(src, dst, actor="cli", options=options,
                                         workers=workers, progress=update)
        if report_path is not None:
            facade().tools.write_redaction_report(report_path, report)
    for failure in report.failed:
        click.echo(f"error: {failure.source}: {failure.message}", err=True)
    out.emit(report.to_dict(), _summary(report, report_path))
    if report.failed:
        sys.exit(EXIT_INPUT)


def _summary(report: RedactionReport, report_path: Path | None) -> str:
    totals = report.summary()
    lines = [
        f"redacted {totals['files']} file(s): {totals['frames']} frame(s), "
        f"{totals['regions_covered']} region(s) covered in {totals['frames_with_faces']} "
        f"frame(s)"
    ]
    lines += [f"  {f.output}: {f.faces} face(s)" for f in report.files[:20]]
    if len(report.files) > 20:
        lines.append(f"  ... and {len(report.files) - 20} more")
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} file(s) that are not images or videos")
    if report.failed:
        lines.append(f"FAILED {len(report.failed)} file(s); nothing was written for them")
    if report_path is not None:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)

