"""Hypothesis fuzzing of what faceguard reads from outside (issue 12).

* image decoding (``engine/imaging.py``): random bytes; valid images of every accepted format
  and mode cut short and with bytes flipped; hand-made headers declaring extreme dimensions;
  refused formats (GIF, TIFF, BMP). An ``(H, W, 3)`` uint8 array or an ``ImageError``, nothing
  else, and the memory of a refused header stays small;
* extraction (``engine/pipeline.py``) with the real dlib engine on pictures of 1..120 px a
  side, run in a child process so that a crash of native code fails the test instead of
  killing pytest;
* the deployment file (``config.py``) and what ``faceguard check`` makes of it;
* the law packs (``policy/packs.py``).

In CI every test runs a fixed, derandomized set of examples (the ``faceguard-fuzz-ci``
profile; the whole file takes about 15 s). ``FACEGUARD_FUZZ_EXAMPLES=2000`` runs that
many examples per test with fresh randomness (``faceguard-fuzz-search``), to search by hand.
Every failure found becomes a named test at the end of this file, with its exact input.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import textwrap
import tomllib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import TEST_DEPLOYMENT
from faceguard.engine.imaging import ImageLimits, decode_image
from faceguard.errors import ConfigError, ImageDecodeError, ImageError
from faceguard.policy.check import CheckResult, DeploymentFacts, check_deployment
from faceguard.policy.deployment import STARTER_TOML, Deployment, parse_deployment
from faceguard.policy.packs import Pack, load_pack

# ---- settings ----------------------------------------------------------------------------

#: Examples per test when searching by hand (0: the CI budget of each test).
SEARCH_EXAMPLES = int(os.environ.get("FACEGUARD_FUZZ_EXAMPLES", "0") or 0)

settings.register_profile(
    "faceguard-fuzz-ci",
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
settings.register_profile(
    "faceguard-fuzz-search",
    parent=settings.get_profile("faceguard-fuzz-ci"),
    derandomize=False,
    max_examples=max(SEARCH_EXAMPLES, 1),
)


def fuzz(ci_examples: int) -> settings:
    """The settings of one fuzz test: ``ci_examples`` in CI, ``SEARCH_EXAMPLES`` by hand."""
    if SEARCH_EXAMPLES:
        return settings(settings.get_profile("faceguard-fuzz-search"))
    return settings(settings.get_profile("faceguard-fuzz-ci"), max_examples=ci_examples)


# ---- images: the property ----------------------------------------------------------------

#: Growth of the peak resident memory allowed while refusing one image (the decoded picture
#: of an accepted image is at most ``max_decoded_bytes``; a refused header costs nothing).
MEMORY_BUDGET_KB = 300 * 1024


def _status_kb(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1)) if match else 0


@cache
def _can_reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") > 0


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """Yield a list that receives the growth of the peak RSS (kB) over the block, measured
    by resetting the kernel's high-water mark (Linux); nothing is measured elsewhere."""
    growth: list[int] = []
    measured = _can_reset_peak()
    if measured:
        Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    try:
        yield growth
    finally:
        if measured:
            growth.append(_status_kb("VmHWM") - before)


def assert_decodes_or_refuses(data: bytes, limits: ImageLimits | None = None,
                              *, check_memory: bool = False) -> np.ndarray | None:
    """The decoding property: an ``(H, W, 3)`` uint8 array within the limits, or an
    ``ImageError``; any other exception propagates and fails the test."""
    limits = limits or ImageLimits()
    with peak_memory_growth() as growth:
        try:
            rgb = decode_image(data, limits)
        except ImageError:
            rgb = None
    if check_memory and growth:
        assert growth[0] < MEMORY_BUDGET_KB, f"peak memory grew by {growth[0]} kB"
    if rgb is None:
        return None
    assert isinstance(rgb, np.ndarray)
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3 and rgb.shape[2] == 3
    height, width = rgb.shape[:2]
    assert 0 < height <= limits.max_side and 0 < width <= limits.max_side
    assert height * width <= limits.max_pixels
    return rgb


# ---- images: a corpus of every accepted format and mode ------------------------------------


