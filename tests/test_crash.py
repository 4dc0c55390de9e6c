"""``kill -9`` at random moments of a process enrolling, withdrawing and erasing (R18, R11).

The child (crash_child.py) runs 500 seeded steps and acknowledges each one after the
library call returned; the parent kills it at random moments (at least 20 times, many of
them inside an erasure), opens the data directory again (which completes interrupted
erasures) and checks, after every kill:

- every acknowledged step is there: an acknowledged erasure's subject is erased with that
  certificate; an acknowledged enrollment's templates are stored, unless a later step begun
  since withdrew that purpose or erased the person;
- nobody is half-enrolled or half-erased: an active subject has its data key, its identity
  and every template decrypt; an erased subject has no key, no template, no live consent,
  and an authentic certificate; the erasure ledger has nothing pending;
- the processing record verifies.
"""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crash_child import PURPOSES, plan
from faceguard import Faceguard
from faceguard.audit.certificates import verify_with_public_key
from faceguard.engine.dlib_engine import DlibEngine
from pgtest import raw

STEPS, PEOPLE, SEED, MIN_KILLS = 500, 24, 20261124, 20
CHILD = Path(__file__).with_name("crash_child.py")
FACES = ("Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Jacques_Chirac")


def read_acks(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The acknowledged steps, and the highest step begun."""
    acks, begun = [], -1
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = json.loads(line)
        if "begin" in entry:
            begun = max(begun, entry["begin"])
        else:
            acks.append(entry)
    return acks, begun


def check_everyone(fg: Faceguard) -> dict[str, str]:
    """No half-enrolled or half-erased person; returns each subject's status."""
    store = fg._store
    with raw(store.data_dir, "keys") as kconn:
        keyed = {r[0] for r in kconn.execute("SELECT subject_id FROM subject_keys")}
    with raw(store.data_dir) as conn:
        status = {r[0]: r[1] for r in conn.execute("SELECT id, status FROM subjects")}
        stored = conn.execute("SELECT subject_id, purpose, count(*) FROM templates "
                              "GROUP BY subject_id, purpose").fetchall()
        live = {r[0] for r in conn.execute(
            "SELECT subject_id FROM consents WHERE status = 'active'")}
        certified = {r[0] for r in conn.execute("SELECT subject_id FROM deletion_certificates")}
    counts = {(s, p): n for s, p, n in stored}
    with store.records.connect() as conn:
        for subject, state in status.items():
            if state == "active":
                assert subject in keyed, f"active {subject} has no data key"
                assert store.vault.identity(conn, subject).external_id.startswith("person-")
                for purpose in PURPOSES:
                    opened = store.vault.templates(conn, purpose=purpose, subject_id=subject)
                    assert len(opened) == counts.get((subject, purpose), 0), subject
            else:
                assert state == "erased"
                assert subject not in keyed, f"erased {subject} still has a key"
                assert not any(s == subject for s, _ in counts), f"erased {subject} templates"
                assert subject not in live, f"erased {subject} holds a live consent"
                assert subject in certified, f"erased {subject} has no certificate"
    assert store.ledger.read().pending() == []
    return status


def check_acknowledged(fg: Faceguard, acks: list[dict[str, Any]], begun: int,
                       status: dict[str, str]) -> None:
    ops = plan(SEED, STEPS, PEOPLE)
    with raw(fg._store.data_dir) as conn:
        templates = {r[0] for r in conn.execute("SELECT id FROM templates")}
    for ack in acks:
        if ack.get("certificate"):
            assert status.get(ack["subject"]) == "erased", ack
            cert = fg.audit.certificate(ack["certificate"])
            assert cert.subject_id == ack["subject"]
            assert verify_with_public_key(cert, fg.audit.public_key_hex)
        if ack["op"] == "enroll":
            undone = any(
                ops[j][1] == ack["person"] and (ops[j][0] == "erase" or ops[j][2] ==
                                                ack["purpose"] and ops[j][0] == "withdraw")
                for j in range(ack["k"] + 1, begun + 1))
            if not undone:
                assert status.get(ack["subject"]) == "active", ack
                assert set(ack["templates"]) <= templates, ack


@pytest.fixture()
def extractions(fg: Faceguard, lfw: Path, tmp_path: Path) -> Iterator[Path]:
    """Templates made once (enrolling them then costs no face processing)."""
    made = [fg._extract((lfw / n / f"{n}_0001.jpg").read_bytes(), enroll=True) for n in FACES]
    path = tmp_path / "extractions.pickle"
    path.write_bytes(pickle.dumps(made))
    fg.close()
    yield path


def test_kill_9_never_leaves_a_half_enrolled_or_half_erased_person(
    data_dir: Path, extractions: Path, engine: DlibEngine, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    acks_file, errors = tmp_path / "acks.jsonl", tmp_path / "child-errors.txt"
    kinds = plan(SEED, STEPS, PEOPLE)
    kills, killed_in, completed = 0, list[str](), 0
    while True:
        acks, begun = read_acks(acks_file)
        start = acks[-1]["k"] + 1 if acks else 0
        if start >= STEPS:
            break
        with errors.open("ab") as stderr:
            child = subprocess.Popen(
                [sys.executable, str(CHILD), str(data_dir), str(extractions), str(acks_file),
                 str(start), str(SEED), str(STEPS), str(PEOPLE)],
                stdout=subprocess.DEVNULL, stderr=stderr)
        # Kill after a random number of acknowledged steps, a random moment later (the
        # steps take milliseconds, so the kill lands anywhere in the next one or two). Every
        # other kill aims at the moment an erasure or withdrawal begins instead, so that
        # kills inside the erasure window do not depend on luck.
        spread = 2 * (STEPS - start) // max(MIN_KILLS + 5 - kills, 1)
        skip = rng.randint(1, max(spread, 1))
        if kills % 2:
            aim = next((k for k in range(start + skip, STEPS)
                        if kinds[k][0] in ("erase", "withdraw")), STEPS)
            while child.poll() is None and read_acks(acks_file)[1] < aim:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.002))
        else:
            target = len(acks) + skip
            while child.poll() is None and len(read_acks(acks_file)[0]) < target:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.015))
        if child.poll() is None:
            child.kill()  # SIGKILL
            child.wait()
            kills += 1
            acks, begun = read_acks(acks_file)
            last = acks[-1]["k"] if acks else -1
            if begun > last:
                killed_in.append(kinds[begun][0])
        else:
            assert child.returncode == 0, errors.read_text()
        acks, begun = read_acks(acks_file)
        with Faceguard.open(data_dir, engine=engine) as fg:  # completes interrupted erasures
            completed += fg._store.recovered.completed
            status = check_everyone(fg)
            check_acknowledged(fg, acks, begun, status)
            report = fg.audit.verify()
            assert report.ok, report.problem
    acks, _ = read_acks(acks_file)
    assert [a["k"] for a in acks] == list(range(STEPS))
    assert kills >= MIN_KILLS, f"only {kills} kills"
    erasing = sum(kind in ("erase", "withdraw") for kind in killed_in)
    assert erasing >= 3, f"kills inside a step: {killed_in}"
    erased = sum(1 for a in acks if a.get("certificate"))
    assert erased >= 50, f"only {erased} erasures acknowledged"
    assert completed >= 1, "no kill landed inside an erasure's window: nothing was completed"
