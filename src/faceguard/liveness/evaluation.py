"""PAD evaluation in the vocabulary of ISO/IEC 30107-3 (``faceguard eval-pad``).

- *Bona fide presentation*: a live person (label ``live``; ``bona_fide``, ``real`` and
  ``genuine`` are read as ``live``). Every other label is an attack type (a *PAI species*,
  e.g. ``spoof_print``, ``spoof_replay``, ``print-turn``).
- **APCER** (per attack type): the share of attack presentations classified as bona fide
  (decision ``live``). **APCER_max** is the worst type's.
- **BPCER**: the share of bona fide presentations classified as attacks (decision
  ``attack``).
- **APNRR / BPNRR** (non-response rates): the shares that got no decision (``retry``).
  A retry is neither an acceptance nor an attack classification, and is reported apart.
- **Decision time**: seconds from the frames in hand to the decision, per presentation.

What runs depends on the input: a single image gets only the passive scorers (one picture
cannot show liveness); a video gets the depth, identity and passive checks over its frames
(:meth:`PresentationAttackDetector.assess_recording`). The challenge-response part (nonce,
movements in order) can only be evaluated on recordings made answering a challenge.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from faceguard.engine.imaging import decode_image
from faceguard.errors import ConfigError, FaceguardError
from faceguard.liveness.detector import PresentationAttackDetector
from faceguard.liveness.types import PadDecision

LIVE_LABELS = frozenset({"live", "bona_fide", "bonafide", "bona-fide", "real", "genuine"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})

#: Below this many presentations of a kind, the report says its rate cannot rate a detector
#: (ISO/IEC 30107-3 and the rule of 3: zero errors in n trials bound the rate only at 3/n).
MIN_TO_RATE = 100


@dataclass(frozen=True)
class PadSample:
    """One labelled presentation: an image or a video file."""

    path: Path
    label: str

    @property
    def bona_fide(self) -> bool:
        return self.label in LIVE_LABELS

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class PadOutcome:
    """The decision on one presentation."""

    file: str
    label: str
    decision: str
    reasons: tuple[str, ...]
    seconds: float
    frames: int


@dataclass
class PadReport:
    """Figures of one evaluation (rates are fractions; ``None`` when nothing to count)."""

    presentations: int
    bona_fide: int
    attacks: int
    bpcer: float | None
    bpnrr: float | None
    apcer: dict[str, float]
    apnrr: dict[str, float]
    attacks_per_type: dict[str, int]
    apcer_max: float | None
    decision_seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    #: Files that could not be read or decoded: (file, why); not counted in any rate.
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[PadOutcome] = field(default_factory=list)


class SteppingClock:
    """A challenge store's clock for judging recorded answers (evaluations, benchmarks,
    tests): each reading ``step`` later than the last, the first ``start``, so that an answer
    arrives as long after its challenge as a capture takes (the server's clock check)
    without waiting for it."""

    def __init__(self, step: timedelta = timedelta(seconds=3),
                 start: datetime = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now


def _norm_label(label: str) -> str:
    text = label.strip().lower()
    return "live" if text in LIVE_LABELS else text


def _media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES


def read_samples(source: Path, *, label: str | None = None) -> list[PadSample]:
    """Presentations from a folder, a CSV or a list file.

    - Folder: ``labels.csv`` inside it if present; otherwise every image or video, labelled by
      its first sub-folder (``live/``, ``spoof_print/``, ...) or by ``label`` if directly in
      the folder.
    - CSV: columns ``file`` (or ``path``) and ``label`` (or ``pad_label``); paths relative to
      the CSV's folder; rows without a label take ``label``, or are skipped without one.
    - Any other file: a list, one ``path`` or ``path,label`` per line (``#`` comments).
    """
    default = _norm_label(label) if label else None
    if source.is_dir():
        inner = source / "labels.csv"
        if inner.is_file():
            return read_samples(inner, label=label)
        samples = []
        for path in sorted(p for p in source.rglob("*") if p.is_file() and _media(p)):
            parts = path.relative_to(source).parts
            name = _norm_label(parts[0]) if len(parts) > 1 else default
            if name:
                samples.append(PadSample(path, name))
        return _require(samples, source)
    rows: Iterable[tuple[str, str]]
    try:
        with source.open(newline="", encoding="utf-8") as handle:
            if source.suffix.lower() == ".csv":
                reader = csv.DictReader(handle)
                names = reader.fieldnames or []
                file_key = next((k for k in ("file", "path") if k in names), None)
                label_key = next((k for k in ("label", "pad_label") if k in names), None)
                if file_key is None:
                    raise ConfigError(f"{source.name}: no 'file' or 'path' column")
                rows = [(r[file_key] or "", (r.get(label_key) or "") if label_key else "")
                        for r in reader]
            else:
                rows = []
                for line in handle:
                    text = line.split("#", 1)[0].strip()
                    if text:
                        path_text, _, row_label = text.partition(",")
                        rows.append((path_text.strip(), row_label.strip()))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from exc
    samples = []
    for path_text, row_label in rows:
        name = _norm_label(row_label) if row_label.strip() else default
        if not name or not path_text:
            continue
        path = Path(path_text)
        samples.append(PadSample(path if path.is_absolute() else source.parent / path, name))
    missing = [s.path for s in samples if not s.path.is_file()]
    if missing:
        raise ConfigError(f"{len(missing)} listed file(s) not found, e.g. {missing[0]}")
    return _require(samples, source)


def _require(samples: list[PadSample], source: Path) -> list[PadSample]:
    if not samples:
        raise ConfigError(f"no labelled images or videos found in {source} (give --label for "
                          "unlabelled ones)")
    return samples


def read_video(path: Path, *, stride: int = 1, max_frames: int = 300,
               ) -> tuple[list[np.ndarray], list[int]]:
    """RGB frames (every ``stride``-th, at most ``max_frames``) and their times in ms.

    The times are the container's presentation times of the frames read (OpenCV's
    ``CAP_PROP_POS_MSEC``), right for variable-rate video; only where the container gives
    none (or times that do not increase) are they computed from the index and nominal rate."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ConfigError(f"cannot open video {path}")
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 30.0
    frames: list[np.ndarray] = []
    stamps: list[float] = []
    nominal: list[int] = []
    index = 0
    try:
        while len(frames) < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % stride == 0:
                frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
                stamps.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)))
                nominal.append(int(round(index * 1000 / fps)))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise ConfigError(f"no frame could be read from {path}")
    increasing = all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    if len(stamps) > 1 and increasing and all(np.isfinite(stamps)):
        return frames, [int(round(t - stamps[0])) for t in stamps]
    return frames, nominal


