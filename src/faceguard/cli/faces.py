"""``faceguard`` commands: faces: enroll, verify, identify, eval, enroll-batch."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from faceguard.api.faceguard import Faceguard
from faceguard.cli.common import (
    EXIT_NEGATIVE,
    IMAGE_SUFFIXES,
    Context,
    Output,
    json_option,
    pass_ctx,
)
from faceguard.errors import (
    ConfigError,
    FaceguardError,
)


def _image_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(path)
    return files


def _read(path: Path, out: Output) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        out.fail(ConfigError(f"cannot read {path}: {exc.strerror}"))


@click.command()
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@click.option("--replace", is_flag=True,
              help="Correction (R16): replace the person's templates for this purpose.")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
@pass_ctx
def enroll(
    ctx: Context, external_id: str, purpose: str, replace: bool, images: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Enroll image files (or folders of images) of one consenting person."""
    out = Output(as_json)
    files = _image_files(images)
    if not files:
        out.fail(ConfigError("no image files given (.jpg, .jpeg, .png, .webp)"))
    data = [_read(path, out) for path in files]
    with (
        ctx.open(out) as fg,
        click.progressbar(length=len(files), label="enrolling", file=sys.stderr) as bar,
    ):
        result = fg.enroll(external_id, data, purpose, actor="cli", progress=bar.update,
                           replace=replace)
    out.emit(result, f"enrolled {len(result.template_ids)} templates for {purpose}")


@click.command()
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@click.option("--show-score", is_flag=True, help="Admin/evaluation only: print the distance.")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def verify(
    ctx: Context, external_id: str, purpose: str, show_score: bool, image: Path, as_json: bool
) -> None:
    """1:1: is the person in IMAGE the given subject? Exit 0 match, 1 no-match."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.verify(external_id, _read(image, out), purpose, actor="cli",
                           reveal_score=show_score)
    out.emit(result, result.decision)
    sys.exit(0 if result.decision == "match" else EXIT_NEGATIVE)


@click.command()
@click.option("--purpose", required=True)
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def identify(ctx: Context, purpose: str, image: Path, as_json: bool) -> None:
    """1:N: who is in IMAGE? Exit 0 with the subject, 1 when unknown."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.identify(_read(image, out), purpose, actor="cli")
    text = result.external_id or result.decision
    if result.decision == "needs-review":
        text = f"needs-review: {', '.join(result.candidates)} ({result.reason})"
    out.emit(result, text)
    sys.exit(0 if result.decision == "match" else EXIT_NEGATIVE)


@click.command("eval")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False,
                                                       path_type=Path))
@click.option("--subset", default=None, help="Only rows whose subset column equals this.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@json_option
def eval_command(
    pairs: Path, root: Path, subset: str | None, workers: int, as_json: bool
) -> None:
    """Accuracy, FMR/FNMR at each operating point, failures to enrol, images per second."""
    out = Output(as_json)
    try:
        rows = Faceguard.tools.read_pairs(pairs, subset)
        images = len({p.file_a for p in rows} | {p.file_b for p in rows})
        with click.progressbar(length=images, label="embedding", file=sys.stderr) as bar:
            update: Callable[[int], None] = bar.update
            report = Faceguard.tools.evaluate(rows, root, workers=workers, progress=update)
    except FaceguardError as exc:
        out.fail(exc)
    lines = [
        f"{report.pairs} pairs ({report.genuine} genuine, {report.impostor} impostor), "
        f"{report.images} images, {report.failures_to_enrol} failures to enrol",
        f"accuracy {report.accuracy:.4f} ({report.accuracy_method})",
    ]
    lines += [
        f"  {p['name']:15s} FMR target {p['fmr_target']:g}: FMR {p['fmr']:.4g} "
        f"FNMR {p['fnmr']:.4g}"
        for p in report.operating_points
    ]
    lines.append(f"{report.images_per_second:.1f} images/s with {workers} workers")
    out.emit(report, "\n".join(lines))


@click.command("enroll-batch")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False,
                                                       path_type=Path),
              help="Folder the manifest's image paths are relative to.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Per-row report (CSV); default MANIFEST.report.csv. Rerun to resume.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@json_option
@pass_ctx
def enroll_batch(ctx: Context, manifest: Path, root: Path, report: Path | None, workers: int,
                 as_json: bool) -> None:
    """Enroll a manifest (subject, name, image, purpose, consent_method, consent_evidence,
    provenance) on both cores; rows already ok in the report are skipped."""
    out = Output(as_json)
    report = report or manifest.with_suffix(".report.csv")
    try:
        rows = len(Faceguard.tools.read_manifest(manifest))
    except FaceguardError as exc:
        out.fail(exc)
    with (
        ctx.open(out) as fg,
        click.progressbar(length=rows, label="enrolling", file=sys.stderr) as bar,
    ):
        result = fg.enroll_batch(manifest, root, report, workers=workers, actor="cli",
                                 progress=bar.update)
    out.emit(result, f"{result.enrolled} enrolled, {result.failed} failed, "
                     f"{result.skipped} already done; report: {result.report}")
    sys.exit(0 if result.failed == 0 else EXIT_NEGATIVE)
