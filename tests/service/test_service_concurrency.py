"""The service stays up under concurrent clients and hostile images (issue 12): a short run
of ``bench/bench_service.py`` against a real ``faceguard serve`` process.

Eight clients for about ten seconds send the benchmark's mix (verify, identify, consent and
enroll, one request in eight with a tiny or broken image): no answer may be a 5xx, no
connection may drop, and every enrollment answered 201 must be held afterwards with its
templates. The huge images are left to the benchmark (their memory is its measurement).
"""

from __future__ import annotations

import sys
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