def _picture(width: int = 48, height: int = 40) -> Image.Image:
    """A deterministic RGB picture with gradients and noise (no face needed to decode)."""
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + y) * 127 // max(width + height - 2, 1)], axis=-1)
    rgb = (rgb + rng.integers(0, 40, size=rgb.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb)


def _encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


@cache
def image_corpus() -> dict[str, tuple[bytes, tuple[int, int]]]:
    """Valid images of every accepted format and mode: name -> (bytes, (height, width) that
    ``decode_image`` must return)."""
    pic = _picture()
    w, h = pic.size
    grey = pic.convert("L")
    palette = pic.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    rgba = pic.copy()
    rgba.putalpha(Image.fromarray(np.tile(np.arange(w, dtype=np.uint8) * 5, (h, 1))))
    la = grey.copy()
    la.putalpha(128)
    wide = Image.fromarray(np.arange(w * h, dtype=np.uint16).reshape(h, w) * 31)
    second = _picture(24, 20)
    out: dict[str, tuple[bytes, tuple[int, int]]] = {
        "png-rgb": (_encode(pic, "PNG"), (h, w)),
        "png-l": (_encode(grey, "PNG"), (h, w)),
        "png-1bit": (_encode(grey.convert("1"), "PNG"), (h, w)),
        "png-p": (_encode(palette, "PNG"), (h, w)),
        "png-p-transparency": (_encode(palette, "PNG", transparency=0), (h, w)),
        "png-rgba": (_encode(rgba, "PNG"), (h, w)),
        "png-la": (_encode(la, "PNG"), (h, w)),
        "png-i16": (_encode(wide, "PNG"), (h, w)),
        "png-animated": (_encode(pic, "PNG", save_all=True, append_images=[grey.convert("RGB")]),
                         (h, w)),
        "jpeg-rgb": (_encode(pic, "JPEG", quality=90), (h, w)),
        "jpeg-l": (_encode(grey, "JPEG"), (h, w)),
        "jpeg-cmyk": (_encode(pic.convert("CMYK"), "JPEG"), (h, w)),
        "jpeg-progressive": (_encode(pic, "JPEG", progressive=True), (h, w)),
        "jpeg-exif-rotated": (_encode(pic, "JPEG", exif=_exif_orientation(6)), (w, h)),
        "jpeg-exif-mirrored": (_encode(pic, "JPEG", exif=_exif_orientation(2)), (h, w)),
        "mpo": (_encode(pic, "MPO", save_all=True, append_images=[second]), (h, w)),
        "webp-lossy": (_encode(pic, "WEBP", quality=80), (h, w)),
        "webp-lossless": (_encode(pic, "WEBP", lossless=True), (h, w)),
        "webp-alpha": (_encode(rgba, "WEBP", lossless=True), (h, w)),
        "webp-lossy-alpha": (_encode(rgba, "WEBP", quality=70), (h, w)),
        "webp-animated": (_encode(pic, "WEBP", save_all=True,
                                  append_images=[second.resize((w, h))]), (h, w)),
        "webp-exif-rotated": (_encode(pic, "WEBP", exif=_exif_orientation(8)), (w, h)),
    }
    return out


#: Formats Pillow reads that faceguard must refuse, with a small valid example each.
def refused_corpus() -> dict[str, bytes]:
    pic = _picture(16, 12)
    return {
        "gif": _encode(pic, "GIF"),
        "tiff": _encode(pic, "TIFF"),
        "bmp": _encode(pic, "BMP"),
        "ico": _encode(pic, "ICO"),
        "ppm": _encode(pic, "PPM"),
        "tga": _encode(pic, "TGA"),
    }


def test_every_corpus_image_decodes_to_its_size() -> None:
    """The fuzz corpus itself is valid: each image decodes, at its (oriented) size."""
    for name, (data, shape) in image_corpus().items():
        rgb = decode_image(data)
        assert rgb.shape == (*shape, 3), name
        assert rgb.dtype == np.uint8, name


def test_corpus_mpo_is_read_as_mpo() -> None:
    with Image.open(io.BytesIO(image_corpus()["mpo"][0])) as img:
        assert img.format == "MPO"
        assert getattr(img, "n_frames", 1) == 2


@pytest.mark.parametrize("name", sorted(refused_corpus()))
def test_refused_formats_are_unsupported(name: str) -> None:
    with pytest.raises(ImageDecodeError):
        decode_image(refused_corpus()[name])


# ---- images: fuzz ----------------------------------------------------------------------------

MAGIC_PREFIXES = [
    b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\xff\xff\xff\xffWEBPVP8L",
    b"RIFF\x10\x00\x00\x00WEBPVP8X",
    b"GIF89a", b"II*\x00", b"MM\x00*", b"BM",
]


@fuzz(600)
@given(prefix=st.sampled_from(MAGIC_PREFIXES), body=st.binary(max_size=2048))
def test_random_bytes_decode_or_refuse(prefix: bytes, body: bytes) -> None:
    assert_decodes_or_refuses(prefix + body)


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A corpus image cut short and/or with bytes flipped, inserted or deleted."""
    name = draw(st.sampled_from(sorted(image_corpus())))
    data = bytearray(image_corpus()[name][0])
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif len(data) > 1:
            del data[at:at + draw(st.integers(1, 16))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@fuzz(1000)
@given(data=mutated_images())
def test_mutated_images_decode_or_refuse(data: bytes) -> None:
    assert_decodes_or_refuses(data)


@fuzz(200)
@given(name=st.sampled_from(sorted(image_corpus())), cut=st.floats(0, 1))
def test_truncated_images_decode_or_refuse(name: str, cut: float) -> None:
    data = image_corpus()[name][0]
    assert_decodes_or_refuses(data[: int(len(data) * cut)])


# ---- images: hand-made headers with extreme dimensions ----------------------------------------

SIDES = st.one_of(
    st.sampled_from([0, 1, 2, 12_000, 12_001, 65_535, 65_536, 2**24, 2**30, 2**31 - 1]),
    st.integers(0, 2**31 - 1),
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@st.composite
def extreme_pngs(draw: st.DrawFn) -> bytes:
    width, height = draw(SIDES), draw(SIDES)
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 0, 3, 32]))
    colour = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 5, 7]))
    interlace = draw(st.sampled_from([0, 1, 2]))
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0,
                                              interlace))]
    if colour == 3 or draw(st.booleans()):
        entries = draw(st.integers(0, 257))
        chunks.append(_png_chunk(b"PLTE", bytes(i % 256 for i in range(3 * entries))))
    if draw(st.booleans()):
        chunks.append(_png_chunk(b"tRNS", draw(st.binary(max_size=8))))
    raw = draw(st.one_of(st.binary(max_size=256), st.just(b"\0" * 4096)))
    chunks.append(_png_chunk(b"IDAT", zlib.compress(raw)))
    if draw(st.booleans()):
        chunks.append(_png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


@st.composite
def extreme_jpegs(draw: st.DrawFn) -> bytes:
    width = draw(st.sampled_from([0, 1, 8, 4000, 4001, 12_000, 12_001, 65_535]))
    height = draw(st.one_of(st.sampled_from([0, 1, 65_535]), st.integers(0, 65_535)))
    components = draw(st.sampled_from([1, 3, 4, 2]))
    sof = draw(st.sampled_from([0xC0, 0xC1, 0xC2, 0xC3, 0xC9]))
    comp = b"".join(struct.pack(">BBB", i + 1, draw(st.sampled_from([0x11, 0x22, 0x44])), 0)
                    for i in range(components))
    parts = [b"\xff\xd8",
             _jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
             _jpeg_segment(0xDB, b"\x00" + bytes([1] * 64)),
             _jpeg_segment(sof, struct.pack(">BHHB", 8, height, width, components) + comp)]
    if draw(st.booleans()):
        # a minimal Huffman table, a scan header and some entropy-coded bytes
        parts.append(_jpeg_segment(0xC4, b"\x00" + bytes([0, 1] + [0] * 14) + b"\x00"))
        parts.append(_jpeg_segment(0xC4, b"\x10" + bytes([0, 1] + [0] * 14) + b"\x00"))
        scan = bytes([components]) + b"".join(bytes([i + 1, 0]) for i in range(components))
        parts.append(_jpeg_segment(0xDA, scan + b"\x00\x3f\x00"))
        parts.append(draw(st.binary(max_size=512)).replace(b"\xff", b"\xff\x00"))
    if draw(st.booleans()):
        parts.append(b"\xff\xd9")
    return b"".join(parts)


@st.composite
def extreme_webps(draw: st.DrawFn) -> bytes:
    """WEBP with a VP8X canvas of up to 2**24 a side, or a VP8L / VP8 header of up to 16384."""
    kind = draw(st.sampled_from(["VP8X", "VP8L", "VP8 "]))
    if kind == "VP8X":
        canvas = st.one_of(st.sampled_from([0, 2**24 - 1, 16383, 11_999]),
                           st.integers(0, 2**24 - 1))
        cw, ch = draw(canvas), draw(canvas)
        flags = draw(st.sampled_from([0x00, 0x10, 0x02, 0x12, 0x20, 0x08, 0x3E]))
        body = _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + cw.to_bytes(3, "little")
                           + ch.to_bytes(3, "little"))
        if flags & 0x02:
            anim = _riff_chunk(b"ANIM", b"\xff\xff\xff\xff\x00\x00")
            frame = (draw(st.binary(min_size=12, max_size=12)) + b"\x00\x00\x00\x00")
            body += anim + _riff_chunk(b"ANMF", frame + _vp8l(1, 1))
        elif flags & 0x10:
            body += _riff_chunk(b"ALPH", b"\x00" + draw(st.binary(max_size=64)))
        body += draw(st.sampled_from([_vp8l(1, 1), _vp8l(16384, 16384), _riff_chunk(b"VP8 ", b"")]))
    elif kind == "VP8L":
        body = _vp8l(draw(st.integers(1, 16384)), draw(st.integers(1, 16384)),
                     draw(st.binary(max_size=128)))
    else:
        vw, vh = draw(st.integers(0, 16383)), draw(st.integers(0, 16383))
        frame = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", vw, vh)
        body = _riff_chunk(b"VP8 ", frame + draw(st.binary(max_size=128)))
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _vp8l(width: int, height: int, rest: bytes = b"\x00" * 8) -> bytes:
    bits = (width - 1) | ((height - 1) << 14) | (1 << 28)  # alpha hint, version 0
    return _riff_chunk(b"VP8L", b"\x2f" + struct.pack("<I", bits) + rest)


@st.composite
def extreme_refused(draw: st.DrawFn) -> bytes:
    """GIF, TIFF and BMP headers declaring large sizes: refused whatever they declare."""
    width, height = draw(st.integers(0, 65_535)), draw(st.integers(0, 65_535))
    kind = draw(st.sampled_from(["gif", "tiff", "bmp"]))
    if kind == "gif":
        screen = struct.pack("<6sHHBBB", b"GIF89a", width, height, 0, 0, 0)
        image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
        return screen + image + b"\x3b"
    if kind == "bmp":
        w32, h32 = draw(SIDES), draw(st.integers(-(2**31), 2**31 - 1))
        info = struct.pack("<IiiHHIIiiII", 40, w32, h32, 1, 24, 0, 0, 0, 0, 0, 0)
        return b"BM" + struct.pack("<IHHI", 14 + len(info) + 16, 0, 0, 14 + len(info)) + info \
            + b"\0" * 16
    entries = [(256, 4, 1, draw(SIDES)), (257, 4, 1, draw(SIDES)), (258, 3, 1, 8),
               (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII" if t == 4 else "<HHIHxx", tag, t, n, v) for tag, t, n, v in entries
    ) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 16


LIMITS = st.one_of(
    st.just(ImageLimits()),
    st.builds(ImageLimits, max_side=st.just(2**31), max_pixels=st.just(2**62),
              max_decoded_bytes=st.integers(1, 160 * 1024 * 1024)),
)


@fuzz(500)
@given(data=st.one_of(extreme_pngs(), extreme_jpegs(), extreme_webps()), limits=LIMITS)
def test_extreme_dimensions_decode_or_refuse_in_bounded_memory(
    data: bytes, limits: ImageLimits
) -> None:
    assert_decodes_or_refuses(data, limits, check_memory=True)


@fuzz(150)
@given(data=extreme_refused())
def test_extreme_refused_formats_are_refused(data: bytes) -> None:
    with peak_memory_growth() as growth, pytest.raises(ImageDecodeError):
        decode_image(data)
    if growth:
        assert growth[0] < MEMORY_BUDGET_KB


# ---- extraction with the real engine, in a child process ------------------------------------

_CHILD = textwrap.dedent("""
    import pickle, struct, sys
    from faceguard.engine.dlib_engine import DlibEngine
    from faceguard.engine.pipeline import extract
    from faceguard.engine.quality import QualityGate
    from faceguard.errors import FaceguardError

    engine = DlibEngine()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            break
        mode, payload = pickle.loads(stdin.read(struct.unpack(">I", head)[0]))
        try:
            if mode == "detect":
                answer = ("ok", len(engine.detect(payload)))
            else:
                extraction = extract(engine, payload, single_face=mode == "enroll",
                                     gate=QualityGate() if mode == "enroll" else None)
                answer = ("ok", extraction.template.vector.shape)
        except FaceguardError as exc:
            answer = ("faceguard", exc)
        except BaseException as exc:
            answer = ("other", f"{type(exc).__name__}: {exc}")
        blob = pickle.dumps(answer)
        stdout.write(struct.pack(">I", len(blob)) + blob)
        stdout.flush()
""")


class EngineChild:
    """A child process holding one ``DlibEngine``: a crash of native code ends the child,
    and the test, not pytest."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def ask(self, mode: str, payload: bytes | np.ndarray) -> tuple[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        blob = pickle.dumps((mode, payload))
        try:
            self.proc.stdin.write(struct.pack(">I", len(blob)) + blob)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            self.close()
            code = self.proc.returncode
            self.__init__()  # type: ignore[misc]  # a fresh child for the next example
            pytest.fail(f"the engine process died (exit code {code}) on {mode} of "
                        f"{getattr(payload, 'shape', len(payload))}")
        answer: tuple[str, Any] = pickle.loads(self.proc.stdout.read(struct.unpack(">I", head)[0]))
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with suppress(BrokenPipeError):
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def engine_child() -> Iterator[EngineChild]:
    child = EngineChild()
    yield child
    child.close()


def test_engine_child_reports_a_crash(engine_child: EngineChild) -> None:
    """The safety net itself: a child killed as a crash of native code would kill it fails
    the example (and the next one gets a fresh child)."""
    engine_child.proc.send_signal(signal.SIGSEGV)
    engine_child.proc.wait(timeout=30)
    with pytest.raises(pytest.fail.Exception, match=r"died \(exit code -11\)"):
        engine_child.ask("detect", np.zeros((40, 40, 3), dtype=np.uint8))
    assert engine_child.ask("detect", np.zeros((40, 40, 3), dtype=np.uint8)) == ("ok", 0)


def _assert_extraction_outcome(answer: tuple[str, Any]) -> None:
    status, value = answer
    assert status in ("ok", "faceguard"), value


RANDOM_ARRAYS = st.builds(
    lambda h, w, seed, flat: (
        np.full((h, w, 3), seed % 256, dtype=np.uint8) if flat
        else np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    ),
    h=st.one_of(st.integers(1, 8), st.integers(1, 120)),
    w=st.one_of(st.integers(1, 8), st.integers(1, 120)),
    seed=st.integers(0, 2**32 - 1),
    flat=st.booleans(),
)


@fuzz(60)
@given(rgb=RANDOM_ARRAYS, mode=st.sampled_from(["enroll", "probe", "detect"]))
def test_extract_random_arrays(engine_child: EngineChild, rgb: np.ndarray, mode: str) -> None:
    _assert_extraction_outcome(engine_child.ask(mode, rgb))


@fuzz(40)
@given(rgb=RANDOM_ARRAYS, fmt=st.sampled_from(["PNG", "JPEG", "WEBP"]),
       mode=st.sampled_from(["enroll", "probe"]))
def test_extract_encoded_images(engine_child: EngineChild, rgb: np.ndarray, fmt: str,
                                mode: str) -> None:
    _assert_extraction_outcome(engine_child.ask(mode, _encode(Image.fromarray(rgb), fmt)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 120), (120, 1), (6, 6), (19, 19), (20, 20),
                                   (31, 120), (32, 32), (63, 63), (64, 64), (64, 1), (120, 120)])
