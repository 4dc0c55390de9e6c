"""The service stays up under concurrent clients and hostile images (issue 12): a short run
of ``bench/bench_service.py`` against a real ``faceguard serve`` process.

Eight clients for about ten seconds send the benchmark's mix (verify, identify, consent and
enroll, one request in eight with a tiny or broken image): no answer may be a 5xx, no
connection may drop, and every enrollment answered 201 must be held afterwards with its
templates. The huge images are left to the benchmark (their memory is its measurement).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from test_service_support import REPO

sys.path.insert(0, str(REPO / "bench"))
from bench_service import (  # noqa: E402
    Workload,
    hostile_images,
    missing_enrollments,
    run_phase,
    seed_people,
)
from service_harness import lfw_people, prepare, serve  # noqa: E402

CLIENTS = 8
SECONDS = 10.0


def test_concurrent_clients_with_hostile_images_get_no_5xx_and_lose_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces: Path) -> None:
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    people = lfw_people(faces, 30)
    secrets = prepare(tmp_path / "data")
    with serve(tmp_path / "data", env={"FACEGUARD_SERVICE_PAGE_SIZE": "500"}) as server:
        seeded, seeding = seed_people(server.base, secrets, people, 8)
        work = Workload(server.base, secrets, seeded, [p[0] for p in people[8:]],
                        hostile_images(people, huge=False))
        tally = run_phase(work, CLIENTS, SECONDS)
        summary = tally.summary()
        if server.process.poll() is not None:
            pytest.fail(f"the server process died ({server.process.returncode}) under "
                        f"{CLIENTS} clients: {summary}\n{server.log_tail()}")
        acknowledged = {**seeding.acknowledged, **tally.acknowledged}
        missing = missing_enrollments(server.base, secrets, acknowledged)
        log = server.log_tail()
    assert tally.server_errors == [], (summary, log)
    assert tally.dropped == [], (summary, log)
    assert missing == []
    # the run did real work: enrollments, matches, and hostile images refused as such
    statuses = tally.statuses
    assert len(tally.acknowledged) > 0 and statuses["verify 200"] > 0, summary
    assert statuses["identify 200"] > 0, summary
    hostile = [kind for kind in statuses if kind.count(" ") == 2]  # "verify tiny-png 422"
    assert hostile and all(kind.endswith((" 415", " 422")) for kind in hostile), summary


def test_a_client_that_stops_sending_its_body_gets_408_and_holds_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow-body clients (a byte now and then, or nothing after the headers) are answered 408
    with a problem once the body pauses for the idle limit, and their connections closed,
    while the service keeps answering others."""
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    secrets = prepare(tmp_path / "data")
    with serve(tmp_path / "data", env={"FACEGUARD_SERVICE_BODY_IDLE_SECONDS": "2"}) as server:
        host, port = server.base.removeprefix("http://").split(":")
        stalled = []
        for path, kind in (("/-/login", "application/x-www-form-urlencoded"),
                           ("/api/v1/purposes/access-control/identifications", "image/jpeg")):
            sock = socket.create_connection((host, int(port)), timeout=20)
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n"
                         f"Authorization: Bearer {secrets['terminal']}\r\n"
                         f"Content-Length: 50000\r\n\r\nkey=".encode())
            stalled.append(sock)
        started = time.monotonic()
        answers = []
        for sock in stalled:
            received = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                received += chunk
            answers.append(received)
            sock.close()
        waited = time.monotonic() - started
        alive = socket.create_connection((host, int(port)), timeout=20)
        alive.sendall(b"GET /-/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        health = alive.recv(65536)
        alive.close()
    assert 1.5 <= waited <= 15, waited
    for received in answers:
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), received[:200]
        problem = json.loads(body)
        assert problem["type"].endswith("#timeout") and "2 seconds" in problem["detail"]
    assert health.startswith(b"HTTP/1.1 200")
