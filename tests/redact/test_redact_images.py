"""Still images: every annotated face of the group photos covered, metadata stripped, each
file recorded in the processing record."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from conftest import covered_fraction
from faceguard import Faceguard
from faceguard.engine.imaging import decode_image
from faceguard.redact import RedactOptions, redact_media
from faceguard.redact.cover import FILL_GREY

Box = tuple[int, int, int, int]


def _truth(faces: Path) -> dict[str, list[Box]]:
    truth: dict[str, list[Box]] = {}
    with (faces / "detection_gt.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            left, top = int(row["left"]), int(row["top"])
            box = (left, top, left + int(row["width"]), top + int(row["height"]))
            truth.setdefault(row["file"], []).append(box)
    return truth


def test_every_annotated_face_of_the_group_photos_is_covered(
    fg: Faceguard, faces: Path, tmp_path: Path
) -> None:
    """The 9 photos of detection_gt.csv (43 faces, the smallest 37 px), redacted as a folder
    by two worker processes through the facade: recall of the covering is 43/43, the
    pixels of every annotated face are the fill grey, and each file is recorded."""
    truth = _truth(faces)
    src = tmp_path / "in"
    src.mkdir()
    for name in truth:
        shutil.copy(faces / name, src / Path(name).name)
    done: list[int] = []
    report = fg.redaction.redact(src, tmp_path / "out", actor="test", workers=2,
                              progress=done.append)
    assert sum(done) == 9 and report.ok and not report.skipped
    by_name = {Path(f.source).name: f for f in report.files}
    covered_faces = 0
    for name, boxes in truth.items():
        file = by_name[Path(name).name]
        regions = [list(r.covered) for c in file.covered for r in c.regions]
        rgb = decode_image(Path(file.output).read_bytes())
        for box in boxes:
            full = covered_fraction(box, regions) == 1.0
            patch = rgb[box[1]:box[3], box[0]:box[2]].astype(int)
            grey = float((np.abs(patch - FILL_GREY) <= 12).mean())
            covered_faces += full and grey >= 0.99
    recall = covered_faces / sum(len(b) for b in truth.values())
    assert recall == 1.0, f"covering recall {recall:.3f} ({covered_faces} faces)"

    events = fg._store.audit.events(operation="media.redacted")
    assert [e.seq for e in events] == list(report.audit_seqs)
    assert {(e.outcome, e.rules, e.actor) for e in events} == {("ok", ("R9", "R20"), "test")}
    digests = {hashlib.sha256(Path(f.output).read_bytes()).hexdigest() for f in report.files}
    assert {e.detail["output_sha256"] for e in events} == digests
    assert all(str(tmp_path) not in str(e.detail) for e in events)  # no paths recorded


def _exif_jpeg(rgb: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."        # Make
    exif[0x0110] = "Model X"            # Model
    exif[0x0112] = 6                    # Orientation: rotate 90 degrees clockwise
    exif.get_ifd(0x8769)[0xA431] = "SN-0042-SECRET"   # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (31.0, 14.0, 5.5), "E", (121.0, 28.0, 0.0)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", exif=exif, comment=b"shot at home")
    return buffer.getvalue()


def test_metadata_is_stripped(lfw: Path, tmp_path: Path) -> None:
    """A JPEG with GPS, camera make, model and serial, an orientation and a comment: the
    output has none of it (the orientation is applied to the pixels instead)."""
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())[:, :200]
    data = _exif_jpeg(rgb)
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif()[0x010F] == "SpyCam Inc."
        assert original.getexif().get_ifd(0x8825)[2] == (31.0, 14.0, 5.5)
    (tmp_path / "in.jpg").write_bytes(data)
    report = redact_media(tmp_path / "in.jpg", tmp_path / "out.jpg")
    written = (tmp_path / "out.jpg").read_bytes()
    for secret in (b"Exif", b"SpyCam", b"Model X", b"SN-0042", b"shot at home"):
        assert secret not in written
    with Image.open(tmp_path / "out.jpg") as out:
        assert len(out.getexif()) == 0
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(out.info)
        assert out.size == (rgb.shape[0], rgb.shape[1])  # turned upright: width <-> height
    assert report.files[0].faces >= 1 and "GPS" in report.files[0].metadata


def test_png_text_and_webp_exif_are_stripped_too(lfw: Path, tmp_path: Path) -> None:
    rgb = decode_image((lfw / "Colin_Powell" / "Colin_Powell_0002.jpg").read_bytes())
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Officer 7, north gate camera")
    Image.fromarray(rgb).save(tmp_path / "in.png", pnginfo=info)
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."
    Image.fromarray(rgb).save(tmp_path / "in.webp", exif=exif)
    report = redact_media(tmp_path / "in.png", tmp_path / "out.png")
    assert b"Officer 7" not in (tmp_path / "out.png").read_bytes()
    redact_media(tmp_path / "in.webp", tmp_path / "out.webp", RedactOptions(style="pixelate"))
    assert b"SpyCam" not in (tmp_path / "out.webp").read_bytes()
    with Image.open(tmp_path / "out.webp") as out:
        assert out.format == "WEBP" and len(out.getexif()) == 0
    assert report.files[0].output_format == "PNG" and report.files[0].faces >= 1


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="margin"):
        RedactOptions(margin=0.05)
    with pytest.raises(ValueError, match="style"):
        RedactOptions(style="blur")  # type: ignore[arg-type]


def test_images_too_large_to_enlarge_say_which_faces_may_be_missed() -> None:
    from faceguard.redact import FAST, THOROUGH
    from faceguard.redact.detect import FaceFinder
    from faceguard.redact.image import small_face_warning

    thorough, fast = FaceFinder(THOROUGH), FaceFinder(FAST)
    assert [thorough.smallest_face(h, w) for h, w in ((375, 500), (1080, 1920), (3000, 4000))] \
        == [26, 29, 68]
    assert [fast.smallest_face(h, w) for h, w in ((480, 640), (720, 1280), (1080, 1920))] \
        == [40, 40, 58]
    assert small_face_warning(thorough, 375, 500) == ()
    (warning,) = small_face_warning(thorough, 3000, 4000)
    assert warning.endswith("faces narrower than about 68 px may be missed")
