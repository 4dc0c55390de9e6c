"""A running ``faceguard serve --workers 2`` takes up changes to ``faceguard.toml`` and the
assessment without a restart (issue 15), and says so where it cannot.

One real server (two worker processes on one socket, one face worker each) on a data
directory made like the benchmark's: an identification is allowed; the file is edited (a new
name, a shorter retention), and the next request is refused for reassessment (R10/P2),
which shows the running service read the edit; the assessment is approved again (as
``faceguard assess --approve`` does, in another process) and the next identifications are
allowed, on every worker (each records the reload in the processing record, with its process
ID). A broken edit keeps the deployment in force: identifications are still allowed and
``/-/health`` and every page name the problem; an edit of the protection level says a restart is
needed. A logged-in browser sees its holder and "Log out" on a public page, not "Log in".
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from conftest import approve_assessment
from faceguard import Faceguard
from test_service_support import REPO

sys.path.insert(0, str(REPO / "bench"))
from bench_service import worker_pids  # noqa: E402
from service_harness import lfw_people, prepare, serve  # noqa: E402

API = "/api/v1/purposes/access-control/identifications"


def _reloads(base: str, auditor: str) -> list[dict[str, object]]:
    rows = httpx.get(base + "/record.json", headers={"Authorization": f"Bearer {auditor}"},
                     timeout=30).json()["events"]
    return [r for r in rows if r["operation"] == "deployment.reloaded"]


def test_edits_and_approval_take_effect_in_every_worker_without_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces: Path) -> None:
    for name in ("FACEGUARD_MASTER_KEY", "FACEGUARD_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    photo = lfw_people(faces, 1, 1)[0][0]
    data = tmp_path / "data"
    secrets = prepare(data)
    terminal = {"Authorization": f"Bearer {secrets['terminal']}"}
    config = data / "faceguard.toml"
    original = config.read_text(encoding="utf-8")
    # a new name, and a change a reassessment depends on (retention: R10)
    edited = (original.replace('name = "Test gate"', 'name = "North gate"')
              .replace("retention_days = 365", "retention_days = 180"))
    assert edited.count("North gate") == 1 and "retention_days = 180" in edited

    with serve(data, options=("--workers", "2", "--face-workers", "1")) as server:
        def identify() -> httpx.Response:
            return httpx.post(server.base + API, headers=terminal,
                              files={"image": ("face.jpg", photo)}, timeout=60)

        def health() -> dict[str, object]:
            body: dict[str, object] = httpx.get(server.base + "/-/health", timeout=30).json()
            return body

        assert len(worker_pids(server.pid)) == 2
        first = identify()
        assert first.status_code == 200, first.text
        assert health()["config"] == "current"

        # 1. An edit is read by the running service: its assessment no longer matches (R10).
        config.write_text(edited, encoding="utf-8")
        refused = identify()
        assert refused.status_code == 403, refused.text
        # (the gdpr pack's rule of the assessment is P2, the cn packs' R10)
        assert refused.json()["rule"] in ("R10", "P2"), refused.json()
        assert "reassessment" in refused.json()["detail"]

        # 2. The DPO approves the assessment again, in another process: allowed at once,
        # without a restart, by whichever worker answers.
        with Faceguard.open(data) as fg:
            approve_assessment(fg, "Second DPO")
        new_digest = None
        deadline = time.monotonic() + 90
        pids: set[object] = set()
        with ThreadPoolExecutor(4) as pool:
            while len(pids) < 2 and time.monotonic() < deadline:
                answers = list(pool.map(lambda _: identify(), range(4)))
                assert [a.status_code for a in answers] == [200] * 4, answers[0].text
                taken = [r for r in _reloads(server.base, secrets["auditor"])
                         if r["outcome"] == "ok"]
                pids = {r["detail"]["process"] for r in taken}  # type: ignore[index]
                new_digest = {r["detail"]["sha256"] for r in taken}  # type: ignore[index]
        assert pids == set(worker_pids(server.pid)), "not every worker took the edit up"
        assert len(new_digest or ()) == 1
        state = health()
        assert state["config"] == "current" and state["deployment_live"] is True
        page = httpx.get(server.base + "/-/docs", timeout=30)
        assert "North gate" in page.text

        # 3. A broken edit: the deployment in force stays, and says why, everywhere.
        config.write_text(edited.replace("protection_level = 2", "protection_level = 9"),
                          encoding="utf-8")
        for _ in range(4):  # whichever worker answers
            state = health()
            assert state["config"] == "invalid", state
            assert "protection_level" in str(state["config_problem"]), state
            assert state["deployment_live"] is True
            page = httpx.get(server.base + "/-/docs", timeout=30)
            assert "is not valid" in page.text and "protection_level" in page.text
        still = identify()
        assert still.status_code == 200, still.text

        # 4. What only a start can apply: the protection level (the keys and second factor
        # it requires are checked at start). Restart needed, named as such.
        config.write_text(edited.replace("protection_level = 2", "protection_level = 3"),
                          encoding="utf-8")
        state = health()
        assert state["config"] == "restart-needed", state
        assert "protection_level" in str(state["config_problem"])
        page = httpx.get(server.base + "/-/docs", timeout=30)
        assert "Restart needed" in page.text and "protection_level" in page.text
        assert identify().status_code == 200

        # 5. Put back as it was in force: current again, nothing else changed.
        config.write_text(edited, encoding="utf-8")
        assert health()["config"] == "current"

        # 6. A public page shows who is logged in, not "Log in".
        login = httpx.post(server.base + "/-/login", data={"key": secrets["admin"]},
                           follow_redirects=False, timeout=30)
        assert login.status_code == 303
        cookie = login.cookies.get("fg_session")
        docs = httpx.get(server.base + "/-/docs", cookies={"fg_session": cookie}, timeout=30)
        assert "admin holder" in docs.text and "Log out" in docs.text
        assert ">Log in<" not in docs.text
        anonymous = httpx.get(server.base + "/-/docs", timeout=30)
        assert ">Log in<" in anonymous.text and "Log out" not in anonymous.text
