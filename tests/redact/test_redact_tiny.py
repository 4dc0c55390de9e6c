"""Images too small to hold a face are redacted (nothing to cover), not an error."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from faceguard.redact import redact_media


def test_a_tiny_image_is_written_without_faces(tmp_path: Path) -> None:
    src, dst = tmp_path / "tiny.png", tmp_path / "out.png"
    Image.new("RGB", (12, 9), (200, 30, 30)).save(src)
    report = redact_media(src, dst)
    assert [f.faces for f in report.files] == [0]
    with Image.open(dst) as out:
        assert out.size == (12, 9)