def test_engine_survives_small_and_thin_pictures(engine_child: EngineChild,
                                                 shape: tuple[int, int]) -> None:
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    for mode in ("detect", "probe", "enroll"):
        _assert_extraction_outcome(engine_child.ask(mode, rgb))


# ---- a tiny TOML writer for generated values ----------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value (tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(data: dict[str, Any]) -> str:
    """A TOML document for ``data``: scalars first, tables as ``[a.b]`` sections (arrays of
    tables as ``[[a]]``), so that the structure of the original files is kept."""
    lines: list[str] = []

    def table(prefix: list[str], body: dict[str, Any]) -> None:
        subtables: list[tuple[str, Any]] = []
        for key, value in body.items():
            section = isinstance(value, dict) and (
                _is_section(prefix, key)
                or bool(value) and all(isinstance(v, dict) for v in value.values()))
            rules = (key == "rules" and isinstance(value, list) and bool(value)
                     and all(isinstance(v, dict) for v in value))
            if section or rules:
                subtables.append((key, value))
            else:
                lines.append(f"{toml_key(key)} = {toml_value(value)}")
        for key, value in subtables:
            path = [*prefix, toml_key(key)]
            if isinstance(value, list):
                for item in value:
                    lines.append(f"\n[[{'.'.join(path)}]]")
                    for k, v in item.items():
                        lines.append(f"{toml_key(k)} = {toml_value(v)}")
            else:
                lines.append(f"\n[{'.'.join(path)}]")
                table(path, value)

    table([], data)
    return "\n".join(lines) + "\n"


