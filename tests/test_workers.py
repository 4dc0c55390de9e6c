"""Face extraction in worker processes (``Faceguard.use_worker_processes``, what
``faceguard serve`` does): same decisions as in-process, and a worker killed by native code
costs one request an ``ImageError``, not the service."""

from __future__ import annotations

import ctypes
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import images_of, people_with
from faceguard import Faceguard, ImageError, ImageTooSmall
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.types import Face

#: The width of a picture on which CrashingEngine dies the way a native bug would.
POISON_WIDTH = 333


class CrashingEngine(DlibEngine):
    """dlib, except that a picture exactly POISON_WIDTH wide kills the process (SIGSEGV),
    standing in for an input that trips a bug in native code."""

    def detect(self, rgb: np.ndarray) -> list[Face]:
        if rgb.shape[1] == POISON_WIDTH:
            ctypes.string_at(0)  # reads address 0: the process dies
        return super().detect(rgb)

    detect_largest = detect


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 110, 100)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture()
def two(fg: Faceguard, lfw: Path) -> list[tuple[str, bytes, bytes]]:
    people = []
    for folder in people_with(lfw, 3, 40)[:3]:
        files = [f.read_bytes() for f in images_of(folder)]
        fg.consent.grant(folder.name, "access-control", name=folder.name, method="click",
                         evidence="e")
        people.append((folder.name, files[0], files[1]))
    return people


def test_worker_processes_give_the_decisions_of_the_service_process(
    fg: Faceguard, two: list[tuple[str, bytes, bytes]]
) -> None:
    local = []
    for name, first, _ in two:
        fg.enroll(name, [first], "access-control")
    for name, _, probe in two:
        local.append((fg.verify(name, probe, "access-control").decision,
                      fg.identify(probe, "access-control").external_id))
    fg.use_worker_processes(2)
    assert fg._core.extractor is not None and fg._core.extractor.workers == 2
    pooled = [(fg.verify(name, probe, "access-control").decision,
               fg.identify(probe, "access-control").external_id) for name, _, probe in two]
    assert pooled == local
    assert sum(d == "match" for d, _ in local) >= 2
    with pytest.raises(ImageTooSmall):  # errors cross the process boundary unchanged
        fg.verify(two[0][0], _jpeg(200, 2), "access-control")


def test_a_worker_killed_by_an_image_costs_one_request_not_the_service(
    data_dir: Path, lfw: Path
) -> None:
    with Faceguard.open(data_dir, engine=CrashingEngine()) as fg:
        fg.consent.publish_notice("access-control")
        folder = people_with(lfw, 3, 40)[0]
        files = [f.read_bytes() for f in images_of(folder)]
        fg.consent.grant(folder.name, "access-control", name="x", method="click",
                         evidence="e")
        fg.use_worker_processes(1)
        fg.enroll(folder.name, [files[0]], "access-control")
        with pytest.raises(ImageError, match="stopped on it"):
            fg.verify(folder.name, _jpeg(POISON_WIDTH, 200), "access-control")
        # the pool was rebuilt: the next request is answered as usual
        assert fg.verify(folder.name, files[1], "access-control").decision == "match"
        last = fg._store.audit.events(operation="face.verified", newest_first=True, limit=2)
        assert [e.outcome for e in last] == ["match", "rejected"]


_PARENT = """
import sys, time
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.workers import ExtractionPool
pool = ExtractionPool(DlibEngine(), 2)
pool.engine_id()  # the workers are up
print("ready", flush=True)
time.sleep(120)
"""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(t) for t in text)
    return found


def test_workers_leave_when_their_parent_is_killed(faces: Path) -> None:
    """``kill -9`` of the service must not leave its face workers running forever."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        workers = {p for p in _children(parent.pid)
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()}
        assert workers  # started on demand: one at least
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_running(p) for p in workers):
        time.sleep(0.2)
    assert [p for p in workers if _running(p)] == []


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
