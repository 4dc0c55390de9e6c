"""``faceguard redact``: JSON output, the report file, exit codes, ``--keep`` refused."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from faceguard import Faceguard
from faceguard.cli.main import Context
from faceguard.cli.redact import redact


def _run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(redact, list(args), obj=Context(data_dir, None, False))


def test_a_folder_with_a_bad_file(data_dir: Path, lfw: Path, tmp_path: Path) -> None:
    src = tmp_path / "kept"
    src.mkdir()
    photo = src / "gate.jpg"
    photo.write_bytes((lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes())
    (src / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    report_file = tmp_path / "report.json"
    result = _run(data_dir, str(src), str(tmp_path / "out"), "--workers", "1", "--json",
                  "--report", str(report_file))
    assert result.exit_code == 4, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads(report_file.read_text(encoding="utf-8"))
    assert printed["summary"]["files"] == 1 and printed["summary"]["failed"] == 1
    (failure,) = printed["failed"]
    assert (Path(failure["source"]).name, failure["error"]) == ("cut.mp4", "VideoDecodeError")
    assert "cut.mp4" in result.stderr and "truncated" in result.stderr
    (file,) = printed["files"]
    assert file["covered"][0]["frame"] == 0 and file["covered"][0]["regions"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gate.jpg"]
    with Faceguard.open(data_dir) as fg:
        outcomes = [e.outcome for e in fg._store.audit.events(operation="media.redacted")]
    assert sorted(outcomes) == ["ok", "rejected"]


def test_keep_is_refused_with_the_rule(data_dir: Path, lfw: Path, tmp_path: Path) -> None:
    photo = lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"
    result = _run(data_dir, str(photo), str(tmp_path / "out.jpg"), "--keep", "emp-7")
    assert result.exit_code == 3
    assert "[R9] keeping 'emp-7' uncovered is refused" in result.stderr
    assert not (tmp_path / "out.jpg").exists()
    result = _run(data_dir, str(photo), str(tmp_path / "out.jpg"), "--keep", "emp-7", "--json")
    assert (result.exit_code, json.loads(result.stdout)["rule"]) == (3, "R9")


def test_a_single_image_in_text_mode(data_dir: Path, faces: Path, tmp_path: Path) -> None:
    photo = faces / "face_recognition/examples/obama-240p.jpg"
    result = _run(data_dir, str(photo), str(tmp_path), "--style", "pixelate", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("redacted 1 file(s): 1 frame(s)")
    assert (tmp_path / "obama-240p.jpg").is_file()
    result = _run(data_dir, str(photo), str(tmp_path / "obama-240p.jpg"))
    assert result.exit_code == 2 and "already exists" in result.stderr
