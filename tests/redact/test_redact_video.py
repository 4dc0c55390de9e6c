"""Video: every face covered in every frame, the output decodes with the input's frame count
and size. Videos are made by the tests from still LFW faces moving and scaling over a real
photo, so that the true face box of every frame is known; a real H.264 recording is used too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import covered_fraction
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.imaging import decode_image
from faceguard.redact import FAST, FinderSettings, RedactOptions, TrackSettings, redact_media
from faceguard.redact.container import sniff
from faceguard.redact.cover import FILL_GREY
from faceguard.redact.detect import Box, finder_for, same_face
from faceguard.redact.video import analyse, probe_video, unite

WIDTH, HEIGHT = 640, 480


@dataclass
class Clip:
    path: Path
    frames: int
    truth: dict[int, list[Box]]  # frame -> true face boxes


def _sprite(engine: DlibEngine, image: Path) -> tuple[np.ndarray, Box]:
    """A head-and-shoulders crop of an LFW photo (BGR) and its face box."""
    rgb = decode_image(image.read_bytes())[30:220, 50:200]
    faces = engine.detect(rgb)
    assert faces, f"no face in {image.name}"
    return np.ascontiguousarray(rgb[:, :, ::-1]), faces[0].box


def _paste(frame: np.ndarray, sprite: np.ndarray, face: Box, x: int, y: int, scale: float
           ) -> Box:
    h, w = sprite.shape[:2]
    size = (int(round(w * scale)), int(round(h * scale)))
    resized = cv2.resize(sprite, size, interpolation=cv2.INTER_AREA)
    frame[y:y + size[1], x:x + size[0]] = resized
    return (x + int(face[0] * scale), y + int(face[1] * scale),
            x + int(np.ceil(face[2] * scale)), y + int(np.ceil(face[3] * scale)))


def make_clip(path: Path, fourcc: str, faces: Path, engine: DlibEngine, *, frames: int = 24,
              size: tuple[int, int] = (WIDTH, HEIGHT)) -> Clip:
    """Person A crosses the top of the frame growing from 0.8x to 1.25x; person B appears
    suddenly on frame 7 (between two detection frames) and drifts left."""
    lfw = faces / "lfw" / "lfw"
    a, a_face = _sprite(engine, lfw / "Colin_Powell" / "Colin_Powell_0001.jpg")
    b, b_face = _sprite(engine, lfw / "Tony_Blair" / "Tony_Blair_0001.jpg")
    background = decode_image((faces / "dlib/examples/faces/dogs.jpg").read_bytes())
    background = cv2.resize(background[:, :, ::-1], size, interpolation=cv2.INTER_AREA)
    width, height = size
    unit = width / WIDTH
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 12, size)
    truth: dict[int, list[Box]] = {}
    for index in range(frames):
        frame = background.copy()
        t = index / max(frames - 1, 1)
        boxes = [_paste(frame, a, a_face, int((20 + 330 * t) * unit), int(10 * unit),
                        (0.8 + 0.45 * t) * unit)]
        if index >= 7:
            boxes.append(_paste(frame, b, b_face, int((440 - 3 * (index - 7)) * unit),
                                int(270 * unit), unit))
        truth[index] = boxes
        writer.write(frame)
    writer.release()
    return Clip(path, frames, truth)


def _decoded(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def _check_every_frame_covered(clip: Clip, report: dict[str, object], out: Path) -> None:
    file = report["files"][0]  # type: ignore[index]
    covered = {c["frame"]: [r["covered"] for r in c["regions"]] for c in file["covered"]}
    for index, boxes in clip.truth.items():
        for box in boxes:
            assert covered_fraction(box, covered.get(index, [])) == 1.0, (index, box)
    frames = _decoded(out)
    assert len(frames) == clip.frames == file["frames"]
    assert {f.shape for f in frames} == {(HEIGHT, WIDTH, 3)}
    for index, boxes in clip.truth.items():
        for left, top, right, bottom in boxes:
            patch = frames[index][top:bottom, left:right].astype(int)
            close = np.abs(patch - FILL_GREY) <= 24
            assert close.mean() >= 0.97, (index, close.mean())


@pytest.fixture(scope="module")
def mp4_clip(tmp_path_factory: pytest.TempPathFactory, faces: Path, engine: DlibEngine
             ) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clip") / "walk.mp4", "mp4v", faces, engine)


def test_every_face_in_every_frame_is_covered(mp4_clip: Clip, tmp_path: Path) -> None:
    out = tmp_path / "walk-redacted.mp4"
    report = redact_media(mp4_clip.path, out).to_dict()
    _check_every_frame_covered(mp4_clip, report, out)
    file = report["files"][0]
    assert file["faces"] == 2 and file["frames_with_faces"] == mp4_clip.frames
    sources = {c["frame"]: {r["source"] for r in c["regions"]} for c in file["covered"]}
    assert "backfilled" in sources[7] and "backfilled" in sources[8]
    assert sources[9] >= {"detected"} and sources[10] == {"tracked"}
    assert file["input_format"] == "MP4/QuickTime (mp4v)"
    json.dumps(report)
    frames = _decoded(out)
    fast = finder_for(FAST)
    for index in range(0, mp4_clip.frames, 4):
        found = fast.find(cv2.cvtColor(frames[index], cv2.COLOR_BGR2RGB), cnn=False)
        assert not [f for f in found for t in mp4_clip.truth[index] if same_face(f, t)]


def test_motion_jpeg_in_avi(faces: Path, engine: DlibEngine, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "walk.avi", "MJPG", faces, engine, frames=15)
    out = tmp_path / "out.avi"
    report = redact_media(clip.path, out, RedactOptions(style="pixelate")).to_dict()
    file = report["files"][0]
    assert file["input_format"] == "AVI (MJPG)"
    assert file["output_format"] == "Motion JPEG in AVI"
    covered = {c["frame"]: [r["covered"] for r in c["regions"]] for c in file["covered"]}
    for index, boxes in clip.truth.items():
        assert all(covered_fraction(b, covered[index]) == 1.0 for b in boxes), index
    frames = _decoded(out)
    assert len(frames) == 15
    original = _decoded(clip.path)
    for index in (0, 7, 14):
        left, top, right, bottom = clip.truth[index][0]
        before = original[index][top:bottom, left:right].astype(float)
        after = frames[index][top:bottom, left:right].astype(float)
        # pixelated and noised: none of the face's edges (eyes, nose, mouth) is left
        assert abs(np.corrcoef(_edges(before).ravel(), _edges(after).ravel())[0, 1]) < 0.1


def test_segments_analysed_apart_cover_what_one_pass_covers(mp4_clip: Clip) -> None:
    """The parallel path splits pass 1 into overlapping segments (one per worker); the
    united regions cover every true face in every frame, across the boundary too."""
    media = sniff(mp4_clip.path)
    options = RedactOptions(tracking=TrackSettings.every(3, cnn_every=0))
    info = probe_video(mp4_clip.path, media, options.max_video_side)
    first = analyse(mp4_clip.path, media, info, options, 0, 16)
    second = analyse(mp4_clip.path, media, info, options, 8, None)
    united = unite([first, second])
    assert (united.start, united.end) == (0, mp4_clip.frames)
    for index, boxes in mp4_clip.truth.items():
        regions = united.regions[index]
        grown = [list(_grow(r.face, options.margin)) for r in regions]
        assert all(covered_fraction(b, grown) == 1.0 for b in boxes), index


def _edges(patch: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(patch.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float64)
    return cv2.Laplacian(grey, cv2.CV_64F)


def _grow(box: Box, margin: float) -> Box:
    dx, dy = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    return (max(int(box[0] - dx), 0), max(int(box[1] - dy), 0),
            min(int(np.ceil(box[2] + dx)), WIDTH), min(int(np.ceil(box[3] + dy)), HEIGHT))


def test_real_h264_recording(faces: Path, tmp_path: Path) -> None:
    """A real H.264 clip of a person (16 frames, 512x512): decoded, covered, written as
    MPEG-4; no face is found in any output frame."""
    clip = faces.parent / "liveness" / "videos" / "d1.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} not found (real H.264 clips live beside the faces folder)")
    out = tmp_path / "d1-redacted.mp4"
    report = redact_media(clip, out)
    file = report.files[0]
    assert file.input_format == "MP4/QuickTime (avc1)"
    assert (file.frames, file.width, file.height, file.frames_with_faces) == (16, 512, 512, 16)
    before, after = _decoded(clip), _decoded(out)
    assert len(after) == len(before) == 16
    assert {f.shape for f in after} == {(512, 512, 3)}
    # the face fills the frame: HOG at 1x (faces from 80 px) and the CNN are enough to look
    check = finder_for(FinderSettings(min_face_px=80, second_scale=False, angles=(0.0,),
                                      border=0.0, cnn_max_pixels=300_000))
    assert check.find(cv2.cvtColor(before[8], cv2.COLOR_BGR2RGB))
    for index, frame in enumerate(after):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        assert check.find(rgb, cnn=index == 8) == [], index


def test_two_workers_split_a_video_and_still_cover_every_frame(
    faces: Path, engine: DlibEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two spawned workers analyse overlapping halves of a 48-frame clip (the segment
    threshold lowered from its production value so that a short clip is split)."""
    from faceguard.redact import batch

    monkeypatch.setattr(batch, "MIN_SEGMENT_FRAMES", 10)
    clip = make_clip(tmp_path / "long.mp4", "mp4v", faces, engine, frames=48)
    out = tmp_path / "out.mp4"
    units: list[int] = []
    options = RedactOptions(tracking=TrackSettings.every(3, cnn_every=0))
    report = redact_media(clip.path, out, options, workers=2, progress=units.append)
    assert sum(units) == 2 * 48  # every frame analysed once (overlaps not counted), written once
    _check_every_frame_covered(clip, report.to_dict(), out)
