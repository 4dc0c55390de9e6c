"""The library refuses to process faces, citing the rule, while the deployment fails its check."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CN_TEST_DEPLOYMENT, TEST_DEPLOYMENT, go_live
from faceguard import Faceguard, PolicyError
from faceguard.engine.dlib_engine import DlibEngine

PHOTO = ("Colin_Powell", "Colin_Powell_0001.jpg")


def _attempts(fg: Faceguard, image: bytes) -> list[str | None]:
    rules = []
    for call in (lambda: fg.enroll("p1", [image], "attendance"),
                 lambda: fg.verify("p1", image, "attendance"),
                 lambda: fg.identify(image, "attendance")):
        with pytest.raises(PolicyError) as err:
            call()
        rules.append(err.value.rule)
    return rules


def test_a_private_place_is_refused_whatever_else_is_in_order(
    data_dir: Path, engine: DlibEngine, lfw: Path
) -> None:
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice("attendance")
        fg.consent.grant("p1", "attendance", name="P", method="click", evidence="e")
    go_live(data_dir, TEST_DEPLOYMENT.replace("residential-entrance", "hotel-room"), engine)
    with Faceguard.open(data_dir, engine=engine) as fg:
        assert [f.rule for f in fg.governance.check().violations] == ["R13"]
        assert _attempts(fg, (lfw / PHOTO[0] / PHOTO[1]).read_bytes()) == ["R13"] * 3
        refused = [e for e in fg._store.audit.events() if e.outcome == "refused"]
        assert [(e.operation, e.rules) for e in refused] == [
            ("template.enrolled", ("R13",)), ("face.verified", ("R13",)),
            ("face.identified", ("R13",)),
        ]


def test_a_change_after_approval_blocks_until_reassessed(
    data_dir: Path, engine: DlibEngine, lfw: Path
) -> None:
    changed = TEST_DEPLOYMENT.replace("retention_days = 30\n", "retention_days = 60\n")
    (data_dir / "faceguard.toml").write_text(changed)
    with Faceguard.open(data_dir, engine=engine) as fg:
        [violation] = fg.governance.check().violations
        assert violation.rule == "P2" and "reassessment required" in violation.detail
        assert _attempts(fg, (lfw / PHOTO[0] / PHOTO[1]).read_bytes()) == ["P2"] * 3


def test_cn_packs_need_liveness_in_the_file_and_an_answer_per_operation(
    data_dir: Path, engine: DlibEngine, lfw: Path
) -> None:
    go_live(data_dir, CN_TEST_DEPLOYMENT, engine)  # liveness = "off" under cn
    with Faceguard.open(data_dir, engine=engine) as fg:
        assert [(f.rule, f.kind) for f in fg.governance.check().violations] == [("R26", "BLOCK")]
    go_live(data_dir, CN_TEST_DEPLOYMENT.replace('liveness = "off"', 'liveness = "required"'),
            engine)
    with Faceguard.open(data_dir, engine=engine) as fg:
        assert fg.governance.check().violations == []
        fg.consent.publish_notice("attendance")
        fg.consent.grant("p1", "attendance", name="P", method="click", evidence="e")
        assert _attempts(fg, (lfw / PHOTO[0] / PHOTO[1]).read_bytes()) == ["R26"] * 3
