"""Bad input through the facade: each is refused with a clear error and the store unchanged.

"Unchanged" means: the row counts of templates, subjects and consents in faceguard.db and
the processing record's ``ok`` events are the same before and after; the refusal itself is
recorded (outcome ``rejected`` for unusable images and faces, ``refused`` for a rule).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from faceguard import Faceguard, Guardian, errors
from faceguard.api.core import Core
from faceguard.audit.events import AuditEvent
from faceguard.engine.imaging import ImageLimits
from faceguard.errors import (
    ConsentError,
    FaceguardError,
    ImageDecodeError,
    ImageTooLarge,
    NoFaceFound,
    PurposeError,
    QualityError,
    TooManyFaces,
)
from pgtest import raw

PURPOSE = "access-control"
PERSON = "emp-0042"
NO_FACE = "mtcnn/tests/images/no-faces.jpg"  # special_cases.csv: no_face
TWO_PEOPLE = "face_recognition/examples/two_people.jpg"  # special_cases.csv: 2 faces


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    ok_events: int
    events: int


def snapshot(fg: Faceguard) -> Snapshot:
    with raw(fg._store.data_dir) as conn:
        rows = {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("templates", "subjects", "consents")
        }
    events = fg._store.audit.events()
    return Snapshot(rows, sum(e.outcome == "ok" for e in events), len(events))


def assert_unchanged_and_recorded(
    fg: Faceguard,
    before: Snapshot,
    *,
    operation: str,
    outcome: str,
    error: type[FaceguardError],
    purpose: str,
    rules: tuple[str, ...] = (),
) -> AuditEvent:
    """The store is as before, and exactly one refusal event was appended."""
    after = snapshot(fg)
    assert after.rows == before.rows
    assert after.ok_events == before.ok_events
    assert after.events == before.events + 1
    event = fg._store.audit.events(newest_first=True, limit=1)[0]
    assert event.operation == operation
    assert event.outcome == outcome
    assert event.purpose == purpose
    assert event.rules == rules
    assert event.detail["error"] == error.__name__
    assert fg.audit.verify().ok
    return event


def encode_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def portrait(lfw: Path) -> bytes:
    """A real single-face LFW JPEG that passes the enrollment gate."""
    return (lfw / "Peter_Struck" / "Peter_Struck_0001.jpg").read_bytes()


@pytest.fixture()
def consenting(fg: Faceguard) -> str:
    """A person with a valid consent for PURPOSE, not yet enrolled."""
    fg.consent.grant(PERSON, PURPOSE, name="Wang Fang", method="click", evidence="kiosk-7/1")
    return PERSON


# ---- images that are not usable -------------------------------------------------------

BAD_BYTES: dict[str, tuple[Callable[[bytes], bytes], type[FaceguardError], str]] = {
    "empty-file": (lambda jpeg: b"", ImageDecodeError, r"empty \(0 bytes\)"),
    "truncated-jpeg": (lambda jpeg: jpeg[: len(jpeg) // 2], ImageDecodeError, "truncated"),
    "text-named-jpg": (
        lambda jpeg: b"Meeting notes, saved as photo.jpg by mistake.\n",
        ImageDecodeError,
        "not a recognised image",
    ),
    "png-100000x100000": (
        lambda jpeg: png_declaring(100_000, 100_000),
        ImageTooLarge,
        "too many pixels",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BYTES))
def test_unusable_bytes_are_rejected_at_enrollment(
    fg: Faceguard, consenting: str, portrait: bytes, case: str
) -> None:
    make, error, message = BAD_BYTES[case]
    before = snapshot(fg)
    with pytest.raises(error, match=message) as info:
        fg.enroll(consenting, [make(portrait)], PURPOSE)
    assert info.value.rule is None
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=error,
        purpose=PURPOSE,
    )


def test_bytes_over_the_deployments_limit_are_rejected(
    fg: Faceguard, consenting: str, portrait: bytes
) -> None:
    strict = Faceguard(Core(
        fg._store, fg.deployment, fg.engine, fg.calibration,
        image_limits=ImageLimits(max_bytes=len(portrait) - 1),
    ))
    before = snapshot(fg)
    with pytest.raises(ImageTooLarge, match=f"limit is {len(portrait) - 1}"):
        strict.enroll(consenting, [portrait], PURPOSE)
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=ImageTooLarge,
        purpose=PURPOSE,
    )


def test_image_without_a_face_is_rejected(fg: Faceguard, consenting: str, faces: Path) -> None:
    before = snapshot(fg)
    with pytest.raises(NoFaceFound, match="0 faces detected"):
        fg.enroll(consenting, [(faces / NO_FACE).read_bytes()], PURPOSE)
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=NoFaceFound,
        purpose=PURPOSE,
    )


def test_two_faces_at_enrollment_are_rejected_with_the_count(
    fg: Faceguard, consenting: str, faces: Path
) -> None:
    before = snapshot(fg)
    with pytest.raises(TooManyFaces, match="exactly one face") as info:
        fg.enroll(consenting, [(faces / TWO_PEOPLE).read_bytes()], PURPOSE)
    assert info.value.count == 2
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=TooManyFaces,
        purpose=PURPOSE,
    )


def test_face_too_small_is_detected_but_fails_the_size_check(
    fg: Faceguard, consenting: str, portrait: bytes
) -> None:
    with Image.open(io.BytesIO(portrait)) as img:
        small = encode_jpeg(img.resize((120, 120), Image.Resampling.LANCZOS))
    before = snapshot(fg)
    with pytest.raises(QualityError, match="face too small") as info:
        fg.enroll(consenting, [small], PURPOSE)
    assert info.value.check == "size"
    width = int(info.value.message.split("face too small: ")[1].split(" px")[0])
    assert 40 <= width < fg._core.enroll_gate.min_face_px  # found (~50 px), yet too small
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=QualityError,
        purpose=PURPOSE,
    )


def test_second_of_two_images_bad_stores_nothing(
    fg: Faceguard, consenting: str, portrait: bytes, faces: Path
) -> None:
    before = snapshot(fg)
    with pytest.raises(TooManyFaces) as info:
        fg.enroll(consenting, [portrait, (faces / TWO_PEOPLE).read_bytes()], PURPOSE)
    assert info.value.count == 2
    assert info.value.message.startswith("image 2 of 2: ")
    assert str(info.value).startswith("image 2 of 2: 2 faces were found")
    event = assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=TooManyFaces,
        purpose=PURPOSE,
    )
    assert event.detail["message"].startswith("image 2 of 2: ")


def test_second_of_two_images_truncated_stores_nothing(
    fg: Faceguard, consenting: str, portrait: bytes
) -> None:
    before = snapshot(fg)
    with pytest.raises(ImageDecodeError, match=r"^image 2 of 2: .*truncated"):
        fg.enroll(consenting, [portrait, portrait[: len(portrait) // 2]], PURPOSE)
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="rejected", error=ImageDecodeError,
        purpose=PURPOSE,
    )
    assert fg.rights.export(consenting).templates == []


def test_unusable_probe_is_rejected_at_identification(fg: Faceguard) -> None:
    before = snapshot(fg)
    with pytest.raises(ImageDecodeError):
        fg.identify(b"GIF89a not really", PURPOSE)
    assert_unchanged_and_recorded(
        fg, before, operation="face.identified", outcome="rejected", error=ImageDecodeError,
        purpose=PURPOSE,
    )


# ---- purposes and consent ---------------------------------------------------------------


def test_unknown_purpose_is_refused(fg: Faceguard, consenting: str, portrait: bytes) -> None:
    before = snapshot(fg)
    with pytest.raises(PurposeError, match="unknown purpose 'mood-tracking'") as info:
        fg.enroll(consenting, [portrait], "mood-tracking")
    assert info.value.rule == "R1"
    assert str(info.value).startswith("[R1] ")
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="refused", error=PurposeError,
        purpose="mood-tracking", rules=("R1",),
    )


def test_text_with_a_nul_character_is_refused_by_name_on_every_database(
        fg: Faceguard, consenting: str, portrait: bytes) -> None:
    """PostgreSQL stores no NUL in text (SQLite does): every text a person or an operator
    types is refused with its name on both, before anything is stored or promised, and the
    refusal of a purpose so named is still recorded."""
    before = snapshot(fg)
    with pytest.raises(PurposeError) as refused:
        fg.enroll(consenting, [portrait], "access\x00control")
    assert refused.value.rule == "R1"
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="refused", error=PurposeError,
        purpose="access\ufffdcontrol", rules=("R1",))
    with pytest.raises(errors.ConsentError, match="evidence reference contains a NUL"):
        fg.consent.grant("p-nul", PURPOSE, name="N", method="click", evidence="form\x001")
    with pytest.raises(errors.ConfigError, match="holder's name contains a NUL"):
        fg.api_keys.create("operator", "Ms\x00Key", [], actor="test")
    fg.enroll(consenting, [portrait], PURPOSE)
    with pytest.raises(errors.ConfigError, match="reason for erasure contains a NUL"):
        fg.rights.erase(consenting, reason="asked\x00")
    assert fg._store.ledger.read().pending() == []  # nothing was promised
    assert fg.stats().people == 1
    assert fg.rights.erase(consenting, reason="asked").data_key_destroyed


def test_forbidden_purpose_is_refused_with_r27(fg: Faceguard) -> None:
    before = snapshot(fg)
    with pytest.raises(PurposeError, match="infers attributes or emotions") as info:
        fg.consent.grant(
            PERSON, "emotion-analysis", name="Wang Fang", method="click", evidence="kiosk-7/1"
        )
    assert info.value.rule == "R27"
    assert_unchanged_and_recorded(
        fg, before, operation="consent.granted", outcome="refused", error=PurposeError,
        purpose="emotion-analysis", rules=("R27",),
    )


def test_purpose_not_declared_by_the_deployment_is_refused(
    fg: Faceguard, consenting: str, portrait: bytes
) -> None:
    before = snapshot(fg)
    with pytest.raises(PurposeError, match="'payment-verification' is not declared") as info:
        fg.enroll(consenting, [portrait], "payment-verification")
    assert info.value.rule == "R1"
    assert "access-control, attendance" in info.value.message
    assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="refused", error=PurposeError,
        purpose="payment-verification", rules=("R1",),
    )


def test_consent_for_another_purpose_does_not_allow_enrollment(
    fg: Faceguard, portrait: bytes
) -> None:
    fg.consent.grant(PERSON, "attendance", name="Wang Fang", method="click", evidence="hr/88")
    before = snapshot(fg)
    with pytest.raises(ConsentError, match="no valid consent .* 'access-control'") as info:
        fg.enroll(PERSON, [portrait], "access-control")
    assert info.value.rule == "R3"
    event = assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="refused", error=ConsentError,
        purpose="access-control", rules=("R3",),
    )
    assert event.subject is None


def test_enrollment_without_any_consent_is_refused(fg: Faceguard, portrait: bytes) -> None:
    before = snapshot(fg)
    with pytest.raises(ConsentError, match="no valid consent of this person") as info:
        fg.enroll("walk-in-visitor", [portrait], PURPOSE)
    assert info.value.rule == "R3"
    event = assert_unchanged_and_recorded(
        fg, before, operation="template.enrolled", outcome="refused", error=ConsentError,
        purpose=PURPOSE, rules=("R3",),
    )
    assert event.detail["reason"] == "no such person"  # kept in the record, not shown


@pytest.mark.parametrize(
    "guardian",
    [None, Guardian(name="Li Na", relationship="", evidence="form-12")],
    ids=["no-guardian", "guardian-without-relationship"],
)
def test_under_14_without_a_complete_guardian_consent_is_refused(
    fg: Faceguard, guardian: Guardian | None
) -> None:
    before = snapshot(fg)
    with pytest.raises(ConsentError, match="under 14") as info:
        fg.consent.grant(
            "pupil-7", PURPOSE, name="Li Xiaoming", method="written", evidence="form-12",
            minor=True, guardian=guardian,
        )
    assert info.value.rule == "R5"
    assert_unchanged_and_recorded(
        fg, before, operation="consent.granted", outcome="refused", error=ConsentError,
        purpose=PURPOSE, rules=("R5",),
    )


@pytest.mark.parametrize("error", [
    errors.QualityError("face too small: 30 px wide", check="size"),
    errors.TooManyFaces("2 faces were found", count=2),
    errors.ConsentError("no valid consent", rule="R3"),
    errors.LivenessError("the liveness check did not pass", decision="attack",
                         reasons=(("depth.planar", "the face moved like a flat picture"),)),
])
def test_errors_cross_process_boundaries_intact(error: errors.FaceguardError) -> None:
    """Worker pools (batch enrollment, evaluation) send errors back pickled."""
    error.add_context("image 2 of 3")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.message, copy.rule, str(copy)) == (error.message, error.rule, str(error))
    assert vars(copy) == vars(error)
