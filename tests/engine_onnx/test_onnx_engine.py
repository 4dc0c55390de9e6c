"""The ONNX engine's contracts, exercised with tiny models the test builds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from faceguard import ConfigError, EngineMismatch
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.imaging import decode_image
from faceguard.engine.onnx_engine import REFERENCE_112, OnnxEngine, similarity_transform
from faceguard.engine.pipeline import extract


def detector(path: Path, box: list[float], size: int = 64, columns: int = 15) -> Path:
    """A 'detector' that always reports one face at ``box`` (in input pixels)."""
    const = numpy_helper.from_array(np.array([box[:columns]], dtype=np.float32), "face")
    zeros = numpy_helper.from_array(np.zeros((1, columns), dtype=np.float32), "zeros")
    shape = numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "zeros"], ["nothing"]),
        helper.make_node("Add", ["nothing", "face"], ["boxes"]),
    ]
    graph = helper.make_graph(
        nodes, "det",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, columns])],
        initializer=[const, zeros, shape],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def embedder(path: Path, chip: int | str = 32, dim: int = 8) -> Path:
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(
        rng.normal(size=(3 * 32 * 32, dim)).astype(np.float32), "w")
    nodes = [helper.make_node("Flatten", ["chips"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["embedding"])]
    graph = helper.make_graph(
        nodes, "emb",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", 3, chip, chip])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        initializer=[weights],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


# a face in the middle of a 64x64 input, with landmarks where eyes, nose and mouth would be
BOX = [16, 14, 48, 54, 0.9, 25, 28, 39, 28, 32, 36, 26, 44, 38, 44]


@pytest.fixture()
def models(tmp_path: Path) -> tuple[Path, Path]:
    return detector(tmp_path / "det.onnx", BOX), embedder(tmp_path / "emb.onnx")


def test_detect_align_embed_follow_the_contracts(models: tuple[Path, Path], lfw: Path) -> None:
    engine = OnnxEngine(*models)
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    [face] = engine.detect(rgb)
    scale = 250 / 64  # the 250x250 photo was resized to the 64x64 input
    assert face.box == pytest.approx((16 * scale, 14 * scale, 48 * scale, 54 * scale), abs=1)
    assert face.landmarks[2] == pytest.approx((32 * scale, 36 * scale), abs=0.01)
    chip = engine.align(rgb, face)
    assert chip.shape == (32, 32, 3) and chip.dtype == np.uint8
    first = extract(engine, rgb, single_face=True, gate=None).template
    again = extract(engine, rgb, single_face=True, gate=None).template
    other = extract(engine, decode_image(
        (lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()), single_face=True,
        gate=None).template
    assert first.engine == engine.engine_id and engine.engine_id.startswith("onnx:")
    assert engine.dimension == 8 and np.linalg.norm(first.vector) == pytest.approx(1, abs=1e-5)
    assert first.distance(again) == 0 and first.distance(other) > 0.01
    dlib_template = extract(DlibEngine(), rgb, single_face=True, gate=None).template
    with pytest.raises(EngineMismatch):
        first.distance(dlib_template)


def test_low_scores_are_not_faces(tmp_path: Path, lfw: Path) -> None:
    low = [*BOX[:4], 0.2, *BOX[5:]]
    engine = OnnxEngine(detector(tmp_path / "d.onnx", low), embedder(tmp_path / "e.onnx"))
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    assert engine.detect(rgb) == []


def test_contract_violations_name_the_problem(tmp_path: Path, lfw: Path) -> None:
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    dynamic = OnnxEngine(detector(tmp_path / "d.onnx", BOX), embedder(tmp_path / "e.onnx", "s"))
    with pytest.raises(ConfigError, match="fixed square size"):
        dynamic.detect(rgb)
    narrow = OnnxEngine(detector(tmp_path / "d5.onnx", BOX, columns=5),
                        embedder(tmp_path / "e2.onnx"))
    with pytest.raises(ConfigError, match=r"\[N, 15\]"):
        narrow.detect(rgb)
    with pytest.raises(ConfigError, match="not found"):
        OnnxEngine(tmp_path / "missing.onnx", tmp_path / "e2.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="could not be loaded"):
        OnnxEngine(tmp_path / "junk.onnx", tmp_path / "e2.onnx").detect(rgb)


def test_the_facade_runs_on_an_onnx_engine_with_its_own_calibration(
    models: tuple[Path, Path], data_dir: Path, lfw: Path, tmp_path: Path
) -> None:
    import json

    from faceguard import Faceguard

    engine = OnnxEngine(*models)
    points = [{"name": n, "fmr_target": t, "threshold": 0.5, "fmr_measured": t,
               "fnmr_measured": 0.0}
              for n, t in (("convenience", 1e-2), ("access-control", 1e-3),
                           ("high-security", 1e-4), ("payment", 1e-5))]
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"engine": "onnx:other", "operating_points": points}))
    with pytest.raises(ConfigError, match="was made for"):
        Faceguard.open(data_dir, engine=engine, calibration=calibration)
    calibration.write_text(json.dumps({"engine": engine.engine_id, "operating_points": points}))
    photo = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    with Faceguard.open(data_dir, engine=engine, calibration=calibration) as fg:
        fg.consent.publish_notice("attendance")
        fg.consent.grant("cp", "attendance", name="CP", method="click", evidence="e")
        result = fg.enroll("cp", [photo], "attendance")
        assert fg.rights.export("cp").templates[0]["engine"] == engine.engine_id
        assert fg.verify("cp", photo, "attendance").decision == "match"
        assert len(result.template_ids) == 1


def test_the_alignment_is_the_least_squares_similarity() -> None:
    """A known similarity is recovered exactly; with one point off, every point still counts
    (the fit moves a little towards it; it is not thrown away as an outlier)."""
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = REFERENCE_112.astype(np.float64)
    src = (dst - shift) @ np.linalg.inv(scale * rotation).T
    matrix = similarity_transform(src, dst)
    assert np.allclose(src @ matrix[:, :2].T + matrix[:, 2], dst, atol=1e-9)
    moved = src.copy()
    moved[4] += [6.0, 0.0]  # one mouth corner misplaced
    bent = similarity_transform(moved, dst)
    residual = np.linalg.norm(moved @ bent[:, :2].T + bent[:, 2] - dst, axis=1)
    assert 0 < residual[:4].max() < residual[4]
    with pytest.raises(ConfigError, match="degenerate"):
        similarity_transform(np.ones((5, 2)), dst)
