"""Bad input and failed writes: a clear error naming the problem, and nothing left behind."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from faceguard import FaceguardError, ImageDecodeError, NotFound
from faceguard.redact import (
    OutputError,
    RedactOptions,
    UnsupportedMedia,
    VideoDecodeError,
    redact_media,
)


def _noise_video(path: Path, fourcc: str, frames: int = 6) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 10, (160, 120))
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _fails(src: Path, out_dir: Path, error: type[FaceguardError], *words: str,
           name: str = "out.mp4") -> FaceguardError:
    with pytest.raises(error) as caught:
        redact_media(src, out_dir / name)
    message = str(caught.value)
    assert src.name in message
    for word in words:
        assert word in message, message
    assert _leftovers(out_dir) == []
    return caught.value


def test_zero_length_files(tmp_path: Path, out_dir: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _fails(tmp_path / "empty.mp4", out_dir, VideoDecodeError, "empty (0 bytes)")
    error = _fails(tmp_path / "empty.jpg", out_dir, ImageDecodeError, "empty (0 bytes)",
                   name="out.jpg")
    assert not isinstance(error, VideoDecodeError)


def test_unreadable_video(tmp_path: Path, out_dir: Path) -> None:
    """An MP4 cut short before its index (what a crashed recorder leaves), and an H.264
    recording cut in half."""
    whole = _noise_video(tmp_path / "whole.mp4", "mp4v").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[:2000])
    _fails(tmp_path / "cut.mp4", out_dir, VideoDecodeError, "MP4", "corrupt, truncated")
    h264 = Path(__file__).resolve().parents[3] / "shared/data/liveness/videos/d1.mp4"
    if h264.exists():
        (tmp_path / "half.mp4").write_bytes(h264.read_bytes()[: h264.stat().st_size // 2])
        _fails(tmp_path / "half.mp4", out_dir, VideoDecodeError, "truncated")


def test_unsupported_codec(tmp_path: Path, out_dir: Path) -> None:
    """An AVI whose video stream is in a codec no decoder knows ('QQQQ')."""
    data = _noise_video(tmp_path / "ok.avi", "MJPG").read_bytes()
    assert data.count(b"MJPG") >= 1
    (tmp_path / "odd.avi").write_bytes(data.replace(b"MJPG", b"QQQQ"))
    _fails(tmp_path / "odd.avi", out_dir, UnsupportedMedia, "codec 'QQQQ'", "AVI")


def test_unsupported_containers_and_formats(tmp_path: Path, out_dir: Path) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(gif, "GIF")
    (tmp_path / "anim.gif").write_bytes(gif.getvalue())
    _fails(tmp_path / "anim.gif", out_dir, UnsupportedMedia, "GIF image", "not supported")
    (tmp_path / "notes.mp4").write_bytes(b"these are not moving pictures\n" * 20)
    _fails(tmp_path / "notes.mp4", out_dir, UnsupportedMedia, "unknown format")
    with pytest.raises(NotFound):
        redact_media(tmp_path / "missing.mp4", out_dir / "x.mp4")


def test_unwritable_outputs_are_refused_before_any_work(tmp_path: Path, out_dir: Path) -> None:
    video = _noise_video(tmp_path / "in.avi", "MJPG")
    with pytest.raises(OutputError, match=r"cannot write a video as \.webm"):
        redact_media(video, out_dir / "out.webm")
    with pytest.raises(OutputError, match="does not exist"):
        redact_media(video, tmp_path / "nowhere" / "out.avi")
    (out_dir / "taken.avi").write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        redact_media(video, out_dir / "taken.avi")
    assert (out_dir / "taken.avi").read_bytes() == b"keep me"
    assert _leftovers(out_dir) == ["taken.avi"]


def test_a_failure_while_writing_leaves_no_partial_file(tmp_path: Path, out_dir: Path) -> None:
    """Cancelled half-way through writing (the progress callback raises): the hidden
    temporary file is removed and no output appears."""
    video = _noise_video(tmp_path / "in.mp4", "mp4v", frames=10)
    calls = []

    def cancel(units: int) -> None:
        calls.append(units)
        if len(calls) == 15:  # 10 analysed frames, then 5 written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        redact_media(video, out_dir / "out.mp4", progress=cancel)
    assert _leftovers(out_dir) == []
    report = redact_media(video, out_dir / "out.mp4")
    assert report.files[0].frames == 10 and _leftovers(out_dir) == ["out.mp4"]


def test_a_bad_file_in_a_folder_fails_alone(tmp_path: Path, faces: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "photo.jpg").write_bytes(
        (faces / "face_recognition/examples/obama-240p.jpg").read_bytes())
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (src / "readme.txt").write_text("not media")
    (src / ".hidden.jpg").write_bytes(b"")
    report = redact_media(src, tmp_path / "out", RedactOptions())
    assert [Path(f.output).relative_to(tmp_path / "out").as_posix() for f in report.files] \
        == ["sub/photo.jpg"]
    assert [(Path(f.source).name, f.error) for f in report.failed] \
        == [("broken.jpg", "ImageDecodeError")]
    assert report.skipped == ("readme.txt",)
    assert report.files[0].faces >= 1 and not report.ok
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["photo.jpg", "sub"]
    with pytest.raises(OutputError, match="inside"):
        redact_media(src, src / "redacted")
