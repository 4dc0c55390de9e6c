"""The fast embedder: dlib's ResNet read from its .dat file and run on ONNX Runtime.

It must give dlib's descriptors (cosine >= 0.9999 on real faces), refuse a damaged model
file with a ConfigError that says what is wrong, and fall back to dlib when it cannot run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceguard import ConfigError, ImageError
from faceguard.engine import fast_resnet
from faceguard.engine.dlib_dat import (
    FACE_RESNET_V1,
    AddPrev,
    Affine,
    Conv,
    FullyConnected,
    Pool,
    Skip,
    Tag,
    _FormatError,
    _Reader,
    parse_dat,
    read_dat,
)
from faceguard.engine.dlib_engine import _MODEL_FILES, DlibEngine, models_dir
from faceguard.engine.fast_resnet import MIN_COSINE, FastDlibEngine, FastEmbedder
from faceguard.engine.imaging import decode_image

CHIPS = 60


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return (models_dir() / _MODEL_FILES["embedder"]).read_bytes()


@pytest.fixture(scope="module")
def chips(lfw: Path, engine: DlibEngine) -> list[np.ndarray]:
    """Aligned chips of the first image of ``CHIPS`` people spread over LFW."""
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    out: list[np.ndarray] = []
    for person in people[:: max(len(people) // (CHIPS + 10), 1)]:
        image = sorted(person.glob("*.jpg"))[0]
        rgb = decode_image(image.read_bytes())
        faces = engine.detect(rgb)
        if faces:
            out.append(engine.align(rgb, faces[0]))
        if len(out) == CHIPS:
            break
    assert len(out) == CHIPS
    return out


@pytest.fixture(scope="module")
def fast() -> FastEmbedder:
    embedder = FastEmbedder(threads=1)
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def dlib_vectors(engine: DlibEngine, chips: list[np.ndarray]) -> np.ndarray:
    return np.stack([engine.embed(c) for c in chips])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = (a * b).sum(axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return result


# --- agreement with dlib -------------------------------------------------------------------


def test_agrees_with_dlib_on_real_faces(
    fast: FastEmbedder, chips: list[np.ndarray], dlib_vectors: np.ndarray
) -> None:
    ours = np.stack([fast.embed(c) for c in chips])
    assert ours.shape == (CHIPS, 128) and ours.dtype == np.float32
    cosines = _cosines(ours, dlib_vectors)
    assert cosines.min() >= MIN_COSINE, f"worst cosine {cosines.min():.8f}"
    assert np.abs(ours - dlib_vectors).max() < 1e-4


def test_distances_between_faces_are_dlibs(
    fast: FastEmbedder, chips: list[np.ndarray], dlib_vectors: np.ndarray
) -> None:
    """Every pairwise Euclidean distance (what matching thresholds) moves by < 1e-4."""
    ours = fast.embed_batch(chips)
    theirs_d = np.linalg.norm(dlib_vectors[:, None] - dlib_vectors[None], axis=-1)
    ours_d = np.linalg.norm(ours[:, None] - ours[None], axis=-1)
    assert theirs_d.max() > 0.5  # different people: real distances, not all zero
    assert np.abs(ours_d - theirs_d).max() < 1e-4


def test_batch_equals_single(fast: FastEmbedder, chips: list[np.ndarray]) -> None:
    small = FastEmbedder(threads=1, batch_size=5)
    batch = small.embed_batch(chips[:12])
    single = np.stack([fast.embed(c) for c in chips[:12]])
    assert batch.shape == (12, 128)
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-6)
    assert fast.embed_batch([]).shape == (0, 128)


@pytest.mark.parametrize(
    "chip",
    [np.zeros((150, 150), np.uint8), np.zeros((160, 160, 3), np.uint8),
     np.zeros((150, 150, 3), np.float32)],
    ids=["grey", "wrong-size", "float"],
)
def test_wrong_chip_is_refused(fast: FastEmbedder, chip: np.ndarray) -> None:
    with pytest.raises(ImageError, match=r"\(150, 150, 3\) uint8 RGB"):
        fast.embed(chip)


# --- the reader ------------------------------------------------------------------------------


def test_reader_finds_the_face_network() -> None:
    network = read_dat()
    assert network.input_size == (150, 150)
    assert network.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert (network.loss, network.margin, network.distance_threshold) == pytest.approx(
        ("loss_metric_2", 0.04, 0.6))
    kinds = [type(layer) for layer in network.layers]
    assert (kinds.count(Conv), kinds.count(Affine), kinds.count(AddPrev)) == (29, 29, 14)
    assert (kinds.count(Tag), kinds.count(Skip)) == (18, 4)
    first = network.layers[0]
    assert isinstance(first, Conv) and first.weights.shape == (32, 3, 7, 7)
    assert first.stride == (2, 2) and first.padding == (0, 0)
    pool = network.layers[-2]
    assert isinstance(pool, Pool) and pool.kind == "avg" and pool.size == (0, 0)
    fc = network.layers[-1]
    assert isinstance(fc, FullyConnected) and fc.weights.shape == (256, 128) and fc.bias is None
    assert network.output_dimension == 128
    assert all(np.isfinite(c.weights).all() for c in network.layers if isinstance(c, Conv))


def test_dlib_scalar_encodings() -> None:
    """Integers: control byte (size, 0x80 = negative) + little-endian magnitude; floats:
    mantissa and exponent integers, with dlib's special exponents for inf and NaN."""
    reader = _Reader(b"\x01\x05" b"\x82\x34\x12" b"\x03\x0a\xd7\xa3\x81\x1c"
                     b"\x81\x03\x01\x02" b"\x01\x01\x02\x00\x7d" b"1")
    assert reader.integer("a") == 5
    assert reader.integer("b") == -0x1234
    assert reader.real("margin") == pytest.approx(0.04)
    assert reader.real("c") == -12.0
    assert reader.real("d") == float("inf")
    assert reader.boolean("e") is True
    with pytest.raises(_FormatError, match="ends early"):
        reader.integer("f")


