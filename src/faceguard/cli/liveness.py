"""``faceguard eval-pad``: APCER, BPCER and decision time on labelled recordings (R26).

Registered on the main command group with ``main.add_command(eval_pad)``. Exit codes as for
the other commands: 0 done (a file that cannot be read or decoded is left out, counted and
named in the report), 2 a bad source (unreadable, unlabelled, missing files) or a bad
``--pad-model``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from faceguard.cli.common import facade
from faceguard.cli.progress import progress_bar
from faceguard.errors import FaceError, FaceguardError, ImageError


def _lines(report: object) -> list[str]:
    from faceguard import PadReport

    assert isinstance(report, PadReport)

    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    live_attacks = sum(o.decision == "attack" for o in report.outcomes if o.label == "live")
    lines = [f"{report.presentations} presentations: {report.bona_fide} bona fide, "
             f"{report.attacks} attacks"]
    if report.bona_fide:
        lines.append(f"BPCER {rate(report.bpcer)} ({live_attacks}/{report.bona_fide} bona fide "
                     f"called attacks); BPNRR {rate(report.bpnrr)} (no decision)")
    for kind, value in report.apcer.items():
        accepted = sum(o.decision == "live" for o in report.outcomes if o.label == kind)
        lines.append(f"APCER {kind}: {value:.4f} ({accepted}/{report.attacks_per_type[kind]} "
                     f"accepted as live); APNRR {report.apnrr[kind]:.4f}")
    if report.apcer_max is not None:
        lines.append(f"APCER_max {report.apcer_max:.4f}")
    times = report.decision_seconds
    lines.append(f"decision time: median {times['median']:.2f} s, p95 {times['p95']:.2f} s, "
                 f"max {times['max']:.2f} s")
    if report.unreadable:
        lines.append(f"unreadable: {len(report.unreadable)} file(s) left out")
    lines += [f"note: {note}" for note in report.notes]
    return lines


@click.command("eval-pad")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--label", default=None,
              help="Label for items that have none: 'live' or an attack type.")
@click.option("--stride", default=3, show_default=True, type=click.IntRange(1, 1000),
              help="Use every N-th frame of a video.")
@click.option("--max-frames", default=300, show_default=True, type=click.IntRange(2, 100_000),
              help="Frames read per video at most.")
@click.option("--pad-model", "pad_model", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML file with a [pad_model] table (faceguard.toml will do): run that "
                   "operator-supplied ONNX model beside the other checks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_pad(source: Path, label: str | None, stride: int, max_frames: int,
             pad_model: Path | None, as_json: bool) -> None:
    """Presentation-attack detection figures on SOURCE (ISO/IEC 30107-3 terms).

    SOURCE is a folder (labels.csv inside, or sub-folders live/, spoof_print/, ...), a CSV
    (columns file and label or pad_label) or a list of files (one 'path[,label]' per line).
    Images get the passive checks; videos the depth, identity and passive checks.
    """
    try:
        samples = facade().tools.pad_samples(source, label=label)
        with progress_bar(len(samples), "judging") as update:
            report = facade().tools.evaluate_pad(samples, stride=stride, max_frames=max_frames,
                                                 progress=update, pad_model=pad_model)
    except FaceguardError as exc:
        code = 4 if isinstance(exc, (ImageError, FaceError)) else 2
        if as_json:
            click.echo(json.dumps({"error": type(exc).__name__, "rule": exc.rule,
                                   "message": exc.message}, ensure_ascii=False))
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(code)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(_lines(report)))
