"""The real third-party ONNX models (detector, 68-point landmarks, 512-d embedder) through
the product's pipeline; skipped where ../shared/models (or $FACEGUARD_MODELS) is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO, images_of, people_with
from faceguard import ConfigError, EngineMismatch, Faceguard
from faceguard.cli.main import main
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.faceplugin import FacepluginEngine
from faceguard.engine.imaging import decode_image
from faceguard.engine.pipeline import extract


@pytest.fixture(scope="module")
def folder() -> Path:
    env = os.environ.get("FACEGUARD_MODELS")
    base = Path(env) if env else REPO.parent / "shared" / "models"
    path = base / "faceplugin"
    if not (path / "fr_feature.onnx").is_file():
        pytest.skip(f"third-party ONNX models not found in {path}: set FACEGUARD_MODELS "
                    "(tests of the real ONNX models skipped)")
    return path


@pytest.mark.parametrize("detector", ["own", "dlib"])
def test_genuine_pairs_are_nearer_than_impostors(folder: Path, lfw: Path,
                                                 detector: str) -> None:
    engine = FacepluginEngine(folder, detector=detector)  # type: ignore[arg-type]
    assert engine.dimension == 512 and engine.engine_id.startswith("faceplugin:")
    people = people_with(lfw, 3, 6)
    vectors = {p.name: [extract(engine, decode_image(f.read_bytes()), single_face=False,
                                gate=None).template.vector for f in images_of(p)[:2]]
               for p in people}
    genuine = [float(a @ b) for a, b in vectors.values()]
    impostor = [float(vectors[p.name][0] @ vectors[q.name][1])
                for p in people for q in people if p != q]
    for v in vectors.values():
        assert np.linalg.norm(v[0]) == pytest.approx(1, abs=1e-5)
    assert min(genuine) > max(impostor), (genuine, impostor)


def test_a_deployment_cannot_mix_engines(folder: Path, lfw: Path, data_dir: Path,
                                         engine: DlibEngine, tmp_path: Path) -> None:
    """Templates keep their engine's tag: a store enrolled with dlib's engine refuses to be
    searched with the ONNX models (and each needs its own calibration)."""
    photo = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice("attendance")
        fg.consent.grant("cp", "attendance", name="CP", method="click", evidence="e")
        fg.enroll("cp", [photo], "attendance")
    root = tmp_path / "people"
    for person in people_with(lfw, 4, 8):
        (root / person.name).mkdir(parents=True)
        for picture in images_of(person)[:4]:
            (root / person.name / picture.name).symlink_to(picture)
    calibration = tmp_path / "faceplugin.json"
    made = CliRunner().invoke(main, ["calibrate", str(root), "--out", str(calibration),
                                     "--models", str(folder), "--workers", "1"])
    assert made.exit_code == 0, made.output
    plugged = FacepluginEngine(folder)
    assert json.loads(calibration.read_text())["engine"] == plugged.engine_id
    with Faceguard.open(data_dir, engine=plugged, calibration=calibration) as fg:
        with pytest.raises(EngineMismatch):
            fg.identify(photo, "attendance")
        fg.consent.grant("tb", "attendance", name="TB", method="click", evidence="e")
        with pytest.raises(EngineMismatch, match="re-enroll"):
            fg.enroll("tb", [photo], "attendance")
        assert fg.governance.people_enrolled() == 1


def test_each_setting_tags_its_templates_and_flip_averages_the_mirror(folder: Path,
                                                                      lfw: Path) -> None:
    """The options change templates, so each has its own engine ID (never mixed); with
    ``flip`` a chip and its mirror image give one template, the mean of both embeddings."""
    plain = FacepluginEngine(folder, flip=False)
    flipped = FacepluginEngine(folder, flip=True)
    rgb_order = FacepluginEngine(folder, channels="rgb")
    ids = {plain.engine_id, flipped.engine_id, rgb_order.engine_id,
           FacepluginEngine(folder, detector="dlib").engine_id}
    assert len(ids) == 4 and all(i.startswith("faceplugin:") for i in ids)
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    (face, *_) = flipped.detect(rgb)
    chip = flipped.align(rgb, face)
    mirror = np.ascontiguousarray(chip[:, ::-1])
    both = flipped.embed_batch([chip, mirror])
    assert np.allclose(both[0], both[1], atol=1e-5)
    alone, other = plain.embed_batch([chip, mirror])
    assert float(alone @ other) < 0.99  # the network itself is not mirror-invariant
    mean = (alone + other) / np.linalg.norm(alone + other)
    assert np.allclose(both[0], mean, atol=1e-5)
    # the channel order is the embedder's input, not a label: it changes the template
    assert float(rgb_order.embed(chip) @ plain.embed(chip)) < 0.99
    with pytest.raises(ConfigError, match="channels must be 'rgb' or 'bgr'"):
        FacepluginEngine(folder, channels="grey")  # type: ignore[arg-type]
