"""Passive scorers: screen moire on real and generated frames, and the ONNX model slot."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import ConfigError
from faceguard.liveness import (
    ChallengeStore,
    MoireScorer,
    OnnxPadScorer,
    PadConfig,
    PresentationAttackDetector,
)
from faceguard.liveness.attacks import encode_jpeg
from faceguard.liveness.passive import HalftoneScorer, scorers_for
from faceguard.liveness.replay import render_replay
from faceguard.policy.deployment import read_pad_model
from test_liveness_support import AnsweringClock, require_liveness, umist_answer, video_frames


def _face(engine: DlibEngine, rgb: np.ndarray) -> tuple[int, int, int, int]:
    faces = engine.detect(rgb)
    assert faces, "no face in a live clip frame"
    return faces[0].box


def _jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    data = np.frombuffer(encode_jpeg(rgb, quality), np.uint8)
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])


def test_live_faces_show_no_moire_even_heavily_compressed(engine: DlibEngine) -> None:
    root = require_liveness()
    scorer = MoireScorer()
    scores = []
    for clip in ("d0.mp4", "d5.mp4", "d12.mp4"):
        frames, _ = video_frames(root / "videos" / clip, stride=25, limit=2)
        for rgb in frames:
            box = _face(engine, rgb)
            scores.append(scorer.score(rgb, box))
            scores.append(scorer.score(_jpeg_roundtrip(rgb, 25), box))  # 8x8 blocks
    assert max(scores) < scorer.threshold, scores


def test_a_face_on_a_pixel_grid_is_flagged(engine: DlibEngine) -> None:
    root = require_liveness()
    frames, _ = video_frames(root / "videos" / "d0.mp4", stride=1, limit=1)
    rgb = frames[0]
    box = _face(engine, rgb)
    x = np.arange(rgb.shape[1], dtype=np.float64)
    y = np.arange(rgb.shape[0], dtype=np.float64)
    # A display grid at 2.6 px per screen pixel, as a camera close to a screen samples it.
    grid = 1 + 0.25 * np.cos(2 * np.pi * (x[None, :] / 2.6 + y[:, None] / 17.0))
    screen = np.clip(rgb * grid[:, :, None], 0, 255).astype(np.uint8)
    scorer = MoireScorer()
    assert scorer.score(screen, box) >= scorer.threshold
    assert scorer.score(rgb, box) < scorer.threshold
    assert HalftoneScorer().score(np.zeros((10, 10), np.uint8), (0, 0, 10, 10)) == 0.0


def _model(path: Path, classes: int) -> Path:
    """A tiny PAD model: the crop's mean brightness as the attack probability (1 output),
    or as the logit of class 1 against a zero logit for class 0 (2 outputs)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0)]
    if classes == 1:
        nodes.append(helper.make_node("Identity", ["mean"], ["score"]))
        y = helper.make_tensor_value_info("score", TensorProto.FLOAT, [1])
    else:
        zero = helper.make_tensor("zero", TensorProto.FLOAT, [1, 1], [0.0])
        nodes += [
            helper.make_node("Reshape", ["mean", "shape"], ["mean2"]),
            helper.make_node("Mul", ["mean2", "ten"], ["logit"]),
            helper.make_node("Concat", ["zero", "logit"], ["score"], axis=1),
        ]
        y = helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 2])
    initializers = [] if classes == 1 else [
        zero,
        helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1]),
        helper.make_tensor("ten", TensorProto.FLOAT, [1], [10.0]),
    ]
    graph = helper.make_graph(nodes, "pad", [x], [y], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def test_an_onnx_model_scores_the_face_crop(tmp_path: Path) -> None:
    single = OnnxPadScorer(_model(tmp_path / "one.onnx", 1))
    bright = np.full((120, 120, 3), 230, np.uint8)
    dark = np.full((120, 120, 3), 20, np.uint8)
    box = (30, 30, 90, 90)
    assert single.score(bright, box) == pytest.approx(230 / 255, abs=1e-3)
    assert single.score(dark, box) == pytest.approx(20 / 255, abs=1e-3)
    assert single.score(bright, box) >= single.threshold > single.score(dark, box)
    # Normalisation is applied before the model: (x - 0.5) / 0.5 maps 230 to about 0.8.
    centred = OnnxPadScorer(tmp_path / "one.onnx", mean=(0.5,) * 3, std=(0.5,) * 3)
    assert centred.score(bright, box) == pytest.approx(230 / 255 * 2 - 1, abs=1e-3)
    pair = OnnxPadScorer(_model(tmp_path / "two.onnx", 2), live_index=0)
    expected = 1 - 1 / (1 + np.exp(10 * 230 / 255))
    assert pair.score(bright, box) == pytest.approx(expected, abs=1e-4)
    live_first = OnnxPadScorer(tmp_path / "two.onnx", live_index=1)
    assert live_first.score(bright, box) == pytest.approx(1 - expected, abs=1e-4)


def test_an_unusable_onnx_model_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PAD model not found"):
        OnnxPadScorer(tmp_path / "missing.onnx").score(np.zeros((9, 9, 3), np.uint8),
                                                       (0, 0, 9, 9))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="could not be loaded"):
        OnnxPadScorer(junk).score(np.zeros((9, 9, 3), np.uint8), (0, 0, 9, 9))
    with pytest.raises(ConfigError, match="live_index 5 is out of range"):
        OnnxPadScorer(_model(tmp_path / "two.onnx", 2), live_index=5).score(
            np.zeros((9, 9, 3), np.uint8), (0, 0, 9, 9))


