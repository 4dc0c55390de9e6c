"""Shared fixtures: the real faces folder, one dlib engine per session, a fresh store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from setup_data import (  # noqa: F401  (re-exported: the tests import them from conftest)
    CN_TEST_DEPLOYMENT,
    REPO,
    TEST_DEPLOYMENT,
    approve_assessment,
    faces_dir,
    go_live,
)


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
