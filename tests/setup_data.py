"""The test deployment and how a data directory goes live: one source for the tests
(through ``conftest``) and the benchmarks (``bench/service_harness.py``, ``bench/bench_e2e.py``
put this folder on ``sys.path``). Imports no pytest, so a benchmark can use it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from faceguard import FaceEngine, Faceguard
from faceguard.assess import save_assessment

REPO = Path(__file__).resolve().parents[1]

#: The purposes ``TEST_DEPLOYMENT`` declares.
PURPOSES = ("access-control", "attendance")

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
    path = Path(env) if env else REPO.parent / "shared" / "data" / "faces"
    return path if (path / "lfw" / "lfw").is_dir() else None


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


def go_live(folder: Path, deployment: str = TEST_DEPLOYMENT,
            engine: FaceEngine | None = None, *, by: str = "Test DPO") -> None:
    """Write ``deployment`` into ``folder`` (made by ``Faceguard.init``) and approve its
    assessment."""
    (folder / "faceguard.toml").write_text(deployment, encoding="utf-8")
    with Faceguard.open(folder, engine=engine) as fg:
        approve_assessment(fg, by)
