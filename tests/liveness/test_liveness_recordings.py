"""Live recordings are not called attacks; the evaluation figures and ``eval-pad``."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceguard.cli.liveness import eval_pad
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import ConfigError
from faceguard.liveness import PresentationAttackDetector
from faceguard.liveness.attacks import render_attack
from faceguard.liveness.evaluation import PadOutcome, pad_report, read_samples
from test_liveness_support import require_liveness, video_frames


@pytest.mark.parametrize("clip", ["d0.mp4", "d12.mp4", "d20.mp4"])
def test_live_clips_are_not_called_attacks(engine: DlibEngine, clip: str) -> None:
    root = require_liveness()
    frames, times = video_frames(root / "videos" / clip, stride=4, limit=30)
    decision = PresentationAttackDetector(engine).assess_recording(frames, times)
    assert decision.decision != "attack", decision.reasons
    checks = {c.name: c.outcome for c in decision.checks}
    assert checks["identity"] == "pass" and checks["passive"] == "pass"
    assert checks["depth"] in ("pass", "retry")


def _outcome(label: str, decision: str, seconds: float = 1.0) -> PadOutcome:
    return PadOutcome("x", label, decision, (), seconds, 10)


def test_apcer_bpcer_and_non_response_rates() -> None:
    outcomes = (
        [_outcome("live", "live")] * 6 + [_outcome("live", "attack"), _outcome("live", "retry")]
        + [_outcome("print", "attack")] * 3 + [_outcome("print", "live")]
        + [_outcome("screen", "retry"), _outcome("screen", "attack", 3.0)]
    )
    report = pad_report(outcomes)
    assert (report.presentations, report.bona_fide, report.attacks) == (14, 8, 6)
    assert report.bpcer == 1 / 8 and report.bpnrr == 1 / 8
    assert report.apcer == {"print": 0.25, "screen": 0.0}
    assert report.apnrr == {"print": 0.0, "screen": 0.5}
    assert report.apcer_max == 0.25 and report.attacks_per_type == {"print": 4, "screen": 2}
    assert report.decision_seconds["max"] == 3.0 and report.decision_seconds["median"] == 1.0
    assert "too few presentations to rate" in report.notes[0]


def test_samples_from_a_folder_a_csv_and_a_list(tmp_path: Path) -> None:
    from PIL import Image

    for name in ("live/a.png", "spoof_print/b.png", "loose.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    samples = read_samples(tmp_path)
    assert [(s.path.name, s.label) for s in samples] == [("a.png", "live"),
                                                         ("b.png", "spoof_print")]
    assert len(read_samples(tmp_path, label="live")) == 3
    (tmp_path / "list.txt").write_text("# clips\nlive/a.png,bona_fide\nloose.png\n")
    listed = read_samples(tmp_path / "list.txt", label="replay")
    assert [(s.path.name, s.label) for s in listed] == [("a.png", "live"), ("loose.png", "replay")]
    (tmp_path / "bad.csv").write_text("file,label\nnothere.png,live\n")
    with pytest.raises(ConfigError, match="not found"):
        read_samples(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("file,pad_label\nloose.png,\n")
    with pytest.raises(ConfigError, match="no labelled images"):
        read_samples(tmp_path / "empty.csv")


def test_eval_pad_on_the_labelled_pictures_of_the_faces_folder(faces: Path) -> None:
    result = CliRunner().invoke(eval_pad, [str(faces / "labels.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["presentations"] == 15 and report["bona_fide"] == 7
    assert set(report["apcer"]) == {"spoof", "spoof_print", "spoof_replay"}
    assert report["bpcer"] == 0.0
    assert any("too few presentations" in note for note in report["notes"])
    text = CliRunner().invoke(eval_pad, [str(faces / "labels.csv")])
    assert "APCER spoof_print" in text.stdout and "BPCER" in text.stdout


def test_eval_pad_on_generated_recordings(tmp_path: Path, faces: Path) -> None:
    import cv2
    from PIL import Image

    with Image.open(faces / "lfw" / "lfw" / "Colin_Powell" / "Colin_Powell_0001.jpg") as image:
        photo = np.asarray(image.convert("RGB"))
    sequence = render_attack(photo, np.random.default_rng(4), medium="print", motion="turn",
                             frames=10, face_box=(70, 70, 180, 190), strength=1.0,
                             size=(640, 480))
    writer = cv2.VideoWriter(str(tmp_path / "attack.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                             10.0, (640, 480))
    for frame in sequence.frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    (tmp_path / "list.txt").write_text("attack.avi,print-turn\n")
    result = CliRunner().invoke(eval_pad, [str(tmp_path / "list.txt"), "--json",
                                           "--stride", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["apcer"] == {"print-turn": 0.0}
    assert report["outcomes"][0]["decision"] == "attack"
    assert "depth.planar" in report["outcomes"][0]["reasons"]
    (tmp_path / "broken.txt").write_text("nothing.mp4,live\n")
    failed = CliRunner().invoke(eval_pad, [str(tmp_path / "broken.txt")])
    assert failed.exit_code == 2 and "not found" in failed.output


def test_eval_pad_names_an_unreadable_file_and_judges_the_others(tmp_path: Path,
                                                                  faces: Path) -> None:
    good = faces / "vietmoney_fas" / "data" / "test" / "true_001.jpg"
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "list.txt").write_text(f"{good},live\nbroken.jpg,spoof_print\n")
    result = CliRunner().invoke(eval_pad, [str(tmp_path / "list.txt"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["presentations"] == 1 and report["bona_fide"] == 1
    [(name, why)] = report["unreadable"]
    assert name.endswith("broken.jpg") and why
    assert any("1 file(s) could not be read" in n and "broken.jpg" in n
               for n in report["notes"])
    text = CliRunner().invoke(eval_pad, [str(tmp_path / "list.txt")])
    assert "unreadable: 1 file(s) left out" in text.output


def test_video_frame_times_come_from_the_container(tmp_path: Path) -> None:
    """A variable-rate video (frames 40 ms then 120 ms apart): the times read are the
    container's, not the index over the nominal rate."""
    av = pytest.importorskip("av", reason="PyAV (a test dependency) writes the test video")
    from faceguard.liveness.evaluation import read_video

    path = tmp_path / "vfr.mp4"
    stamps_ms = [0, 40, 80, 200, 320, 440, 480]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=1000)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for number, t in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), 20 * number, np.uint8), format="rgb24")
            frame.pts = t
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frames, times = read_video(path)
    assert len(frames) == len(stamps_ms)
    assert times == stamps_ms, times