def judge_sample(
    detector: PresentationAttackDetector, sample: PadSample, *, stride: int = 3,
    max_frames: int = 300,
) -> tuple[PadDecision, int]:
    """The decision on one presentation, and the number of frames it used."""
    if sample.is_video:
        frames, times = read_video(sample.path, stride=stride, max_frames=max_frames)
        return detector.assess_recording(frames, times), len(frames)
    try:
        data = sample.path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {sample.path}: {exc.strerror}") from exc
    return detector.assess_image(decode_image(data)), 1


def pad_report(outcomes: Sequence[PadOutcome]) -> PadReport:
    """APCER per type, BPCER, non-response rates and decision times of ``outcomes``."""
    live = [o for o in outcomes if o.label == "live"]
    attacks = [o for o in outcomes if o.label != "live"]
    types = sorted({o.label for o in attacks})

    def share(items: Sequence[PadOutcome], decision: str) -> float | None:
        return sum(o.decision == decision for o in items) / len(items) if items else None

    apcer = {t: share([o for o in attacks if o.label == t], "live") or 0.0 for t in types}
    apnrr = {t: share([o for o in attacks if o.label == t], "retry") or 0.0 for t in types}
    counts = {t: sum(o.label == t for o in attacks) for t in types}
    seconds = np.array([o.seconds for o in outcomes]) if outcomes else np.zeros(1)
    notes = []
    small = [t for t in types if counts[t] < MIN_TO_RATE]
    if live and len(live) < MIN_TO_RATE:
        small.insert(0, "live")
    if small:
        notes.append(f"too few presentations to rate a detector ({', '.join(small)}: fewer "
                     f"than {MIN_TO_RATE} each; with n presentations and no error the rate "
                     "is only known to be below about 3/n)")
    return PadReport(
        presentations=len(outcomes), bona_fide=len(live), attacks=len(attacks),
        bpcer=share(live, "attack"), bpnrr=share(live, "retry"), apcer=apcer, apnrr=apnrr,
        attacks_per_type=counts, apcer_max=max(apcer.values()) if apcer else None,
        decision_seconds={
            "mean": float(seconds.mean()), "median": float(np.median(seconds)),
            "p95": float(np.quantile(seconds, 0.95)), "max": float(seconds.max()),
        },
        notes=notes, outcomes=list(outcomes),
    )


def evaluate_pad(
    samples: Sequence[PadSample],
    detector: PresentationAttackDetector,
    *,
    stride: int = 3,
    max_frames: int = 300,
    progress: Callable[[int], None] | None = None,
) -> PadReport:
    """Run the detector on every sample and report (see the module docstring). A file that
    cannot be read or decoded is skipped, named in ``unreadable`` and a note; the others are
    still judged."""
    outcomes = []
    unreadable: list[tuple[str, str]] = []
    for sample in samples:
        try:
            decision, frames = judge_sample(detector, sample, stride=stride,
                                            max_frames=max_frames)
        except (FaceguardError, OSError) as exc:
            unreadable.append((str(sample.path), str(exc)))
        else:
            outcomes.append(PadOutcome(str(sample.path), sample.label, decision.decision,
                                       decision.codes, decision.seconds, frames))
        if progress is not None:
            progress(1)
    report = pad_report(outcomes)
    report.unreadable = unreadable
    if unreadable:
        report.notes.append(f"{len(unreadable)} file(s) could not be read and were left out: "
                            + "; ".join(f"{name} ({why})" for name, why in unreadable))
    if any(not s.is_video for s in samples):
        report.notes.append("images were judged by the passive scorers alone; a single "
                            "picture cannot show three-dimensional motion")
    return report