def _is_section(prefix: list[str], key: str) -> bool:
    return not prefix and key in ("deployment", "purposes", "numbers")


def test_toml_writer_round_trips() -> None:
    for text in (TEST_DEPLOYMENT, STARTER_TOML, *(p.read_text() for p in PACK_FILES)):
        data = tomllib.loads(text)
        assert tomllib.loads(toml_document(data)) == data


# ---- generated values ----------------------------------------------------------------------

#: Text that a UTF-8 file can hold (no lone surrogates).
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
SCALARS = st.one_of(
    TEXT,
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1000, max_size=6000),
    st.just(""), st.just("   "), st.just("cn"), st.just("public-safety"), st.just("https://x"),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**200), 2**200),
    st.sampled_from([0, -1, 1, 5, 6, 3650, 3651, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, 5e-324, 0.5]),
    st.booleans(),
    st.dates(),
)


def _containers(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Arrays and (inline) tables of ``items``."""
    return st.one_of(st.lists(items, max_size=4),
                     st.dictionaries(TEXT.filter(bool), items, max_size=3))


#: Any TOML value, nested up to two levels (st.recursive warns it cannot recurse here).
TOML_VALUES = st.one_of(SCALARS, _containers(SCALARS),
                        _containers(st.one_of(SCALARS, _containers(SCALARS))))
NEW_KEYS = st.one_of(
    TEXT.filter(bool),
    st.sampled_from(["name", "packs", "place", "signage", "collection_area", "search",
                     "retention_policy_url", "consent_methods", "operating_point", "x"]),
)


def _paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of ``data`` (tables included), depth first."""
    out = []
    for key, value in data.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out.extend(_paths(value, (*prefix, key)))
    return out


def _tables(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(_tables(value, (*prefix, key)))
    return out


def _at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        data = data[key]
    return data


@st.composite
def mutated_deployments(draw: st.DrawFn) -> tuple[str, tuple[str, ...], str]:
    """A valid deployment with one key removed, added or given a value of another type:
    (TOML text, the mutated key path, what was done)."""
    base = tomllib.loads(draw(st.sampled_from([TEST_DEPLOYMENT, STARTER_TOML])))
    op = draw(st.sampled_from(["remove", "add", "replace"]))
    if op == "add":
        table = draw(st.sampled_from(_tables(base)))
        key = draw(NEW_KEYS)
        assume(key not in _at(base, table))
        _at(base, table)[key] = draw(TOML_VALUES)
        path = (*table, key)
    else:
        path = draw(st.sampled_from(_paths(base)))
        parent = _at(base, path[:-1])
        if op == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(TOML_VALUES)
    return toml_document(base), path, op


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _names_key(message: str, path: tuple[str, ...]) -> bool:
    """The message names the key, an element of it, or (for a table that a removal or an
    addition makes invalid, e.g. no purpose left) the table holding it."""
    full = _dotted(path)
    return (f"'{full}'" in message or f"'{full}." in message
            or (len(path) > 1 and f"'{_dotted(path[:-1])}'" in message))


def assert_checkable(deployment: Deployment) -> None:
    """``faceguard check`` with default (fail-closed) facts answers pass or fail."""
    try:
        result = check_deployment(deployment, DeploymentFacts())
    except ConfigError:
        return
    assert isinstance(result, CheckResult)
    assert result.status in ("pass", "fail")
    assert (result.status == "fail") == bool(result.violations)


#: A TOML value nested ``depth`` deep, as arrays or inline tables.
DEEP_VALUES = st.builds(
    lambda depth, table: ("{a=" * depth + "1" + "}" * depth) if table
    else ("[" * depth + "]" * depth),
    depth=st.one_of(st.integers(1, 50), st.integers(50, 5000)),
    table=st.booleans(),
)


@fuzz(400)
@given(text=st.one_of(st.text(max_size=400),
                      st.text(alphabet="[]{}=,\"'.\n abc01#", max_size=400),
                      DEEP_VALUES.map(lambda v: f"a = {v}\n"),
                      DEEP_VALUES.map(lambda v: TEST_DEPLOYMENT.replace("30\n", f"{v}\n"))))
def test_random_text_deployment(text: str) -> None:
    try:
        deployment = parse_deployment(text)
    except ConfigError:
        return
    assert_checkable(deployment)


@fuzz(600)
@given(case=mutated_deployments())
def test_mutated_deployment_names_the_key(case: tuple[str, tuple[str, ...], str]) -> None:
    text, path, op = case
    try:
        deployment = parse_deployment(text)
    except ConfigError as exc:
        assert _names_key(str(exc), path), (path, op, str(exc))
        return
    assert isinstance(deployment, Deployment)
    assert_checkable(deployment)


# ---- packs ------------------------------------------------------------------------------------

PACKS_DIR = Path(__file__).resolve().parents[1] / "src" / "faceguard" / "policy" / "packs"
PACK_FILES = sorted(PACKS_DIR.glob("*.toml"))
#: Where a TOML syntax error is (tomllib names no key); or the one error without a place.
_LINE_ERROR = re.compile(r"\(at line \d+, column \d+\)|\(at end of document\)"
                         r"|values nested too deep")


@st.composite
def mutated_packs(draw: st.DrawFn) -> tuple[str, str, tuple[str, ...] | None, str]:
    """A shipped pack with some mutations: (pack id, TOML text, the one key path changed if
    the change is at key level, what was done)."""
    source = draw(st.sampled_from(PACK_FILES))
    pack_id = source.stem
    text = source.read_text(encoding="utf-8")
    op = draw(st.sampled_from(["delete-lines", "duplicate-line", "deep-value", "replace",
                               "remove", "add", "rule-id"]))
    if op in ("delete-lines", "duplicate-line", "deep-value"):
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines) - 1))
        if op == "delete-lines":
            del lines[at: at + draw(st.integers(1, 3))]
        elif op == "duplicate-line":
            lines.insert(draw(st.integers(0, len(lines))), lines[at])
        else:
            key = lines[at].split("=")[0].strip() if "=" in lines[at] else "deep"
            lines[at] = f"{key} = {draw(DEEP_VALUES)}"
        return pack_id, "\n".join(lines) + "\n", None, op
    data = tomllib.loads(text)
    if op == "rule-id":
        rule = draw(st.integers(0, len(data["rules"]) - 1))
        others = [r["id"] for r in data["rules"]]
        data["rules"][rule]["id"] = draw(st.one_of(
            st.sampled_from(others), st.sampled_from(["R0", "R", "P01", "X1", "r1", "R1 ", ""]),
            st.from_regex(r"\A[RP][1-9][0-9]{0,3}\Z"), st.text(max_size=6)))
        return pack_id, toml_document(data), ("rules", str(rule), "id"), op
    # key-level edits: rule tables addressed by their index
    flat: dict[str, Any] = {**data, "rules": dict(enumerate(data["rules"]))}
    if op == "add":
        table = draw(st.sampled_from(_tables(flat)))
        key = draw(st.one_of(NEW_KEYS, st.sampled_from(["check", "enforced_at", "also", "note",
                                                        "minors_age", "liveness_required"])))
        target = _at(flat, table)
        assume(key not in target and table != ("rules",))
        target[key] = draw(TOML_VALUES)
        path = (*table, key)
    else:
        path = tuple(draw(st.sampled_from(_paths(flat))))
        assume(path != ("rules",) or op == "replace")
        parent = _at(flat, path[:-1])
        if op == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(TOML_VALUES)
    if isinstance(flat["rules"], dict):
        flat["rules"] = [flat["rules"][i] for i in sorted(flat["rules"])]
    return pack_id, toml_document(flat), tuple(str(p) for p in path), op


