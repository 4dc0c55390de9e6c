"""Shared fixtures: the real faces folder, one dlib engine per session, a fresh store per test.

Every test that makes a store of its own (it uses ``tmp_path``, ``data_dir`` or ``fg``) runs
twice: on the embedded SQLite file and on a fresh PostgreSQL database of its own (made from a
migrated template database, dropped afterwards) named by ``FACEGUARD_DATABASE_URL`` for the
test and every process it starts. The server is ``$FACEGUARD_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432``); ``FACEGUARD_TEST_BACKENDS=sqlite`` runs SQLite only.
Where the server cannot be reached the PostgreSQL runs skip, saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import pgtest
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

BACKENDS = os.environ.get("FACEGUARD_TEST_BACKENDS", "sqlite,postgresql").split(",")
#: Fixtures that make a store per test: their tests run on every backend.
_PER_TEST_STORE = {"tmp_path", "data_dir", "fg"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("backend" in metafunc.fixturenames and _PER_TEST_STORE & set(metafunc.fixturenames)
            and not metafunc.definition.get_closest_marker("sqlite_only")):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[pgtest.Server | None]:
    """A migrated template database on the test server (``None`` if it cannot be reached)."""
    server = pgtest.Server.reach()
    if server is None:
        yield None
        return
    server.make_template()
    try:
        yield server
    finally:
        server.drop_template()


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The record store of this test: ``sqlite`` (the data directory's file) or
    ``postgresql`` (a database of its own, in ``FACEGUARD_DATABASE_URL``)."""
    name = getattr(request, "param", "sqlite")
    if name != "postgresql":
        monkeypatch.delenv("FACEGUARD_DATABASE_URL", raising=False)
        yield name
        return
    server = request.getfixturevalue("postgres_template")
    if server is None:
        pytest.skip(f"PostgreSQL not reachable at {pgtest.SERVER}: start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    url = server.fresh_database()
    monkeypatch.setenv("FACEGUARD_DATABASE_URL", url)
    try:
        yield name
    finally:
        server.drop(url)



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
