"""``faceguard serve --workers 2`` (issue 14): two processes on one address and one store.

Clients keep sending the benchmark's mix while a worker is killed with SIGKILL, twice: no
answer is a 5xx, every enrollment acknowledged (201) is held afterwards, the supervisor
starts a new worker each time, the record verifies, and a browser session made through one
connection is honoured by whichever worker answers the next.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from test_service_support import REPO

sys.path.insert(0, str(REPO / "bench"))
from bench_service import (  # noqa: E402
    Tally,
    Workload,
    enroll,
    hostile_images,
    killer,
    missing_enrollments,
    run_phase,
    seed_people,
    worker_pids,
)
from service_harness import lfw_people, prepare, serve, server_env  # noqa: E402


def test_two_workers_survive_kill_9_and_lose_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces: Path) -> None:
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    people = lfw_people(faces, 24)
    data = tmp_path / "data"
    secrets = prepare(data)
    with serve(data, env={"FACEGUARD_SERVICE_PAGE_SIZE": "500"},
               options=("--workers", "2", "--face-workers", "1")) as server:
        first = worker_pids(server.pid)
        assert len(first) == 2
        seeded, seeding = seed_people(server.base, secrets, people, 6)
        work = Workload(server.base, secrets, seeded, [p[0] for p in people[6:]],
                        hostile_images(people, huge=False))
        kills: list[str] = []
        killer(server.pid, 2, 16.0, kills)
        tally = run_phase(work, 6, 16.0, seed=3)
        assert len(kills) == 2, kills
        assert tally.server_errors == []
        assert tally.statuses.get("verify 200", 0) + tally.statuses.get("identify 200", 0) > 0
        deadline = time.monotonic() + 60
        while len(worker_pids(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        now = worker_pids(server.pid)
        assert len(now) == 2 and set(now) != set(first)  # restarted after each kill
        acknowledged = {**seeding.acknowledged, **tally.acknowledged}
        assert missing_enrollments(server.base, secrets, acknowledged) == []
        # A session made on one connection is honoured on fresh connections, whichever
        # worker takes them (sessions live in the store).
        login = httpx.post(server.base + "/-/login", data={"key": secrets["admin"]},
                           follow_redirects=False)
        assert login.status_code == 303
        cookie = login.cookies.get("fg_session")
        for _ in range(8):
            with httpx.Client(base_url=server.base, cookies={"fg_session": cookie}) as fresh:
                assert fresh.get("/api/v1/me").json()["via"] == "session"
    done = subprocess.run([sys.executable, "-m", "faceguard", "--data", str(data), "audit",
                           "verify", "--json"], capture_output=True, text=True,
                          env=server_env(), timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stdout + done.stderr


def test_workers_leave_when_their_supervisor_is_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    prepare(data)
    with serve(data, options=("--workers", "2", "--face-workers", "0")) as server:
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        # Clients in the middle of slow uploads: a graceful stop would wait for them forever.
        host, port = server.base.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port))) for _ in range(6)]
        for sock in slow:
            sock.sendall(b"POST /-/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n"
                         b"\r\nkey=")
        time.sleep(1.0)
        os.kill(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        left = [_state(p) for p in workers if _alive(p)]
        for sock in slow:
            sock.close()
        assert not left


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()[:300]
    except OSError:
        return "gone"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def test_two_services_on_one_store_erasure_on_one_is_never_matched_on_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces: Path) -> None:
    """Two ``faceguard serve`` processes on one store (on PostgreSQL, as on two machines):
    a person enrolled through A is identified by B; once A has answered an erasure, B's very
    next identification of them is ``unknown``."""
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    people = lfw_people(faces, 2)
    data = tmp_path / "data"
    secrets = prepare(data)
    options = ("--face-workers", "0")
    with serve(data, options=options) as a, serve(data, options=options) as b:
        work = Workload(a.base, secrets, [], [], {})
        with httpx.Client(base_url=a.base, timeout=120) as client:
            assert enroll(client, work, Tally(), "p-1", people[0][0])
        probe = {"image": ("probe.jpg", people[0][1])}
        terminal = {"Authorization": f"Bearer {secrets['terminal']}"}
        api = "/api/v1/purposes/access-control/identifications"
        seen = httpx.post(b.base + api, headers=terminal, files=probe, timeout=120).json()
        assert seen["decision"] == "match" and seen["external_id"] == "p-1"
        erased = httpx.post(a.base + "/api/v1/erasures", timeout=120,
                            headers={"Authorization": f"Bearer {secrets['admin']}"},
                            json={"external_id": "p-1", "reason": "request"})
        assert erased.status_code == 200, erased.text
        after = httpx.post(b.base + api, headers=terminal, files=probe, timeout=120).json()
        assert after["decision"] == "unknown" and after.get("external_id") is None
