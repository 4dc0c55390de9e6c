"""Raw images never reach a file (R9), whatever their size, on a real ``faceguard serve``.

The server runs as its own process with an audit hook (``sys.addaudithook``, installed
before the CLI starts) that writes down every file it opens in its temporary folder
(``TMPDIR``, private to the test), every unnamed ``O_TMPFILE`` file it opens anywhere, and
every ``tempfile.mkstemp``/``mkdtemp``. Uploads well over a megabyte (Starlette spooled
multipart files above 1 MB to an unnamed temporary file) must leave that list empty.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from faceguard.engine.dlib_engine import DlibEngine
from test_service_support import REPO, good_faces

sys.path.insert(0, str(REPO / "bench"))
from service_harness import Server, padded_jpeg, prepare, serve  # noqa: E402

HOOK = """
import os, sys
_log = os.open(os.environ["FG_OPEN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
_tmp = os.environ["TMPDIR"].rstrip("/") + "/"
_unnamed = getattr(os, "O_TMPFILE", 0)

def _note(text):
    os.write(_log, (text.replace("\\n", " ") + "\\n").encode("utf-8", "replace"))

def _hook(event, args):
    if event == "open":
        path, _mode, flags = args
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        flags = flags if isinstance(flags, int) else 0
        in_tmp = isinstance(path, str) and os.path.abspath(path).startswith(_tmp)
        if in_tmp or (_unnamed and flags & _unnamed == _unnamed):
            _note(f"open {path} flags={flags:#o}")
    elif event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
        _note(f"{event} {args}")

sys.addaudithook(_hook)
_note("hook installed")
"""
MB = 1024 * 1024


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[Server, dict[str, str], Path]]:
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    secrets = prepare(tmp_path / "data")
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    opened = tmp_path / "opened.log"
    with serve(tmp_path / "data", prelude=HOOK,
               env={"TMPDIR": str(temp.resolve()), "FG_OPEN_LOG": str(opened)}) as running:
        yield running, secrets, opened


def new_lines(log: Path, start: int) -> list[str]:
    return log.read_bytes()[start:].decode("utf-8", "replace").splitlines()


def test_large_multipart_images_are_never_written_to_a_file(
        server: tuple[Server, dict[str, str], Path], engine: DlibEngine, lfw: Path) -> None:
    running, secrets, opened = server
    assert new_lines(opened, 0) == ["hook installed"]  # the hook watches this process
    op = {"Authorization": f"Bearer {secrets['operator']}"}
    term = {"Authorization": f"Bearer {secrets['terminal']}"}
    (first, second, third), = good_faces(engine, lfw, 1, per_person=3)
    big = [padded_jpeg(path.read_bytes(), size) for path, size in
           ((first, 3 * MB), (second, 2 * MB), (third, int(1.5 * MB)))]
    start = opened.stat().st_size
    with httpx.Client(base_url=running.base, timeout=120) as client:
        consent = client.post("/api/v1/consents", headers=op, json={
            "external_id": "emp-1", "name": "Big Picture", "purpose": "access-control",
            "method": "written", "evidence": "form 1"})
        assert consent.status_code == 201, consent.text
        enrolled = client.post(
            "/api/v1/purposes/access-control/enrollments", headers=op,
            data={"external_id": "emp-1"},
            files=[("image", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(big)])
        assert enrolled.status_code == 201, enrolled.text
        assert len(enrolled.json()["template_ids"]) == 3
        verified = client.post("/api/v1/purposes/access-control/verifications", headers=term,
                               data={"external_id": "emp-1"},
                               files={"image": ("v.jpg", big[0], "image/jpeg")})
        assert verified.json()["decision"] == "match", verified.text
        found = client.post("/api/v1/purposes/access-control/identifications", headers=term,
                            files={"image": ("p.jpg", big[1], "image/jpeg")})
        assert found.json()["external_id"] == "emp-1", found.text
        # a form route (no images expected) sent a big file part: refused, never spooled
        login = client.post("/-/login", data={"key": "fgk_x"},
                            files={"photo": ("face.jpg", big[0], "image/jpeg")})
    assert new_lines(opened, start) == []
    assert login.status_code == 400, login.text


def test_the_enroll_and_try_pages_never_write_a_photo_to_a_file(
        server: tuple[Server, dict[str, str], Path], engine: DlibEngine, lfw: Path) -> None:
    """The operator's pages take photos as the REST routes do: in memory only (R9)."""
    running, secrets, opened = server
    op = {"Authorization": f"Bearer {secrets['operator']}"}
    (first, second), = good_faces(engine, lfw, 1, per_person=2)
    big = [padded_jpeg(first.read_bytes(), 3 * MB), padded_jpeg(second.read_bytes(), 2 * MB)]
    start = opened.stat().st_size
    with httpx.Client(base_url=running.base, timeout=120) as client:
        boxed = client.post("/enroll/faces.json", headers=op, data={"purpose": "access-control"},
                            files={"image": ("a.jpg", big[0], "image/jpeg")})
        assert boxed.status_code == 200 and len(boxed.json()["faces"]) == 1, boxed.text
        enrolled = client.post("/enroll", headers=op, data={
            "external_id": "emp-2", "name": "Page Picture", "purpose": "access-control",
            "method": "written", "evidence": "form 2", "language": "en"},
            files={"image": ("a.jpg", big[0], "image/jpeg")})
        assert enrolled.status_code == 201, enrolled.text[:300]
        tried = client.post("/try", headers={**op, "Accept": "text/html"},
                            data={"mode": "identify", "purpose": "access-control"},
                            files={"image": ("b.jpg", big[1], "image/jpeg")})
        assert tried.status_code == 200 and '"external_id": "emp-2"' in tried.text
    assert new_lines(opened, start) == []
