"""The dlib engine on real faces: detection counts, small faces, alignment, quality, identity."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceguard import QualityError
from faceguard.engine.dlib_engine import CHIP_SIZE, DlibEngine
from faceguard.engine.imaging import decode_image
from faceguard.engine.pipeline import extract
from faceguard.engine.quality import ENROLL_GATE, PROBE_GATE, QualityGate


def _rgb(faces: Path, name: str) -> np.ndarray:
    return decode_image((faces / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("face_recognition/examples/two_people.jpg", 2),
        ("face_recognition/examples/obama-240p.jpg", 1),
        ("face_recognition/examples/obama-1080p.jpg", 1),
        ("face_recognition/tests/test_images/32bit.png", 1),
        ("mtcnn/tests/images/no-faces.jpg", 0),
    ],
)
def test_detection_counts(engine: DlibEngine, faces: Path, name: str, count: int) -> None:
    assert len(engine.detect(_rgb(faces, name))) == count


def test_faces_down_to_about_40_px_are_found(engine: DlibEngine, faces: Path) -> None:
    """Every annotated face of the group photos (the smallest are 37 px) is found."""
    with (faces / "detection_gt.csv").open(newline="") as handle:
        truth = list(csv.DictReader(handle))
    found = 0
    for name in sorted({r["file"] for r in truth}):
        boxes = engine.detect(_rgb(faces, name))
        for row in (r for r in truth if r["file"] == name):
            cx = int(row["left"]) + int(row["width"]) / 2
            cy = int(row["top"]) + int(row["height"]) / 2
            found += any(b.box[0] <= cx <= b.box[2] and b.box[1] <= cy <= b.box[3]
                         for b in boxes)
    recall = found / len(truth)
    assert recall == 1.0, f"recall {recall:.2f} ({found}/{len(truth)})"


def test_largest_face_first_and_landmarks_inside_it(engine: DlibEngine, faces: Path) -> None:
    found = engine.detect(_rgb(faces, "face_recognition/examples/two_people.jpg"))
    assert found[0].area >= found[1].area
    for face in found:
        left, top, right, bottom = face.box
        xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
        assert face.landmarks.shape == (5, 2)
        assert (left - 5 <= xs).all() and (xs <= right + 5).all()
        assert (top - 5 <= ys).all() and (ys <= bottom + 5).all()


def test_alignment_makes_an_upright_chip(engine: DlibEngine, lfw: Path) -> None:
    """A face rotated by 20 degrees gives nearly the same template as the upright one."""
    data = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    rgb = decode_image(data)
    turned = np.asarray(Image.fromarray(rgb).rotate(20, resample=Image.Resampling.BILINEAR))
    a = extract(engine, rgb, single_face=False, gate=None)
    b = extract(engine, turned, single_face=False, gate=None)
    assert engine.align(rgb, a.face).shape == (CHIP_SIZE, CHIP_SIZE, 3)
    assert abs(b.quality.roll - a.quality.roll) == pytest.approx(20, abs=4)
    assert a.template.distance(b.template) < 0.3


def test_quality_gate_names_the_failed_check(engine: DlibEngine, lfw: Path) -> None:
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    ok = extract(engine, rgb, single_face=True, gate=ENROLL_GATE)
    assert ok.quality.face_px >= ENROLL_GATE.min_face_px
    blurred = np.asarray(Image.fromarray(rgb).resize((50, 50)).resize((250, 250)))
    with pytest.raises(QualityError) as err:
        extract(engine, blurred, single_face=True, gate=ENROLL_GATE)
    assert err.value.check in {"sharpness", "size"}
    assert abs(ok.quality.yaw) > 0.01
    strict_pose = QualityGate(max_abs_yaw=abs(ok.quality.yaw) / 2)
    with pytest.raises(QualityError) as err:
        extract(engine, rgb, single_face=True, gate=strict_pose)
    assert err.value.check == "pose"
    assert PROBE_GATE.min_face_px < ENROLL_GATE.min_face_px


def test_engine_identity_names_the_model(engine: DlibEngine) -> None:
    assert engine.engine_id.startswith("dlib-resnet-v1:")
    assert len(engine.engine_id.split(":")[1]) == 12


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    inter = (max(0, min(a[2], b[2]) - max(a[0], b[0]))
             * max(0, min(a[3], b[3]) - max(a[1], b[1])))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_probe_detection_finds_the_same_faces_at_less_cost(
    engine: DlibEngine, faces: Path
) -> None:
    """``detect_largest`` (verify, identify) skips the upscaled HOG pass when faces are big
    enough: the same faces, in the same places, giving the same person's template."""
    for name in ("face_recognition/examples/two_people.jpg",
                 "face_recognition/examples/obama-240p.jpg"):
        rgb = _rgb(faces, name)
        full, quick = engine.detect(rgb), engine.detect_largest(rgb)
        assert len(quick) == len(full), name
        for face in quick:
            match = max(full, key=lambda f, face=face: _iou(f.box, face.box))
            assert _iou(match.box, face.box) > 0.6, (name, match.box, face.box)
            same = engine.embed(engine.align(rgb, match))
            other = engine.embed(engine.align(rgb, face))
            assert float(np.linalg.norm(same - other)) < 0.2, name


def test_probe_detection_falls_back_to_the_full_pass_for_small_faces(
    engine: DlibEngine, faces: Path
) -> None:
    rgb = _rgb(faces, "face_recognition/examples/obama-240p.jpg")
    width = engine.detect(rgb)[0].width
    small = np.asarray(Image.fromarray(rgb).resize(
        (rgb.shape[1] * 55 // width, rgb.shape[0] * 55 // width)))  # face about 55 px wide
    assert engine.detect(small), "the full pass finds the small face"
    found = engine.detect_largest(small)
    assert found and 35 <= found[0].width <= 80
