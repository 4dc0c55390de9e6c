"""A real ``faceguard serve`` on a fresh data directory, and the images sent to it.

Shared by ``bench_service.py`` and the service tests that need a real server process
(``tests/service/test_service_concurrency.py``, ``tests/service/test_service_no_disk.py``),
so the benchmark and its short test version run the very same set-up:

- ``prepare(folder)``: ``Faceguard.init``, a deployment that may go live at once (the
  ``gdpr`` pack, liveness off, an approved impact assessment), the notices of both purposes
  published, and one API key per role (the terminal serving both purposes);
- ``serve(folder)``: ``python -m faceguard --data FOLDER serve --port N`` as a subprocess on
  the loopback address, waited for until ``/-/health`` answers, stopped with SIGTERM; an
  optional ``prelude`` (Python run before the CLI, e.g. an audit hook) instruments it;
- ``peak_rss_bytes(pid)``: the process's peak resident set (``VmHWM``) from ``/proc``;
  ``tree_peak_rss_bytes(pid)`` adds those of the processes below it (the face workers);
- hostile images: tiny, huge, truncated, random, and a real face padded large.
"""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))  # the test deployment, one source with the tests

from faceguard import Faceguard  # noqa: E402
from setup_data import PURPOSES, faces_dir, go_live  # noqa: E402, F401

#: Variables that would make the server use another master key than the folder's own.
MASTER_KEY_VARIABLES = ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE")


def prepare(folder: Path) -> dict[str, str]:
    """A data directory ready for enroll, verify and identify; the secret of each role's key.

    The caller's environment must not name another master key (``MASTER_KEY_VARIABLES``)."""
    Faceguard.init(folder)
    go_live(folder, by="Benchmark DPO")
    with Faceguard.open(folder) as fg:
        for purpose in PURPOSES:
            fg.consent.publish_notice(purpose)
        keys = fg.api_keys
        return {role: keys.create(role, f"{role} holder",
                                  list(PURPOSES) if role == "terminal" else [],
                                  actor="bench").secret
                for role in ("admin", "operator", "terminal", "auditor")}


@dataclass
class Server:
    """A running ``faceguard serve``: its base URL, process and log file."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MASTER_KEY_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


@contextmanager
def serve(folder: Path, *, prelude: str = "", env: dict[str, str] | None = None,
          log: Path | None = None, start_timeout: float = 120.0,
          options: tuple[str, ...] = ()) -> Iterator[Server]:
    """``faceguard --data FOLDER serve [OPTIONS]`` on a free loopback port until the block
    ends."""
    port = free_port()
    log = log or folder.parent / f"serve-{port}.log"
    runner = "import runpy; runpy.run_module('faceguard', run_name='__main__')"
    command = [sys.executable, "-c", f"{prelude}\n{runner}", "--data", str(folder), "serve",
               "--host", "127.0.0.1", "--port", str(port), *options]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=server_env(env))
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"faceguard serve exited ({process.returncode}):\n"
                                   + server.log_tail())
            try:
                if httpx.get(server.base + "/-/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("faceguard serve did not answer in time:\n"
                                   + server.log_tail())
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def peak_rss_bytes(pid: int) -> int | None:
    """The peak resident set of a live process (``VmHWM``), or ``None`` off Linux."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def tree_peak_rss_bytes(pid: int) -> tuple[int, int] | None:
    """The sum of the peak resident sets of ``pid`` and every process below it (the face
    workers): an upper bound of the service's peak, since each peaked on its own; and how
    many processes that sums. ``None`` off Linux."""
    total, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        peak = peak_rss_bytes(current)
        if peak is None:
            continue
        total, count = total + peak, count + 1
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return (total, count) if count else None


# ---- images -----------------------------------------------------------------------------


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def padded_jpeg(data: bytes, size: int) -> bytes:
    """A valid JPEG of the same picture grown to at least ``size`` bytes with comment (COM)
    segments after the start marker, as cameras fill files with metadata."""
    assert data[:2] == b"\xff\xd8"
    chunk = 65533
    segments = bytearray()
    filler = random.Random(len(data)).randbytes(chunk)
    while len(data) + len(segments) < size:
        segments += b"\xff\xfe" + (chunk + 2).to_bytes(2, "big") + filler
    return data[:2] + bytes(segments) + data[2:]


def tiny_images() -> dict[str, bytes]:
    """A 2x200 grey JPEG and a 1x1 PNG."""
    png = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(png, "PNG")
    return {"tiny-jpeg": jpeg(Image.new("L", (2, 200), 128)), "tiny-png": png.getvalue()}


def huge_images() -> dict[str, bytes]:
    """A 16-bit grey PNG of 11999x3333 pixels (just under the pixel limits, so it is
    decoded) and a small JPEG whose header declares 30000x30000 pixels."""
    png = io.BytesIO()
    Image.new("I;16", (11999, 3333), 3000).save(png, "PNG")
    small = bytearray(jpeg(Image.new("RGB", (16, 16), (90, 90, 90))))
    sof = small.find(b"\xff\xc0")
    small[sof + 5:sof + 9] = (30000).to_bytes(2, "big") * 2  # height, width
    return {"huge-png16": png.getvalue(), "huge-declared-jpeg": bytes(small)}


def broken_images(face: bytes, seed: int = 7) -> dict[str, bytes]:
    """A truncated face JPEG, random bytes, and random bytes behind a JPEG signature."""
    rng = random.Random(seed)
    return {"truncated-jpeg": face[:len(face) // 3], "random-bytes": rng.randbytes(4000),
            "random-jpeg-signature": b"\xff\xd8\xff\xe0" + rng.randbytes(4000)}


def lfw_people(faces: Path, count: int, per_person: int = 2) -> list[list[bytes]]:
    """``count`` LFW people with at least ``per_person`` pictures, spread over the list."""
    folders = sorted(p for p in (faces / "lfw" / "lfw").iterdir()
                     if p.is_dir() and len(list(p.glob("*.jpg"))) >= per_person)
    step = max(len(folders) // count, 1)
    return [[path.read_bytes() for path in sorted(folder.glob("*.jpg"))[:per_person]]
            for folder in folders[::step][:count]]


@contextmanager
def fresh_database(server: str | None, label: str) -> Iterator[str | None]:
    """The URL of a new PostgreSQL database made on ``server`` for one benchmark run and
    dropped after it (``None`` without a server: the run stays on SQLite)."""
    if not server:
        yield None
        return
    import psycopg

    base = "postgresql://" + server.split("://", 1)[1].rstrip("/")
    name = f"fgbench_{label}_{os.getpid()}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
