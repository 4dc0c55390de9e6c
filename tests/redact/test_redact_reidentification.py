"""Re-identification: people enrolled for access control are not identified in redacted
photos of them, not even by someone who knows where each face was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import images_of, people_with
from faceguard import FaceError, Faceguard, NoFaceFound
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.imaging import decode_image
from faceguard.engine.types import Face
from faceguard.redact.cover import cover


def _central(faces: list[Face], rgb: np.ndarray) -> Face:
    """LFW's labelled face is the one nearest the image centre."""
    cy, cx = rgb.shape[0] / 2, rgb.shape[1] / 2
    return min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - cx)
               + abs((f.box[1] + f.box[3]) / 2 - cy))


def _inside_any(face: Face, regions: list[tuple[int, int, int, int]]) -> bool:
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in regions)


def _identifies(fg: Faceguard, photo: Path, external_id: str) -> bool:
    try:
        result = fg.identify(photo.read_bytes(), "access-control")
    except FaceError:
        return False
    return (result.decision, result.external_id) == ("match", external_id)


def test_enrolled_people_are_not_identified_in_redacted_photos(
    fg: Faceguard, lfw: Path, engine: DlibEngine, tmp_path: Path
) -> None:
    people = people_with(lfw, minimum=4, count=3)
    probes = tmp_path / "kept"
    probes.mkdir()
    enrolled = {}
    for number, person in enumerate(people):
        images = images_of(person)
        external_id = f"emp-{number}"
        fg.consent.grant(external_id, "access-control", name=person.name.replace("_", " "),
                         method="click", evidence=f"kiosk/{number}")
        fg.enroll(external_id, [images[0].read_bytes()], "access-control")
        rgb = decode_image(images[0].read_bytes())
        template = engine.embed(engine.align(rgb, _central(engine.detect(rgb), rgb)))
        # a kept photo that identifies its person before redaction: the test can fail
        photo = next(p for p in images[1:] if _identifies(fg, p, external_id))
        enrolled[external_id] = (template, photo)
        (probes / photo.name).write_bytes(photo.read_bytes())
    point = fg.calibration.point(fg.deployment.purposes["access-control"].operating_point)
    loosest = fg.calibration.point("convenience")

    report = fg.redaction.redact(probes, tmp_path / "redacted")
    assert len(report.files) == 3 and report.ok
    by_name = {Path(f.source).name: f for f in report.files}
    for external_id, (template, photo) in enrolled.items():
        file = by_name[photo.name]
        redacted = Path(file.output).read_bytes()
        regions = [r.covered for c in file.covered for r in c.regions]
        with pytest.raises(NoFaceFound):  # hence no match, and no candidates either
            fg.identify(redacted, "access-control")
        after = decode_image(redacted)
        assert not [f for f in engine.detect(after) if _inside_any(f, regions)]

        # an attacker who knows exactly where the face was embeds the covered pixels there
        original = decode_image(photo.read_bytes())
        face = _central(engine.detect(original), original)
        before_distance = float(np.linalg.norm(
            engine.embed(engine.align(original, face)) - template))
        assert point.is_match(before_distance), (external_id, before_distance)
        # the same regions pixelated (the weaker style, with random noise) instead of filled:
        # no match at access control; the fill is no match even at the loosest point
        pixelated = original.copy()
        cover(pixelated, regions, "pixelate")
        for covered, limit in ((after, loosest), (pixelated, point)):
            distance = float(np.linalg.norm(engine.embed(engine.align(covered, face)) - template))
            assert not limit.is_match(distance), (external_id, limit.name, distance)
        with pytest.raises(NoFaceFound):
            fg.identify(pixelated, "access-control")

    events = fg._store.audit.events(operation="media.redacted")
    assert [(e.outcome, e.detail["faces"] >= 1) for e in events] == [("ok", True)] * 3
    assert len(fg._store.audit.events(operation="face.identified")) >= 6


def test_keep_is_refused_and_recorded(fg: Faceguard, lfw: Path, tmp_path: Path) -> None:
    from faceguard import PolicyError
    from faceguard.api.redaction import redact

    photo = images_of(people_with(lfw, minimum=4, count=1)[0])[0]
    with pytest.raises(PolicyError) as caught:
        fg.redaction.redact(photo, tmp_path / "out.jpg", keep="emp-1")
    assert caught.value.rule == "R9"
    assert str(caught.value).startswith("[R9] keeping 'emp-1' uncovered is refused")
    assert "consent" in str(caught.value) and "enroll" in str(caught.value)
    with pytest.raises(PolicyError):
        redact(photo, tmp_path / "out.jpg", keep="emp-1")
    assert not (tmp_path / "out.jpg").exists()
    (event,) = fg._store.audit.events(operation="media.redacted")
    assert (event.outcome, event.rules) == ("refused", ("R9",))
