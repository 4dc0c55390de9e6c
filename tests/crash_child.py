"""The child process of test_crash.py (not a test): runs a seeded plan of enrollments,
withdrawals and erasures from a given step, writing one JSON line per acknowledged step.

    python crash_child.py DATA_DIR EXTRACTIONS_PICKLE ACKS_FILE START SEED STEPS PEOPLE

Each line is written with one ``write`` on an ``O_APPEND`` descriptor after the library call
returned, so a ``kill -9`` leaves whole lines only. Before each step it writes
``{"begin": k}``, so the parent knows which step a kill interrupted.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import sys
from pathlib import Path

PURPOSES = ("attendance", "access-control")


def plan(seed: int, steps: int, people: int) -> list[tuple[str, str, str]]:
    """(kind, external ID, purpose) for each step: erasing is a large share on purpose."""
    rng = random.Random(seed)
    ops = []
    for _ in range(steps):
        draw = rng.random()
        kind = "enroll" if draw < 0.45 else "withdraw" if draw < 0.7 else "erase"
        ops.append((kind, f"person-{rng.randrange(people)}", rng.choice(PURPOSES)))
    return ops


def main() -> None:
    from faceguard import ConsentError, Faceguard, NotFound
    from faceguard.engine.dlib_engine import DlibEngine

    data_dir, pickled, acks, start, seed, steps, people = sys.argv[1:8]
    extractions = pickle.loads(Path(pickled).read_bytes())
    out = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(entry: dict[str, object]) -> None:
        os.write(out, (json.dumps(entry) + "\n").encode())

    ops = plan(int(seed), int(steps), int(people))
    with Faceguard.open(Path(data_dir), engine=DlibEngine()) as fg:
        for k in range(int(start), len(ops)):
            kind, person, purpose = ops[k]
            write({"begin": k})
            ack: dict[str, object] = {"k": k, "op": kind, "person": person, "purpose": purpose}
            try:
                if kind == "enroll":
                    fg.consent.grant(person, purpose, name=person, method="click",
                                     evidence="kiosk", actor="crash-test")
                    face = extractions[int(person.split("-")[1]) % len(extractions)]
                    done = fg.enroll(person, [face], purpose, actor="crash-test")
                    ack.update(subject=done.subject_id, templates=list(done.template_ids))
                elif kind == "withdraw":
                    result = fg.consent.withdraw(person, purpose, actor="crash-test")
                    cert = result.certificate
                    ack.update(subject=result.subject_id,
                               certificate=None if cert is None else cert.certificate_id)
                else:
                    cert = fg.rights.erase(person, actor="crash-test")
                    ack.update(subject=cert.subject_id, certificate=cert.certificate_id)
            except (ConsentError, NotFound):
                ack["op"] = "noop"
            write(ack)
    os.close(out)


if __name__ == "__main__":
    main()