def _faceplugin_liveness() -> Path:
    env = os.environ.get("FACEGUARD_MODELS")
    root = Path(env) if env else REPO.parent / "shared" / "models"
    path = root / "faceplugin" / "fr_liveness.onnx"
    if not path.is_file():
        pytest.skip(f"the trained PAD model {path} is absent: set FACEGUARD_MODELS "
                    "(tests of a real operator-supplied model skipped)")
    return path


def _operator_toml(tmp_path: Path, model: Path, **extra: str) -> Path:
    lines = [f'path = "{model}"', 'channels = "bgr"', 'pixels = "raw"', "crop_scale = 2.7",
             'crop = "shift"', "live_class = 0", *(f"{k} = {v}" for k, v in extra.items())]
    config = tmp_path / "faceguard.toml"
    config.write_text("[pad_model]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_the_operators_trained_model_tells_live_faces_from_phone_replays(
    engine: DlibEngine, tmp_path: Path,
) -> None:
    """faceplugin's fr_liveness.onnx, named in [pad_model] as an operator would: real live
    clip frames score low; the same frames replayed on a simulated phone score high."""
    root = require_liveness()
    config = _operator_toml(tmp_path, _faceplugin_liveness())
    scorers = scorers_for(read_pad_model(config), config.parent)
    model = scorers[-1]
    assert isinstance(model, OnnxPadScorer) and model.bgr and model.pixels == "raw"
    rng = np.random.default_rng(7)
    live, replayed = [], []
    for clip in ("d0.mp4", "d3.mp4", "d12.mp4", "d14.mp4"):
        frames, times = video_frames(root / "videos" / clip, stride=10, limit=3)
        replay = render_replay(frames, rng, times_ms=times)
        for shown, into in ((frames, live), (replay.frames, replayed)):
            for rgb in shown:
                faces = engine.detect(rgb)
                if faces:
                    into.append(model.score(rgb, faces[0].box))
    assert len(live) == 12 and len(replayed) >= 8, (live, replayed)
    assert max(live) < model.threshold, live
    assert float(np.median(replayed)) >= model.threshold, replayed