def _pack_path_names(path: tuple[str, ...]) -> list[str]:
    """The dotted names pydantic may give ``path`` (the key, or the table holding it)."""
    names = [_dotted(path)]
    if len(path) > 1:
        names.append(_dotted(path[:-1]))
    return names


@fuzz(500)
@given(case=mutated_packs())
def test_mutated_pack_names_file_and_key(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, str, tuple[str, ...] | None, str],
) -> None:
    pack_id, text, path, op = case
    folder = tmp_path_factory.mktemp("pack")
    file = folder / f"{pack_id}.toml"
    file.write_text(text, encoding="utf-8")
    try:
        pack = load_pack(file)
    except ConfigError as exc:
        message = str(exc)
        assert str(file) in message, message
        if "is not valid TOML" in message:
            assert _LINE_ERROR.search(message), message
        elif op == "rule-id" and "appears twice" in message:
            assert "key 'rules'" in message, message  # the list, naming the repeated ID
        elif path is not None:
            names = _pack_path_names(path)
            assert any(f"'{n}'" in message or f"'{n}." in message for n in names), (
                path, op, message)
        else:
            assert "key '" in message, message
        return
    assert isinstance(pack, Pack)
    assert pack.id == pack_id


def test_shipped_packs_load() -> None:
    assert [load_pack(p).id for p in PACK_FILES] == [p.stem for p in PACK_FILES]


