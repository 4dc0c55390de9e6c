"""Shared fixtures: the real faces folder, one dlib engine per session, a fresh store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from faceguard import Faceguard
from faceguard.assess import save_assessment
from faceguard.engine.dlib_engine import DlibEngine

REPO = Path(__file__).resolve().parents[1]

TEST_DEPLOYMENT = """\
[deployment]
name = "Test gate"
controller = "Test Property Co."
contact = "privacy@test.example"
packs = ["gdpr"]
place = "residential-entrance"
public_place = false
protection_level = 2
alternatives = ["resident-card"]
transmission = "local"
assessment = "assessment.toml"
minors_rules = "https://test.example/minors"
liveness = "off"

[purposes.access-control]
necessity = "Residents open the gate hands-free."
retention_days = 365

[purposes.attendance]
necessity = "Staff sign in without cards."
retention_days = 30
"""


#: The same deployment under the final Chinese Measures (fails R26 without liveness).
CN_TEST_DEPLOYMENT = TEST_DEPLOYMENT.replace('packs = ["gdpr"]', 'packs = ["cn"]')


def faces_dir() -> Path | None:
    """``$FACEGUARD_FACES`` or ``../shared/data/faces`` beside the checkout, if present."""
    env = os.environ.get("FACEGUARD_FACES")
    candidates = [Path(env)] if env else [REPO.parent / "shared" / "data" / "faces"]
    for path in candidates:
        if (path / "lfw" / "lfw").is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def faces() -> Path:
    path = faces_dir()
    if path is None:
        pytest.skip(
            "real face images not found: set FACEGUARD_FACES or place them in "
            "../shared/data/faces (tests on real faces skipped)"
        )
    return path


@pytest.fixture(scope="session")
def lfw(faces: Path) -> Path:
    return faces / "lfw" / "lfw"


@pytest.fixture(scope="session")
def engine() -> DlibEngine:
    return DlibEngine()


def approve_assessment(fg: Faceguard, by: str = "Test DPO") -> None:
    """Draft the impact assessment, write the DPO's parts, approve it (R10 / P2)."""
    path, draft = fg.governance.draft_assessment()
    filled = replace(draft, sections=tuple(
        replace(s, dpo=f"Reviewed for the test deployment: {s.title}.")
        if s.key in draft.pending else s
        for s in draft.sections
    ))
    save_assessment(path, filled)
    fg.governance.approve_assessment(by)


def go_live(folder: Path, deployment: str, engine: DlibEngine | None = None) -> None:
    """Write ``deployment`` into ``folder`` and approve its assessment."""
    (folder / "faceguard.toml").write_text(deployment, encoding="utf-8")
    with Faceguard.open(folder, engine=engine) as fg:
        approve_assessment(fg)


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: DlibEngine) -> Path:
    """A fresh data directory whose deployment passes its check (approved assessment)."""
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    folder = tmp_path / "data"
    Faceguard.init(folder)
    go_live(folder, TEST_DEPLOYMENT, engine)
    return folder


@pytest.fixture()
def fg(data_dir: Path, engine: DlibEngine) -> Iterator[Faceguard]:
    """A fresh Faceguard with notices published for both test purposes."""
    instance = Faceguard.open(data_dir, engine=engine)
    instance.consent.publish_notice("access-control")
    instance.consent.publish_notice("attendance")
    yield instance
    instance.close()


def people_with(lfw: Path, minimum: int, count: int) -> list[Path]:
    """``count`` LFW people folders with at least ``minimum`` images, spread over the list."""
    folders = sorted(p for p in lfw.iterdir() if len(list(p.glob("*.jpg"))) >= minimum)
    step = max(len(folders) // count, 1)
    return folders[::step][:count]


def images_of(person: Path) -> list[Path]:
    return sorted(person.glob("*.jpg"))


def covered_fraction(box: tuple[int, int, int, int], covered: list[list[int]]) -> float:
    """The share of ``box`` (left, top, right, bottom) that the ``covered`` regions (same
    order) cover, between 0 and 1 (redaction tests)."""
    mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=bool)
    for left, top, right, bottom in covered:
        mask[max(top - box[1], 0):max(bottom - box[1], 0),
             max(left - box[0], 0):max(right - box[0], 0)] = True
    return float(mask.mean())