def test_a_pad_model_setting_that_cannot_work_is_refused_naming_it(tmp_path: Path) -> None:
    config = _operator_toml(tmp_path, tmp_path / "absent.onnx")
    with pytest.raises(ConfigError, match=r"pad_model.path.*R26"):
        scorers_for(read_pad_model(config), config.parent)
    config.write_text('[pad_model]\npath = "m.onnx"\nchannels = "rgba"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="channels"):
        read_pad_model(config)
    config.write_text('[deployment]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no \[pad_model\]"):
        read_pad_model(config)
    assert scorers_for(None, tmp_path)[0].name == "moire"


def test_a_model_in_doubt_is_outweighed_only_by_strong_other_evidence(
    engine: DlibEngine, tmp_path: Path,
) -> None:
    """Fusion: the tiny model's score (the crop's mean brightness) lies below its threshold
    but in the doubt band; the answer passes when colour and depth are strong, and is a
    retry (passive.doubtful) when the colours must agree more than they do."""
    root = require_liveness()
    model = OnnxPadScorer(_model(tmp_path / "one.onnx", 1), threshold=0.95)
    clock = AnsweringClock()
    for strong, expected in ((0.5, "live"), (1.01, "retry")):
        detector = PresentationAttackDetector(
            engine, ChallengeStore(clock=clock), scorers=[model],
            config=PadConfig(model_doubt=0.05, colour_strong=strong))
        challenge = detector.challenges.issue("kiosk-1", movements=("turn-left", "turn-right"))
        decision = detector.check(challenge.id, umist_answer(root, challenge, seed=40 + int(
            strong > 1)), terminal="kiosk-1")
        assert 0.05 <= decision.scores["passive.onnx"] < 0.95
        assert decision.decision == expected, decision.reasons
        if expected == "retry":
            assert decision.codes == ("passive.doubtful",) and decision.rule == "R26"


def test_a_models_uncertain_attack_verdict_yields_only_to_an_answered_colour_challenge(
    engine: DlibEngine, tmp_path: Path,
) -> None:
    """The tiny model calls a real head turn an attack (its threshold below the crop's
    brightness). Where the colours followed strongly and depth passed, a score under
    ``model_outweighed`` is outweighed and the answer is live; a score at or above it, a
    challenge answered without strong colours, or no outweighing at all leave the attack."""
    root = require_liveness()
    model = OnnxPadScorer(_model(tmp_path / "one.onnx", 1), threshold=0.05)
    clock = AnsweringClock()
    cases = ((PadConfig(), "live"), (PadConfig(model_outweighed=None), "attack"),
             (PadConfig(colour_strong=1.01), "attack"),
             (PadConfig(model_outweighed=0.06), "attack"))
    for seed, (config, expected) in enumerate(cases):
        detector = PresentationAttackDetector(engine, ChallengeStore(clock=clock),
                                              scorers=[model], config=config)
        challenge = detector.challenges.issue("kiosk-1", movements=("turn-left", "turn-right"))
        decision = detector.check(challenge.id, umist_answer(root, challenge, seed=60 + seed),
                                  terminal="kiosk-1")
        assert 0.06 <= decision.scores["passive.onnx"] < 0.9, decision.scores
        assert decision.decision == expected, (config, decision.reasons)
        if expected == "live":
            assert decision.scores["passive.outweighed"] == 1.0
        else:
            assert decision.codes == ("passive.onnx",) and decision.rule == "R26"
    # Without a challenge the model is the only defence against a replay: its threshold holds.
    frames, times = video_frames(root / "videos" / "d3.mp4", stride=3, limit=12)
    recording = PresentationAttackDetector(engine, scorers=[model]).assess_recording(
        frames, times)
    assert recording.decision == "attack" and "passive.onnx" in recording.codes


def test_yaw_from_68_landmarks_moves_less_under_jpeg_than_from_5(engine: DlibEngine) -> None:
    """Re-encoding real live frames at JPEG quality 80 moves the 18-point yaw less than the
    5-point yaw (measured over 122 frames: mean 0.0044 against 0.0072)."""
    from faceguard.engine.quality import measure_quality
    from faceguard.liveness.pose import LandmarkPose

    root = require_liveness()
    pose = LandmarkPose()
    if not pose.available():
        pytest.skip("dlib's 68-point model is not installed (face_recognition_models)")
    moved5, moved68 = [], []
    for clip in ("d0.mp4", "d3.mp4", "d11.mp4", "d14.mp4"):
        frames, _ = video_frames(root / "videos" / clip, stride=15, limit=6)
        for rgb in frames:
            readings = []
            for shown in (rgb, _jpeg_roundtrip(rgb, 80)):
                faces = engine.detect(shown)
                assert faces, clip
                five = measure_quality(faces[0], engine.align(shown, faces[0])).yaw
                readings.append((five, pose.pose(shown, faces[0].box)[0]))
            moved5.append(abs(readings[0][0] - readings[1][0]))
            moved68.append(abs(readings[0][1] - readings[1][1]))
    assert len(moved5) == 24
    assert float(np.mean(moved68)) < float(np.mean(moved5)), (moved68, moved5)
    assert max(moved68) < 0.06  # half the movement threshold