def test_truncated_file_is_a_config_error(model_bytes: bytes) -> None:
    with pytest.raises(ConfigError, match=r"truncated.*while reading layer \d+ of 108"):
        parse_dat(model_bytes[: len(model_bytes) // 2], source="half.dat")
    with pytest.raises(ConfigError, match="half.dat"):
        parse_dat(model_bytes[: len(model_bytes) // 2], source="half.dat")
    with pytest.raises(ConfigError, match="ends early"):
        parse_dat(model_bytes[:-3])


def test_empty_and_foreign_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ends early"):
        parse_dat(b"")
    with pytest.raises(ConfigError, match="not an integer"):
        parse_dat(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ConfigError, match="cannot read the dlib model"):
        read_dat(tmp_path / "missing.dat")
    shape_model = models_dir() / _MODEL_FILES["landmarks"]
    with pytest.raises(ConfigError, match="not a readable dlib face-recognition ResNet"):
        read_dat(shape_model)


def test_corrupt_layer_is_named(model_bytes: bytes) -> None:
    """A damaged layer name or a changed hyper-parameter is reported with its position."""
    renamed = model_bytes.replace(b"\x07affine_", b"\x07affinx_", 1)
    with pytest.raises(ConfigError, match=r"layer 2 of 108 from the input \(affine\): "
                                          r"found 'affinx_', expected 'affine_'"):
        parse_dat(renamed)
    start = model_bytes.index(b"con_4") + 5
    params_end = start + 2 + 3 + 6 + 4 * 4736  # version, dims (4736, 1, 1, 1), floats
    wrong_filters = (model_bytes[:params_end] + b"\x01\x21"  # 33 filters instead of 32
                     + model_bytes[params_end + 2:])
    with pytest.raises(ConfigError, match=r"layer 1 of 108 .*filters is 33, expected 32"):
        parse_dat(wrong_filters)
    with pytest.raises(ConfigError, match="unexpected bytes after the last layer"):
        parse_dat(model_bytes + b"\x00")


def test_other_architecture_is_refused(model_bytes: bytes) -> None:
    with pytest.raises(ConfigError, match="version of wrapper"):
        parse_dat(model_bytes, spec=FACE_RESNET_V1[1:])


# --- the engine ------------------------------------------------------------------------------


def test_fast_engine_is_dlib_engine_with_the_same_id(
    engine: DlibEngine, chips: list[np.ndarray], dlib_vectors: np.ndarray
) -> None:
    fast_engine = FastDlibEngine()
    assert fast_engine.engine_id == engine.engine_id
    assert fast_engine.backend == "onnxruntime"
    assert fast_engine.fallback_reason is None
    assert fast_engine.self_check_cosine is not None
    assert fast_engine.self_check_cosine >= MIN_COSINE
    vectors = fast_engine.embed_batch(chips[:4])
    assert _cosines(vectors, dlib_vectors[:4]).min() >= MIN_COSINE
    assert _cosines(fast_engine.embed(chips[4])[None], dlib_vectors[4:5])[0] >= MIN_COSINE


def test_unreadable_model_falls_back_to_dlib(
    monkeypatch: pytest.MonkeyPatch, chips: list[np.ndarray], dlib_vectors: np.ndarray
) -> None:
    def broken(path: Path | None = None) -> None:
        raise ConfigError("model.dat is not a readable dlib face-recognition ResNet: damaged")

    monkeypatch.setattr(fast_resnet, "read_dat", broken)
    fallback = FastDlibEngine()
    assert fallback.backend == "dlib"
    assert fallback.fallback_reason is not None
    assert "fast embedder unavailable" in fallback.fallback_reason
    assert "damaged" in fallback.fallback_reason
    np.testing.assert_array_equal(fallback.embed(chips[0]), dlib_vectors[0])
    np.testing.assert_array_equal(fallback.embed_batch(chips[:2]), dlib_vectors[:2])


def test_failed_self_check_falls_back_to_dlib(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(self: FastEmbedder, chips: list[np.ndarray]) -> np.ndarray:
        return np.ones((len(chips), 128), dtype=np.float32)

    monkeypatch.setattr(FastEmbedder, "embed_batch", wrong)
    fallback = FastDlibEngine()
    assert fallback.backend == "dlib"
    assert fallback.fallback_reason is not None
    assert fallback.fallback_reason.startswith("self-check against dlib failed")
