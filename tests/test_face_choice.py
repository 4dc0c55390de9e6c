"""Choosing the face to enroll in a picture holding several (library, CLI, REST)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceguard import Faceguard, FaceguardError, NoFaceFound, TooManyFaces
from faceguard.cli.main import main
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.imaging import decode_image


@pytest.fixture()
def two(faces: Path) -> bytes:
    return (faces / "face_recognition/examples/two_people.jpg").read_bytes()


def _ready(fg: Faceguard, who: str) -> None:
    fg.consent.publish_notice("attendance")
    fg.consent.grant(who, "attendance", name=who, method="click", evidence="e")


def test_several_faces_are_refused_saying_how_many(fg: Faceguard, two: bytes) -> None:
    _ready(fg, "biden")
    with pytest.raises(TooManyFaces) as err:
        fg.enroll("biden", [two], "attendance")
    assert "2 faces were found" in str(err.value) and "box" in str(err.value)


def test_the_boxed_face_is_the_one_enrolled(fg: Faceguard, two: bytes, faces: Path,
                                            engine: DlibEngine) -> None:
    """Box each face in turn: the one enrolled is the one in the box (its own photo of
    Biden verifies against one box only)."""
    boxes = [f.box for f in engine.detect(decode_image(two))]
    assert len(boxes) == 2
    biden = (faces / "face_recognition/examples/biden.jpg").read_bytes()
    decisions = []
    fg.consent.publish_notice("attendance")
    for n, box in enumerate(boxes):
        who = f"person-{n}"
        fg.consent.grant(who, "attendance", name=who, method="click", evidence="e")
        result = fg.enroll(who, [two], "attendance", face=tuple(int(v) for v in box))
        event = fg._store.audit.events(operation="template.enrolled", newest_first=True,
                                        limit=1)[0]
        assert event.seq == result.audit_seq
        assert event.detail["quality"][0]["faces_found"] == 2
        decisions.append(fg.verify(who, biden, "attendance").decision)
    assert sorted(decisions) == ["match", "no-match"]


def test_a_box_on_no_face_is_refused_saying_how_many(fg: Faceguard, two: bytes) -> None:
    _ready(fg, "x")
    with pytest.raises(NoFaceFound) as err:
        fg.enroll("x", [two], "attendance", face="0,0,10,10")
    assert "2 faces were found" in str(err.value)


def test_the_cli_enrolls_the_face_nearest_the_centre(data_dir: Path, faces: Path) -> None:
    with Faceguard.open(data_dir) as fg:
        _ready(fg, "p")
    image = faces / "face_recognition/examples/two_people.jpg"
    base = ["--data", str(data_dir), "enroll", "--subject", "p", "--purpose", "attendance"]
    refused = CliRunner().invoke(main, [*base, str(image)])
    assert refused.exit_code != 0 and "2 faces were found" in refused.output
    done = CliRunner().invoke(main, [*base, "--face", "centre", "--json", str(image)])
    assert done.exit_code == 0, done.output
    assert len(json.loads(done.stdout)["template_ids"]) == 1


def test_faces_in_boxes_each_face_in_process_and_in_a_worker(fg: Faceguard, two: bytes,
                                                             engine: DlibEngine) -> None:
    """What the enroll page draws: every face's box in the decoded picture's pixels, the
    same whether detection runs here or in a worker process (where ``serve`` runs it)."""
    fg.consent.publish_notice("attendance")
    here = fg.faces_in(two, "attendance")
    height, width = decode_image(two).shape[:2]
    assert (here.width, here.height) == (width, height)
    assert sorted(here.boxes) == sorted(tuple(f.box) for f in engine.detect(decode_image(two)))
    assert here.usable == (True, True)
    event = fg._store.audit.events(operation="faces.detected", newest_first=True, limit=1)[0]
    assert (event.outcome, event.detail["faces"], event.purpose) == ("ok", 2, "attendance")
    fg.use_worker_processes(1)
    assert fg.faces_in(two, "attendance") == here
    with pytest.raises(FaceguardError) as err:
        fg.faces_in(two, "marketing")
    assert err.value.rule == "R1"
    refused = fg._store.audit.events(operation="faces.detected", newest_first=True, limit=1)
    assert refused[0].outcome == "refused"


def test_each_picture_takes_its_own_face(fg: Faceguard, two: bytes, faces: Path) -> None:
    """``face=[...]``: one choice per picture (a box for the group photo, none for a
    portrait); the box chooses in its picture only, and a group photo without a choice
    is still refused."""
    biden = (faces / "face_recognition/examples/biden.jpg").read_bytes()
    _ready(fg, "p")
    box = fg.faces_in(two, "attendance").boxes[0]
    result = fg.enroll("p", [two, biden], "attendance", face=[box, None])
    assert len(result.template_ids) == 2
    event = fg._store.audit.events(operation="template.enrolled", newest_first=True,
                                    limit=1)[0]
    assert [q["faces_found"] for q in event.detail["quality"]] == [2, 1]
    with pytest.raises(TooManyFaces):
        fg.enroll("p", [biden, two], "attendance", face=[None])  # no choice for picture 2