# ---- regressions found by the fuzzing above --------------------------------------------------


def _png_bomb(width: int, height: int, depth: int, colour: int) -> bytes:
    """A complete PNG of ``width`` x ``height`` zero pixels: a few hundred kB that decode to
    the full picture (zlib compresses the zero rows about 1000:1)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = b"\0" * (1 + width * channels * depth // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 64) for _ in range(height // 64))
    idat += packer.compress(row * (height % 64)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


@pytest.mark.parametrize(("depth", "colour"), [(8, 2), (16, 0), (8, 6)])
def test_png_bomb_at_the_limits_decodes_within_twice_the_decoded_budget(
    depth: int, colour: int
) -> None:
    """The largest picture the default limits let through (40 MP), sent as a zlib bomb,
    peaks below 2.25 times ``max_decoded_bytes``: the decoded picture (4 bytes a pixel) and
    its RGB array (3), plus the decoder's buffers and the allocator's slack (measured: 8.4 to
    8.7 bytes a pixel; the float64 path this replaced took about 20)."""
    limits = ImageLimits()
    side = math.isqrt(limits.max_pixels)
    data = _png_bomb(side, side, depth, colour)
    assert len(data) < 1024 * 1024
    with peak_memory_growth() as growth:
        rgb = decode_image(data, limits)
        shape = rgb.shape
        del rgb
    assert shape == (side, side, 3)
    if growth:
        assert growth[0] * 1024 < 2.25 * limits.max_decoded_bytes, f"{growth[0]} kB"


# ---- regressions found by the fuzzing above ---------------------------------------------------
# Each is the input hypothesis found (or the smallest one of its kind), with the exact outcome.


def test_tiff_header_is_refused_unparsed_and_without_warning() -> None:
    """Random bytes "II*\\0" + an offset: Pillow's TIFF parser read them (every parser of
    Pillow's forty did) and warned "Corrupt EXIF data" out of decode_image. Only the JPEG, PNG
    and WEBP parsers run now; the TIFF is recognised by its signature alone."""
    with pytest.raises(ImageDecodeError, match="unsupported image format TIFF"):
        decode_image(b"II*\x00\x08\x00\x00\x00")


def test_malformed_mpo_index_decodes_as_jpeg_without_warning() -> None:
    """An MPO whose MP index lost its byte-order mark warned "malformed MPO file" out of
    decode_image; it decodes as its first picture, silently."""
    data = bytearray(image_corpus()["mpo"][0])
    at = data.find(b"MPF\x00") + 4
    data[at] ^= 0xFF
    assert decode_image(bytes(data)).shape == (40, 48, 3)


@pytest.mark.parametrize("flip", [10, 12, 20, 22])
def test_corrupt_exif_is_skipped_without_warning(flip: int) -> None:
    """Corrupt EXIF in a JPEG ("Corrupt EXIF data", "Tag data larger than file") warned out
    of decode_image; the picture decodes, its unreadable orientation ignored."""
    data = bytearray(image_corpus()["jpeg-exif-rotated"][0])
    data[data.find(b"Exif\x00\x00") + flip] ^= 0x40
    rgb = decode_image(bytes(data))
    assert rgb.shape in ((40, 48, 3), (48, 40, 3))


def test_thin_jpeg_longer_than_the_draft_side_decodes() -> None:
    """A 5000x1 JPEG (within the default limits) raised ZeroDivisionError: the reduced
    decoding size asked of Pillow was 4000x0."""
    rgb = decode_image(_encode(Image.new("RGB", (5000, 1), (10, 20, 30)), "JPEG"))
    assert rgb.shape == (1, 5000, 3)


def test_deeply_nested_deployment_value_is_a_config_error() -> None:
    """``a = [[[...]]]`` 1000 deep raised RecursionError out of tomllib."""
    with pytest.raises(ConfigError, match="faceguard.toml is not valid TOML: values nested"):
        parse_deployment("a = " + "[" * 1000 + "]" * 1000 + "\n")


def test_deeply_nested_pack_value_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    text = PACK_FILES[0].read_text(encoding="utf-8") + "deep = " + "{a=" * 1000 + "1" \
        + "}" * 1000 + "\n"
    file = tmp_path / PACK_FILES[0].name
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"law pack {file} is not valid TOML")):
        load_pack(file)
