"""Helpers shared by the service tests (plain functions; no tests here).

Each test builds its own app around the ``fg`` fixture's fresh store (tests/conftest.py),
with one API key per role made through the key store.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from conftest import TEST_DEPLOYMENT, go_live
from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.imaging import ImageLimits
from faceguard.engine.pipeline import extract
from faceguard.engine.quality import ENROLL_GATE
from faceguard.engine.types import FaceEngine
from faceguard.errors import FaceguardError
from faceguard.liveness import Frame
from faceguard.service import ServiceSettings, create_app

ROLES = ("admin", "operator", "terminal", "auditor")
#: The test deployment, with liveness required (R26) as the cn packs require it.
LIVE_DEPLOYMENT = TEST_DEPLOYMENT.replace('liveness = "off"', 'liveness = "required"')
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


@dataclass
class Service:
    fg: Faceguard
    app: FastAPI
    client: TestClient
    secrets: dict[str, str]

    def auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"} if role else {}


def make_service(fg: Faceguard, settings: ServiceSettings | None = None,
                 terminal_purposes: tuple[str, ...] = ("access-control", "attendance"),
                 ) -> Service:
    """An app over ``fg`` and one key per role (the terminal serves ``terminal_purposes``)."""
    app = create_app(fg, settings or ServiceSettings())
    store = app.state.service.keys
    secrets = {
        role: store.create(role, f"{role} holder",
                           list(terminal_purposes) if role == "terminal" else [],
                           actor="test").secret
        for role in ROLES
    }
    return Service(fg, app, TestClient(app), secrets)


def live_faceguard(folder: Path, engine: DlibEngine) -> Faceguard:
    """A fresh, approved data directory in ``folder`` whose deployment requires liveness,
    opened, with the notices of both purposes published; its challenges ask for head turns
    (which UMIST shows) on a clock that lets answers take their time (``answerable_store``)."""
    from liveness.test_liveness_support import answerable_store

    Faceguard.init(folder)
    go_live(folder, LIVE_DEPLOYMENT, engine)
    fg = Faceguard.open(folder, engine=engine)
    fg.liveness.configure().detector.challenges = answerable_store()
    fg.consent.publish_notice("access-control")
    fg.consent.publish_notice("attendance")
    return fg


def good_faces(engine: FaceEngine, lfw: Path, count: int, per_person: int = 2
               ) -> list[list[Path]]:
    """``count`` LFW people with ``per_person`` images that each enroll cleanly (one face
    passing the enrollment gate), so tests do not depend on a lucky pick."""
    found: list[list[Path]] = []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        images = sorted(person.glob("*.jpg"))
        if len(images) < per_person:
            continue
        usable = []
        for image in images:
            try:
                extract(engine, image.read_bytes(), single_face=True, gate=ENROLL_GATE,
                        limits=ImageLimits())
            except FaceguardError:
                continue
            usable.append(image)
            if len(usable) == per_person:
                break
        if len(usable) == per_person:
            found.append(usable)
            if len(found) == count:
                return found
    raise AssertionError("not enough usable LFW people")


def _y4m_frame(canvas: Image.Image) -> bytes:
    width, height = canvas.size
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    return b"FRAME\n" + y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()


def write_y4m(image: Path, out: Path, *, width: int = 640, height: int = 480,
              frames: int = 20) -> Path:
    """A Y4M video (4:2:0) of ``image`` centred on grey, for Chromium's fake camera."""
    picture = Image.open(image).convert("RGB")
    scale = height * 0.95 / picture.height
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    out.write_bytes(header + _y4m_frame(canvas) * frames)
    return out


def write_y4m_frames(frames: Iterable[np.ndarray], out: Path, *, size: tuple[int, int],
                     fps: int = 15) -> Path:
    """A Y4M video of RGB ``frames``, each centred on grey in a ``size`` (width, height)
    picture, played at ``fps``. Chromium's fake camera reads the file again each time a page
    opens the camera and plays it from its first frame, in real time, looping at the end."""
    width, height = size
    with out.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            picture = Image.fromarray(rgb)
            canvas = Image.new("RGB", size, (128, 128, 128))
            canvas.paste(picture, ((width - picture.width) // 2,
                                   (height - picture.height) // 2))
            video.write(_y4m_frame(canvas))
    return out


def wire_frames(frames: Iterable[Frame]) -> list[dict[str, object]]:
    """Frames as a terminal sends them over HTTP: capture time and base64 JPEG."""
    return [{"t_ms": f.captured_at_ms, "jpeg": base64.b64encode(f.data).decode()}
            for f in frames]


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with Uvicorn on a free local port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           ws="none", http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
