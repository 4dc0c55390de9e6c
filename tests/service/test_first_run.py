"""A newcomer's first minutes: `faceguard serve --dev` in an empty folder, the commands it
prints run exactly as printed, a photo enrolled and matched over REST, then the pages in
Debian's Chromium showing the trial, and the same in the pages: a person enrolled from a
photo on the enroll page and matched on the try page. The server is the real command in its
own process; screenshots go to test-artifacts/first-run/."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faceguard.engine.dlib_engine import DlibEngine
from test_service_support import ARTIFACTS, good_faces

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ARTIFACTS / "first-run"
FACEGUARD = Path(sys.executable).parent / "faceguard"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Started:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(FACEGUARD), "serve", "--dev", "--port", str(port), "--face-workers", "0"],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={k: v for k, v in os.environ.items() if k != "FACEGUARD_DATA"})
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if "Uvicorn running" in line:
                # keep reading, so that the server's log never fills the pipe
                self.reader = threading.Thread(target=self._drain, daemon=True)
                self.reader.start()
                return
        raise AssertionError("serve --dev did not start:\n" + "\n".join(self.lines))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _line in self.proc.stdout:
            pass

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def key(self, role: str) -> str:
        found = re.search(rf"^  {role}\s+(fgk_\S+)", self.text, re.M)
        assert found, f"no {role} key printed:\n{self.text}"
        return found.group(1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory, lfw: Path, engine: DlibEngine
            ) -> Iterator[Started]:
    if not FACEGUARD.exists():
        pytest.skip(f"{FACEGUARD} is not installed (pip install -e .)")
    folder = tmp_path_factory.mktemp("empty")
    assert not any(folder.iterdir())
    running = Started(folder, _free_port())
    photo = good_faces(engine, lfw, 1)[0]
    shutil.copy(photo[0], folder / "photo.jpg")
    yield running
    running.stop()


def test_printed_commands_reach_a_first_match(started: Started) -> None:
    out = started.text
    assert "TRIAL deployment" in out and "deployment check: PASS (TRIAL)" in out
    assert f"Data: {started.folder / 'faceguard-data'}" in out
    for rule in ("R10", "R26", "R3", "R14"):
        assert re.search(rf"^  {rule}\s+\S", out, re.M), rule
    commands = [line.strip() for line in started.lines if line.startswith("  curl ")]
    assert len(commands) == 3
    answers = [subprocess.run(c, shell=True, cwd=started.folder, capture_output=True,
                              text=True, timeout=120, check=True).stdout for c in commands]
    assert '"consent_id"' in answers[0]
    assert '"template_ids":["t_' in answers[1]
    assert '"decision":"match"' in answers[2] and '"external_id":"me"' in answers[2]


def test_check_says_trial_and_why(started: Started) -> None:
    run = subprocess.run([str(FACEGUARD), "check"], cwd=started.folder, capture_output=True,
                         text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "FACEGUARD_DATA"})
    assert run.returncode == 0, run.stdout + run.stderr
    first = run.stdout.splitlines()[0]
    assert first == "PASS: faceguard trial (TRIAL deployment: not for real people)"
    assert "WARN   R26  TRIAL deployment, not lawful in production under cn" in run.stdout
    # global options after the command, and --json before it
    late = subprocess.run([str(FACEGUARD), "--json", "check", "--data", "faceguard-data"],
                          cwd=started.folder, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "FACEGUARD_DATA"})
    assert late.returncode == 0 and '"status": "pass"' in late.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at "
                    "/usr/bin/chromium (apt-get install -y chromium)")
def test_pages_show_the_trial_and_the_person(started: Started) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as running:
        browser = running.chromium.launch(executable_path=str(CHROMIUM),
                                          args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(f"{started.url}/-/login?next=/dashboard")
        page.fill("#key", started.key("admin"))
        page.click("button[type=submit]")
        page.wait_for_url(f"{started.url}/dashboard")
        banner = page.locator(".devbanner.trial")
        assert "TRIAL deployment" in banner.inner_text()
        assert "R26" in banner.inner_text()
        page.screenshot(path=str(SHOTS / "dashboard-trial.png"), full_page=True)
        report = page.request.get(f"{started.url}/api/v1/reports/assessment?format=html")
        assert report.ok and "TRIAL deployment (faceguard serve --dev)" in report.text()
        browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at "
                    "/usr/bin/chromium (apt-get install -y chromium)")
def test_then_the_same_in_the_pages(started: Started, lfw: Path, engine: DlibEngine) -> None:
    """An operator enrolls another person from a photo on /enroll, with no file edited, and
    /try identifies them on another photo: ``match``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    person = good_faces(engine, lfw, 2)[1]
    with sync_api.sync_playwright() as running:
        browser = running.chromium.launch(executable_path=str(CHROMIUM),
                                          args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.goto(f"{started.url}/-/login?next=/enroll")
        page.fill("#key", started.key("operator"))
        page.click("button[type=submit]")
        page.wait_for_url(f"{started.url}/enroll")
        assert "TRIAL deployment" in page.inner_text(".devbanner.trial")
        page.fill("#external_id", "pages-person")
        page.fill("#name", "Pages Person")
        page.fill("#evidence", "trial: typed by the operator")
        page.set_input_files("#image", str(person[0]))
        page.wait_for_selector("#photo-1 .box")
        page.click("#enroll-button")
        page.wait_for_selector("#enrolled", timeout=60_000)
        page.screenshot(path=str(SHOTS / "pages-enrolled.png"), full_page=True)
        page.click("text=Try it on another picture")
        page.wait_for_url(f"{started.url}/try")
        page.set_input_files("#image", str(person[1]))
        page.click("#try-button")
        page.wait_for_selector("#verdict", timeout=60_000)
        answer = json.loads(page.inner_text("#answer-json"))
        page.screenshot(path=str(SHOTS / "pages-try-match.png"), full_page=True)
        browser.close()
    assert (answer["decision"], answer["external_id"]) == ("match", "pages-person")
