"""``faceguard`` commands: faces: enroll, verify, identify, eval, eval-identify, enroll-batch."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from faceguard.cli.common import (
    EXIT_NEGATIVE,
    IMAGE_SUFFIXES,
    Context,
    Output,
    facade,
    json_option,
    pass_ctx,
)
from faceguard.cli.progress import progress_bar
from faceguard.errors import (
    ConfigError,
    FaceguardError,
)
from faceguard.i18n import ngettext

if TYPE_CHECKING:
    from faceguard.engine.choice import Detector


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
@click.option("--face", default=None, metavar="centre|L,T,R,B",
              help="Where a picture holds several faces: the face nearest the centre, or "
                   "the box (left,top,right,bottom in pixels) of the face to enroll.")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
@pass_ctx
def enroll(
    ctx: Context, external_id: str, purpose: str, replace: bool, face: str | None,
    images: tuple[Path, ...], as_json: bool,
) -> None:
    """Enroll image files (or folders of images) of one consenting person."""
    out = Output(as_json)
    files = _image_files(images)
    if not files:
        out.fail(ConfigError("no image files given (.jpg, .jpeg, .png, .webp)"))
    data = [_read(path, out) for path in files]
    with (
        ctx.open(out) as fg,
        progress_bar(len(files), "enrolling") as update,
    ):
        result = fg.enroll(external_id, data, purpose, actor="cli", progress=update,
                           replace=replace, face=face)
    count = len(result.template_ids)
    out.emit(result, ngettext("enrolled %(num)s template for %(purpose)s",
                              "enrolled %(num)s templates for %(purpose)s", count)
             % {"num": count, "purpose": purpose})


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


_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def engine_options(command: _Fn) -> _Fn:
    """``--models DIR``, ``--detector`` and ``--calibration FILE``: an engine the operator
    brings (ONNX files, docs/CALIBRATION.md) and its calibration."""
    command = click.option(
        "--calibration", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None, help="Calibration file of the engine (default: the shipped one).")(command)
    command = click.option(
        "--detector", type=click.Choice(["own", "dlib"]), default="own", show_default=True,
        help="With --models: the folder's detector model, or dlib's.")(command)
    return click.option(
        "--models", type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None, help="Folder of ONNX models (fr_detect, fr_landmark, fr_feature) "
                           "instead of the default engine.")(command)


@click.command("eval")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False,
                                                       path_type=Path))
@click.option("--subset", default=None, help="Only rows whose subset column equals this.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--face", type=click.Choice(["centre"]), default=None,
              help="The face nearest the centre of each picture instead of the largest.")
@engine_options
@json_option
def eval_command(
    pairs: Path, root: Path, subset: str | None, workers: int, face: str | None,
    models: Path | None, detector: Detector, calibration: Path | None, as_json: bool
) -> None:
    """Accuracy, FMR/FNMR at each operating point, failures to enrol, images per second."""
    out = Output(as_json)
    try:
        rows = facade().tools.read_pairs(pairs, subset)
        images = len({p.file_a for p in rows} | {p.file_b for p in rows})
        with progress_bar(images, "embedding") as update:
            report = facade().tools.evaluate(rows, root, workers=workers, progress=update,
                                              models=models, detector=detector,
                                              calibration=calibration,
                                              centre=face == "centre")
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
        rows = len(facade().tools.read_manifest(manifest))
    except FaceguardError as exc:
        out.fail(exc)
    with (
        ctx.open(out) as fg,
        progress_bar(rows, "enrolling") as update,
    ):
        result = fg.enroll_batch(manifest, root, report, workers=workers, actor="cli",
                                 progress=update)
    out.emit(result, f"{result.enrolled} enrolled, {result.failed} failed, "
                     f"{result.skipped} already done; report: {result.report}")
    sys.exit(0 if result.failed == 0 else EXIT_NEGATIVE)


@click.command("eval-identify")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--gallery-images", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Pictures enrolled per person (people with more take part).")
@click.option("--distractors", default=0, show_default=True, type=click.IntRange(0),
              help="People with a single picture enrolled too (drawn at random, no probe), "
                   "to measure at a larger gallery; the others stay strangers.")
@click.option("--purpose", default="access-control", show_default=True,
              help="Purpose of the deployment file whose 1:N rule is applied (its defaults "
                   "when there is no deployment file).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File of extracted templates reused across runs (e.g. under /tmp).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the DET curve (PNG) with the operating point marked.")
@click.option("--face", type=click.Choice(["centre"]), default=None,
              help="Enroll the face nearest the centre of gallery pictures holding several.")
@engine_options
@json_option
@pass_ctx
def eval_identify(ctx: Context, root: Path, gallery_images: int, distractors: int,
                  purpose: str, workers: int,
                  cache: Path | None, plot: Path | None, face: str | None,
                  models: Path | None, detector: Detector, calibration: Path | None,
                  as_json: bool) -> None:
    """1:N figures on a folder per person: FPIR, FNIR, rank-1 and reviews at the rule."""
    out = Output(as_json)
    try:
        config = ctx.config or ctx.data_dir / "faceguard.toml"
        section = None
        if config.exists():
            purposes = facade().tools.load_deployment_file(config).purposes
            if purpose not in purposes:
                raise ConfigError(f"{config} declares no purpose {purpose!r}")
            section = purposes[purpose]
        split = facade().tools.identification_split(root, gallery_images, distractors)
        jobs = (sum(len(p) for p in split.gallery.values()) + len(split.mated)
                + len(split.strangers))
        with progress_bar(jobs, "extracting") as update:
            report = facade().tools.evaluate_identification(
                split, section, workers=workers, cache=cache, progress=update,
                models=models, detector=detector, calibration=calibration,
                centre=face == "centre")
        if plot is not None:
            from faceguard.cli.det_plot import draw_det

            draw_det(report.det, (report.fpir, report.fnir), plot)
    except FaceguardError as exc:
        out.fail(exc)
    at = ", ".join(f"{k}: {'-' if v is None else f'{v:.2%}'}"
                   for k, v in report.fnir_at_fpir.items())
    out.emit(report, "\n".join([
        f"gallery {report.gallery} people ({report.gallery_failures} of "
        f"{report.gallery_images} pictures not enrolled), {report.mated} mated probes, "
        f"{report.strangers} strangers",
        f"rule: {report.rule}",
        f"FPIR {report.fpir:.2%}  FNIR {report.fnir:.2%}  needs-review {report.needs_review:.2%}"
        f" (mated {report.needs_review_mated:.2%}, strangers "
        f"{report.needs_review_strangers:.2%})  rank-1 {report.rank1:.2%}",
        f"FNIR at FPIR (from the scores): {at}",
    ]))


@click.command("calibrate")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration file to write (JSON).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File of extracted templates reused across runs (e.g. under /tmp).")
@click.option("--models", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder of ONNX models instead of the default engine.")
@click.option("--detector", type=click.Choice(["own", "dlib"]), default="own",
              show_default=True, help="With --models: the folder's detector, or dlib's.")
@json_option
def calibrate(root: Path, out_path: Path, workers: int, cache: Path | None,
              models: Path | None, detector: Detector, as_json: bool) -> None:
    """The engine's calibration from a folder per person (your own consented people):
    operating points for 1:1 and score tables for 1:N."""
    out = Output(as_json)
    try:
        pictures = facade().tools.labelled_pictures(root)
        with progress_bar(len(pictures), "extracting") as update:
            made = facade().tools.calibrate(pictures, workers=workers, cache=cache,
                                            progress=update, models=models, detector=detector)
        out_path.write_text(json.dumps(made, indent=2) + "\n", encoding="utf-8")
    except FaceguardError as exc:
        out.fail(exc)
    except OSError as exc:
        out.fail(ConfigError(f"cannot write {out_path}: {exc.strerror}"))
    points = ", ".join(f"{p['name']} {p['threshold']:.4f}" for p in made["operating_points"])
    out.emit({"out": str(out_path), **made["provenance"]},
             f"wrote {out_path}: {made['provenance']['people']} people; {points}")
