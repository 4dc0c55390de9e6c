"""Many threads on one ``Faceguard``: no crash, and the same decisions as one thread.

Two threads sharing one dlib detector used to corrupt its heap (glibc aborted the process)
or each other's results (a no-match answered as a match). The engine now lends each call a
set of models of its own; these tests run enroll, verify and identify from 16 threads at once
on real faces, with hostile images among them, and compare every answer with the answer one
thread gives.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import images_of, people_with
from faceguard import Faceguard, FaceguardError
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.pool import ModelPool

THREADS = 16


def _jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG")
    return out.getvalue()


def _answer(call: Callable[[], object]) -> str:
    """A decision, or the error's type and rule (refusals are answers too)."""
    try:
        result = call()
    except FaceguardError as exc:
        return f"{type(exc).__name__}:{exc.rule}"
    return f"{getattr(result, 'decision', 'enrolled')}:{getattr(result, 'external_id', '')}"


@pytest.fixture()
def crowd(fg: Faceguard, lfw: Path
          ) -> tuple[list[tuple[str, bytes]], list[bytes], dict[str, tuple[bytes, bytes]]]:
    """8 members enrolled for access-control (one photo), their other photos as probes,
    4 strangers' photos, hostile images, and people with consent but not yet enrolled (a
    photo that passes the enrollment gate and one to identify them by)."""
    folders = people_with(lfw, 3, 24)
    members = folders[:8]
    probes: list[tuple[str, bytes]] = []
    for folder in members:
        files = images_of(folder)
        fg.consent.grant(folder.name, "access-control", name=folder.name, method="click",
                         evidence="e")
        fg.enroll(folder.name, [files[0].read_bytes()], "access-control")
        probes += [(folder.name, f.read_bytes()) for f in files[1:3]]
    strangers = [images_of(folder)[0].read_bytes() for folder in folders[8:12]]
    hostile = [_jpeg(np.full((200, 2, 3), 128, np.uint8)),  # 2 px wide: killed a server
               _jpeg(np.full((6, 6, 3), 90, np.uint8)),
               b"\xff\xd8\xff\xe0 truncated jpeg", b"not an image at all"]
    waiting: dict[str, tuple[bytes, bytes]] = {}
    for folder in folders[12:]:
        files = [f.read_bytes() for f in images_of(folder)]
        if _answer(lambda f=files[0]: fg._extract(f, enroll=True)) == "enrolled:":
            fg.consent.grant(folder.name, "attendance", name=folder.name, method="click",
                             evidence="e")
            waiting[folder.name] = (files[0], files[1])
    assert len(waiting) >= 6
    return probes, strangers + hostile, waiting


def test_sixteen_threads_give_the_decisions_of_one(
    fg: Faceguard, lfw: Path,
    crowd: tuple[list[tuple[str, bytes]], list[bytes], dict[str, tuple[bytes, bytes]]],
) -> None:
    probes, others, waiting = crowd
    purpose = "access-control"
    claimed = [p[0] for p in probes]
    work: list[tuple[str, Callable[[], object]]] = []
    for i, (person, image) in enumerate(probes):
        impostor = claimed[(i + 2) % len(claimed)]
        work.append((f"verify {i} genuine", lambda p=person, im=image: fg.verify(p, im, purpose)))
        work.append((f"verify {i} impostor",
                     lambda p=impostor, im=image: fg.verify(p, im, purpose)))
        work.append((f"identify {i}", lambda im=image: fg.identify(im, purpose)))
    for j, image in enumerate(others):
        work.append((f"identify other {j}", lambda im=image: fg.identify(im, purpose)))
        work.append((f"verify other {j}",
                     lambda im=image: fg.verify(claimed[0], im, purpose)))
    expected = {name: _answer(call) for name, call in work}
    assert sum(a.startswith("match") for a in expected.values()) >= 20, expected
    assert any(a.startswith("ImageTooSmall") for a in expected.values()), expected
    assert any(a.startswith("ImageDecodeError") for a in expected.values()), expected

    # the same work from 16 threads at once, shuffled, with enrollments for another purpose
    # (whose gallery the decisions above do not search) running among it
    def enroll(name: str) -> Callable[[], object]:
        return lambda: fg.enroll(name, [waiting[name][0]], "attendance")

    jobs = work * 2 + [(f"enroll {n}", enroll(n)) for n in waiting]
    random.Random(7).shuffle(jobs)
    events_before = len(fg._store.audit.events())
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda job: (job[0], _answer(job[1])), jobs))
    differing = [(name, got, expected[name]) for name, got in answers
                 if not name.startswith("enroll") and got != expected[name]]
    assert differing == []
    assert [got for name, got in answers if name.startswith("enroll")] == (
        ["enrolled:"] * len(waiting))
    assert fg.stats().templates == {"access-control": 8, "attendance": len(waiting)}
    # every call left its event, and the chain is intact
    assert len(fg._store.audit.events()) - events_before == len(jobs)
    assert fg.audit.verify().ok
    found = [fg.identify(probe, "attendance").external_id for _, probe in waiting.values()]
    assert sum(a == n for a, n in zip(found, waiting, strict=True)) >= len(waiting) - 1
    assert set(found) <= set(waiting) | {None}


def test_the_engine_lends_each_thread_its_own_models(faces: Path) -> None:
    """A call never shares a set of dlib models with another one in flight; sets are made
    only when every existing one is busy, up to the pool's size."""
    engine = DlibEngine(pool_size=3)
    picture = images_of(people_with(faces / "lfw" / "lfw", 1, 1)[0])[0]
    rgb = np.asarray(Image.open(picture).convert("RGB"))
    expected = [f.box for f in engine.detect(rgb)]
    assert expected
    with ThreadPoolExecutor(8) as pool:
        boxes = list(pool.map(lambda _: [f.box for f in engine.detect(rgb)], range(48)))
    assert boxes == [expected] * 48
    assert 1 <= engine._pool.made <= 3


def test_a_pool_never_lends_one_set_twice_at_once() -> None:
    made: list[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    pool: ModelPool[object] = ModelPool(factory, size=2)
    with pool.take() as first, pool.take() as second:
        assert first is not second
    with pool.take() as again:
        assert again in (first, second)
    assert len(made) == 2
