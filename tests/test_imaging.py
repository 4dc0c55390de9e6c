"""Decoding untrusted image bytes (engine/imaging.py): formats, orientation and limits.

Inputs are real files from the faces folder or images derived from them in memory
(re-encoded, cropped, cut short). Nothing is written into the repository.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceguard.engine.imaging import ImageLimits, decode_image
from faceguard.errors import ImageDecodeError, ImageTooLarge

LFW_IMAGE = ("Peter_Struck", "Peter_Struck_0001.jpg")
RGBA_PNG = "face_recognition/tests/test_images/32bit.png"
WEBP_NAMED_JPG = "deepface/tests/unit/dataset/img47.jpg"


@pytest.fixture(scope="module")
def jpeg(lfw: Path) -> bytes:
    """A real 250x250 LFW JPEG."""
    return (lfw / LFW_IMAGE[0] / LFW_IMAGE[1]).read_bytes()


@pytest.fixture(scope="module")
def jpeg_rgb(jpeg: bytes) -> np.ndarray:
    """The same JPEG decoded by Pillow directly: what ``decode_image`` must return."""
    with Image.open(io.BytesIO(jpeg)) as img:
        return np.asarray(img.convert("RGB"))


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` (valid CRCs) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# ---- formats ---------------------------------------------------------------------------


def test_jpeg_decodes_to_contiguous_rgb_uint8(jpeg: bytes, jpeg_rgb: np.ndarray) -> None:
    rgb = decode_image(jpeg)
    assert rgb.shape == (250, 250, 3)
    assert rgb.dtype == np.uint8
    assert rgb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rgb, jpeg_rgb)


def test_decode_accepts_bytearray_and_memoryview(jpeg: bytes, jpeg_rgb: np.ndarray) -> None:
    np.testing.assert_array_equal(decode_image(bytearray(jpeg)), jpeg_rgb)
    np.testing.assert_array_equal(decode_image(memoryview(jpeg)), jpeg_rgb)


def test_rgba_png_becomes_rgb(faces: Path) -> None:
    data = (faces / RGBA_PNG).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGBA"
        rgba = np.asarray(img)
    rgb = decode_image(data)
    assert rgb.shape == (1200, 626, 3)
    assert rgb.dtype == np.uint8
    # 32bit.png is fully opaque: the colour channels come through untouched.
    assert rgba[..., 3].min() == 255
    np.testing.assert_array_equal(rgb, rgba[..., :3])


def test_transparent_pixels_are_composited_on_white(faces: Path) -> None:
    with Image.open(faces / RGBA_PNG) as img:
        rgba = np.array(img.convert("RGBA"))
    rgba[:, :100, 3] = 0  # left band fully transparent
    rgba[:50, 200:300] = (0, 0, 0, 128)  # black at half opacity
    rgb = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert rgb.shape == (1200, 626, 3)
    assert (rgb[:, :100] == 255).all()
    assert np.abs(rgb[:50, 200:300].astype(int) - 127).max() <= 1
    np.testing.assert_array_equal(rgb[60:, 300:], rgba[60:, 300:, :3])


def test_grey_with_alpha_png_is_composited(jpeg: bytes) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        la = np.array(img.convert("LA"))
    la[:, :50, 1] = 0
    rgb = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert rgb.shape == (250, 250, 3)
    assert (rgb[:, :50] == 255).all()
    np.testing.assert_array_equal(rgb[:, 50:, 0], la[:, 50:, 0])


def test_webp_named_jpg_is_decoded_by_content(faces: Path) -> None:
    path = faces / WEBP_NAMED_JPG
    data = path.read_bytes()
    assert path.suffix == ".jpg"
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    rgb = decode_image(data)
    assert rgb.shape == (1800, 1350, 3)
    assert rgb.dtype == np.uint8
    assert rgb.std() > 10  # a real photo, not a blank


def test_multi_picture_jpeg_from_a_phone_is_decoded(jpeg: bytes) -> None:
    """Phone cameras write JPEGs with extra pictures (MPO: preview, depth map). The file is
    a JPEG (SOI marker, .jpg name); Pillow reports its format as "MPO". The primary picture
    is the photo and must decode like any JPEG."""
    with Image.open(io.BytesIO(jpeg)) as img:
        img.load()
        data = encode(img, "MPO", save_all=True, append_images=[img.resize((125, 125))])
    assert data[:3] == b"\xff\xd8\xff"  # a JPEG stream
    with Image.open(io.BytesIO(data)) as check:
        assert (check.format, check.n_frames) == ("MPO", 2)
        primary = np.asarray(check.convert("RGB"))
    rgb = decode_image(data)
    assert rgb.shape == (250, 250, 3)
    np.testing.assert_array_equal(rgb, primary)


def test_grayscale_jpeg_becomes_three_equal_channels(jpeg: bytes) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        grey = img.convert("L")
    data = encode(grey, "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "L"
        expected = np.asarray(check)
    rgb = decode_image(data)
    assert rgb.shape == (250, 250, 3)
    np.testing.assert_array_equal(rgb[..., 0], expected)
    np.testing.assert_array_equal(rgb[..., 1], expected)
    np.testing.assert_array_equal(rgb[..., 2], expected)


def test_cmyk_jpeg_becomes_rgb(jpeg: bytes, jpeg_rgb: np.ndarray) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        data = encode(img.convert("CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "CMYK"
    rgb = decode_image(data)
    assert rgb.shape == (250, 250, 3)
    assert rgb.dtype == np.uint8
    # Same picture (not inverted, not channel-swapped): close to the RGB original.
    assert np.abs(rgb.astype(int) - jpeg_rgb.astype(int)).mean() < 3.0


def test_sixteen_bit_png_becomes_eight_bit_rgb(jpeg: bytes) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        grey = np.asarray(img.convert("L"))
    assert grey.max() == 255  # so the 16-bit image spans the full range
    wide = Image.fromarray(grey.astype(np.uint16) * 257)
    data = encode(wide, "PNG")
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode.startswith("I")
    rgb = decode_image(data)
    assert rgb.shape == (250, 250, 3)
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 0], grey)


@pytest.mark.parametrize(
    ("orientation", "quarter_turns"),
    [(3, 2), (6, -1), (8, 1)],
    ids=["rotate-180", "rotate-90-cw", "rotate-90-ccw"],
)
def test_exif_orientation_is_applied(jpeg: bytes, orientation: int, quarter_turns: int) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        landscape = img.crop((0, 0, 250, 150))  # 250 wide, 150 high
    plain = encode(landscape, "JPEG", quality=95)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    tagged = encode(landscape, "JPEG", quality=95, exif=exif.tobytes())
    upright = decode_image(plain)
    assert upright.shape == (150, 250, 3)
    rotated = decode_image(tagged)
    assert rotated.shape == ((250, 150, 3) if orientation in (6, 8) else (150, 250, 3))
    np.testing.assert_array_equal(rotated, np.rot90(upright, k=quarter_turns))


# ---- refusals --------------------------------------------------------------------------


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(ImageDecodeError, match=r"empty \(0 bytes\)"):
        decode_image(b"")


def test_not_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="expected image bytes, got str"):
        decode_image(str(tmp_path / "face.jpg"))  # type: ignore[arg-type]


@pytest.mark.parametrize("keep", [0.5, 0.9], ids=["half", "nine-tenths"])
def test_truncated_jpeg_is_refused(jpeg: bytes, keep: float) -> None:
    cut = jpeg[: int(len(jpeg) * keep)]
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(cut)


def test_jpeg_cut_inside_its_header_is_refused(jpeg: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        decode_image(jpeg[:40])


def test_text_file_named_jpg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "passport-photo.jpg"
    path.write_text("This is not a photo, just a note that was renamed.\n", encoding="utf-8")
    with pytest.raises(ImageDecodeError, match="not a recognised image"):
        decode_image(path.read_bytes())


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_refused_as_unsupported(jpeg: bytes, fmt: str) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        data = encode(img, fmt)
    with pytest.raises(ImageDecodeError, match=f"unsupported image format {fmt}"):
        decode_image(data)


def test_png_declaring_100000_squared_pixels_is_refused_unread() -> None:
    data = png_declaring(100_000, 100_000)
    assert len(data) < 200
    with pytest.raises(ImageTooLarge):
        decode_image(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 8_000), (12_001, 10), (10, 12_001)],
    ids=["pixels", "width", "height"],
)
def test_png_over_our_limits_is_refused_before_decoding(width: int, height: int) -> None:
    # Below Pillow's own bomb limit, so only faceguard's check can refuse it; the data
    # is a stub, so ImageTooLarge (not a decode error) shows the pixels were never read.
    with pytest.raises(ImageTooLarge, match=f"declares {width}x{height} pixels"):
        decode_image(png_declaring(width, height))


def test_custom_pixel_limit(jpeg: bytes) -> None:
    with pytest.raises(ImageTooLarge, match="declares 250x250 pixels"):
        decode_image(jpeg, ImageLimits(max_pixels=250 * 250 - 1))
    assert decode_image(jpeg, ImageLimits(max_pixels=250 * 250)).shape == (250, 250, 3)


def test_bytes_over_max_bytes_are_refused(jpeg: bytes) -> None:
    limit = len(jpeg) - 1
    with pytest.raises(ImageTooLarge, match=f"is {len(jpeg)} bytes; the limit is {limit}"):
        decode_image(jpeg, ImageLimits(max_bytes=limit))
    assert decode_image(jpeg, ImageLimits(max_bytes=len(jpeg))).shape == (250, 250, 3)

