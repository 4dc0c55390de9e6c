"""Notices and consent (R2, R3, R5), withdrawal (R3, R18) and retention sweeps (R8).

Real dlib engine on real LFW faces, real SQLite stores in a fresh data directory per test.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import TEST_DEPLOYMENT
from faceguard import AuditEvent, Faceguard, Guardian
from faceguard.audit.certificates import is_authentic
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import ConfigError, ConsentError, NotFound, NoticeError
from faceguard.timeutil import iso, utc_now
from pgtest import raw, stored_bytes

# Two people whose LFW images pass the enrollment gate; image 1 enrolls, image 2 probes.
ALICE = ("Peter_Struck", "emp-1001", "Peter Struck")
BOB = ("Joschka_Fischer", "emp-1002", "Joschka Fischer")


def photo(lfw: Path, person: tuple[str, str, str], number: int) -> bytes:
    folder = person[0]
    return (lfw / folder / f"{folder}_{number:04d}.jpg").read_bytes()


def consent(fg: Faceguard, person: tuple[str, str, str], purpose: str) -> None:
    fg.consent.grant(person[1], purpose, name=person[2], method="click", evidence="kiosk-3/17")


def rows(fg: Faceguard, sql: str, *params: object) -> list[tuple[object, ...]]:
    with raw(fg._store.data_dir) as conn:
        return list(conn.execute(sql, params))


def counts(fg: Faceguard) -> dict[str, int]:
    tables = ("templates", "subjects", "consents", "notices")
    return {t: int(rows(fg, f"SELECT count(*) FROM {t}")[0][0]) for t in tables}


def key_count(fg: Faceguard) -> int:
    with raw(fg._store.data_dir, "keys") as conn:
        return int(conn.execute("SELECT count(*) FROM subject_keys").fetchone()[0])


def last_event(fg: Faceguard) -> AuditEvent:
    return fg._store.audit.events(newest_first=True, limit=1)[0]


# ---- notices (R2) ---------------------------------------------------------------------


def test_notice_version_and_hash_are_stored_with_the_consent(fg: Faceguard) -> None:
    consent(fg, ALICE, "access-control")  # under version 1 (published by the fixture)
    v2 = fg.consent.publish_notice(
        "access-control", {"method": "Camera image to encrypted template; image discarded."}
    )
    assert v2.version == 2
    # the hash covers the notice in every language it was published in (English and zh-CN)
    assert sorted(v2.texts) == ["en", "zh-CN"] and v2.texts["en"] == v2.fields
    canonical = json.dumps(v2.texts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert v2.sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    receipt = fg.consent.grant(
        BOB[1], "access-control", name=BOB[2], method="signature", evidence="paper-form-9"
    )
    assert (receipt.notice_version, receipt.notice_sha256) == (2, v2.sha256)
    stored = rows(
        fg,
        "SELECT n.version, c.notice_sha256, n.sha256 FROM consents c "
        "JOIN notices n ON n.id = c.notice_id WHERE c.id = ?",
        receipt.consent_id,
    )
    assert stored == [(2, v2.sha256, v2.sha256)]

    alice = fg.rights.export(ALICE[1]).consents
    assert [(c["notice_version"], c["status"]) for c in alice] == [(1, "active")]
    assert alice[0]["notice_sha256"] != v2.sha256  # the version actually shown, not the newest
    v1_hash = rows(fg, "SELECT sha256 FROM notices WHERE purpose = ? AND version = 1",
                   "access-control")[0][0]
    assert alice[0]["notice_sha256"] == v1_hash


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"impact": ""}, "missing or empty: impact"),
        ({"rights": "   ", "contact": ""}, "missing or empty: contact, rights"),
        ({"favourite_colour": "blue"}, "unknown fields: favourite_colour"),
    ],
    ids=["empty-impact", "blank-rights-and-contact", "unknown-field"],
)
def test_incomplete_notice_is_refused(fg: Faceguard, fields: dict[str, str], named: str) -> None:
    before = counts(fg)
    with pytest.raises(NoticeError, match=named) as info:
        fg.consent.publish_notice("attendance", fields)
    assert info.value.rule == "R2"
    assert str(info.value).startswith("[R2] the notice is incomplete")
    assert counts(fg) == before
    receipt = fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="click",
                               evidence="hr/1")
    assert receipt.notice_version == 1  # no half-published version 2


def test_consent_without_a_published_notice_is_refused(
    data_dir: Path, engine: DlibEngine
) -> None:
    with Faceguard.open(data_dir, engine=engine) as fg:
        with pytest.raises(NoticeError, match="no notice has been published") as info:
            consent(fg, ALICE, "attendance")
        assert info.value.rule == "R2"
        assert counts(fg) == {"templates": 0, "subjects": 0, "consents": 0, "notices": 0}
        assert key_count(fg) == 0
        event = last_event(fg)
        assert (event.operation, event.outcome, event.rules) == (
            "consent.granted", "refused", ("R2",)
        )
        assert [e.outcome for e in fg._store.audit.events()] == ["ok", "ok", "refused"]
        assert [e.operation for e in fg._store.audit.events()][:2] == [
            "assessment.drafted", "assessment.approved"
        ]


# ---- consent (R3) ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["verbal", "implied", "CLICK", ""])
def test_consent_method_must_be_click_signature_or_written(fg: Faceguard, method: str) -> None:
    before = counts(fg)
    with pytest.raises(ConsentError, match="use one of click, signature, written") as info:
        fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method=method, evidence="x/1")
    assert info.value.rule == "R3"
    assert counts(fg) == before
    event = last_event(fg)
    assert (event.operation, event.outcome, event.rules) == ("consent.granted", "refused", ("R3",))


@pytest.mark.parametrize("evidence", ["", "   "])
def test_consent_needs_evidence(fg: Faceguard, evidence: str) -> None:
    before = counts(fg)
    with pytest.raises(ConsentError, match="evidence reference") as info:
        fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="click", evidence=evidence)
    assert info.value.rule == "R3"
    assert counts(fg) == before
    assert last_event(fg).outcome == "refused"


def test_refused_consent_leaves_no_data_key_behind(fg: Faceguard) -> None:
    """vault.create_subject commits a data key before the consent is validated; the
    docstring promises the orphan is discarded (at the latest by the next sweep)."""
    consent(fg, BOB, "attendance")
    assert key_count(fg) == 1
    with pytest.raises(ConsentError):
        fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="verbal", evidence="x")
    with pytest.raises(ConsentError):
        fg.consent.grant("pupil-3", "attendance", name="Li Lei", method="written",
                         evidence="form-1", minor=True)
    assert counts(fg)["subjects"] == 1
    fg.rights.sweep()
    assert key_count(fg) == 1  # only Bob's key


def test_minor_with_guardian_consent_is_recorded_and_exported(fg: Faceguard) -> None:
    guardian = Guardian(name="Han Meimei", relationship="mother", evidence="signed-form-33")
    receipt = fg.consent.grant(
        "pupil-8", "attendance", name="Han Xiaolong", method="written", evidence="form-33",
        minor=True, guardian=guardian,
    )
    assert last_event(fg).rules == ("R3", "R5")
    exported = fg.rights.export("pupil-8")
    assert exported.identity == {"external_id": "pupil-8", "name": "Han Xiaolong"}
    [record] = exported.consents
    assert record["id"] == receipt.consent_id
    assert record["minor"] is True
    assert record["guardian"] == {
        "name": "Han Meimei", "relationship": "mother", "evidence": "signed-form-33"
    }
    # guardian details are stored encrypted
    assert b"Han Meimei" not in stored_bytes(fg._store.data_dir)
    assert rows(fg, "SELECT guardian_ct IS NOT NULL FROM consents") == [(1,)]


def test_minors_are_refused_without_published_minors_rules(
    data_dir: Path, engine: DlibEngine
) -> None:
    text = "\n".join(
        line for line in TEST_DEPLOYMENT.splitlines() if not line.startswith("minors_rules")
    )
    (data_dir / "faceguard.toml").write_text(text + "\n", encoding="utf-8")
    with Faceguard.open(data_dir, engine=engine) as fg:
        assert fg.deployment.deployment.minors_rules == ""
        fg.consent.publish_notice("attendance")
        guardian = Guardian(name="Han Meimei", relationship="mother", evidence="form-33")
        with pytest.raises(ConsentError, match="minors_rules") as info:
            fg.consent.grant("pupil-8", "attendance", name="Han Xiaolong", method="written",
                             evidence="form-33", minor=True, guardian=guardian)
        assert info.value.rule == "R5"
        assert counts(fg)["subjects"] == 0
        assert last_event(fg).rules == ("R5",)
        consent(fg, ALICE, "attendance")  # adults are unaffected
        assert counts(fg)["consents"] == 1


def test_granting_again_supersedes_the_active_consent(fg: Faceguard) -> None:
    first = fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="click",
                             evidence="kiosk-1")
    second = fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="signature",
                              evidence="paper-2")
    assert first.superseded is None
    assert second.superseded == first.consent_id
    assert second.subject_id == first.subject_id
    statuses = [(c["id"], c["status"], c["method"]) for c in fg.rights.export(ALICE[1]).consents]
    assert statuses == [
        (first.consent_id, "superseded", "click"),
        (second.consent_id, "active", "signature"),
    ]
    assert rows(fg, "SELECT count(*) FROM consents WHERE status = 'active'") == [(1,)]
    # The schema itself refuses a second active consent for the same subject and purpose.
    with raw(fg._store.data_dir) as conn, pytest.raises(conn.integrity_error):
        conn.execute(
            "INSERT INTO consents (subject_id, purpose, notice_id, notice_sha256, method, "
            "evidence_ref, minor, status, granted_at) SELECT subject_id, purpose, "
            "notice_id, notice_sha256, method, evidence_ref, minor, 'active', granted_at "
            "FROM consents WHERE id = ?",
            (first.consent_id,),
        )


# ---- withdrawal (R3, R18) -----------------------------------------------------------------


@pytest.mark.parametrize("index_loaded", [True, False], ids=["index-loaded", "index-cold"])
def test_withdrawing_one_purpose_leaves_the_other_working(
    fg: Faceguard, lfw: Path, index_loaded: bool
) -> None:
    for purpose in ("access-control", "attendance"):
        consent(fg, ALICE, purpose)
    consent(fg, BOB, "attendance")
    fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "access-control")
    enrolled = fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "attendance")
    fg.enroll(BOB[1], [photo(lfw, BOB, 1)], "attendance")
    alice_probe, bob_probe = photo(lfw, ALICE, 2), photo(lfw, BOB, 2)
    if index_loaded:
        assert fg.identify(alice_probe, "attendance").external_id == ALICE[1]
        assert fg._store.index.get("attendance") is not None

    result = fg.consent.withdraw(ALICE[1], "attendance")

    assert result.certificate is None  # access-control consent remains
    assert result.templates_deleted == enrolled.template_ids
    assert fg.identify(alice_probe, "attendance").decision == "unknown"
    assert fg.identify(bob_probe, "attendance").external_id == BOB[1]
    assert fg.verify(ALICE[1], alice_probe, "access-control").decision == "match"
    assert fg.identify(alice_probe, "access-control").external_id == ALICE[1]
    with pytest.raises(ConsentError) as info:
        fg.verify(ALICE[1], alice_probe, "attendance")
    assert info.value.rule == "R3"
    exported = fg.rights.export(ALICE[1])
    assert {c["purpose"]: c["status"] for c in exported.consents} == {
        "access-control": "active", "attendance": "withdrawn"
    }
    assert [t["purpose"] for t in exported.templates] == ["access-control"]


def test_withdrawing_the_last_purpose_erases_the_subject(fg: Faceguard, lfw: Path) -> None:
    consent(fg, ALICE, "access-control")
    enrolled = fg.enroll(ALICE[1], [photo(lfw, ALICE, 1), photo(lfw, ALICE, 3)],
                         "access-control")
    probe = photo(lfw, ALICE, 2)
    assert fg.identify(probe, "access-control").decision == "match"  # index now loaded

    result = fg.consent.withdraw(ALICE[1], "access-control")

    cert = result.certificate
    assert cert is not None
    assert cert.subject_id == enrolled.subject_id
    assert cert.data_key_destroyed is True
    assert set(cert.templates_deleted) == set(enrolled.template_ids)
    assert cert.reason == "consent withdrawn"
    assert is_authentic(cert, fg._store.keyring.signing_key.public_key())
    assert not fg._store.vault.has_key(enrolled.subject_id)
    with pytest.raises(NotFound):
        fg.rights.export(ALICE[1])
    assert fg.identify(probe, "access-control").decision == "unknown"
    assert rows(fg, "SELECT status, identity_ct, lookup_hash FROM subjects") == [
        ("erased", None, None)
    ]
    assert rows(fg, "SELECT count(*) FROM templates") == [(0,)]


def test_verify_for_a_purpose_without_consent_is_refused(fg: Faceguard, lfw: Path) -> None:
    consent(fg, ALICE, "attendance")
    fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "attendance")
    before = counts(fg)
    with pytest.raises(ConsentError, match="no valid consent .* 'access-control'") as info:
        fg.verify(ALICE[1], photo(lfw, ALICE, 2), "access-control")
    assert info.value.rule == "R3"
    assert counts(fg) == before
    event = last_event(fg)
    assert (event.operation, event.outcome, event.rules, event.purpose) == (
        "face.verified", "refused", ("R3",), "access-control"
    )
    assert fg.verify(ALICE[1], photo(lfw, ALICE, 2), "attendance").decision == "match"


def test_withdrawing_a_purpose_never_consented_is_refused(fg: Faceguard) -> None:
    consent(fg, ALICE, "attendance")
    with pytest.raises(ConsentError) as info:
        fg.consent.withdraw(ALICE[1], "access-control")
    assert info.value.rule == "R3"
    assert [c["status"] for c in fg.rights.export(ALICE[1]).consents] == ["active"]


# ---- retention (R8) --------------------------------------------------------------------


def later(days: int) -> str:
    return iso(utc_now() + timedelta(days=days))


def test_sweep_erases_expired_templates(fg: Faceguard, lfw: Path) -> None:
    # attendance keeps 30 days, access-control 365 days (TEST_DEPLOYMENT).
    for purpose in ("access-control", "attendance"):
        consent(fg, ALICE, purpose)
    kept = fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "access-control")
    fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "attendance")
    probe = photo(lfw, ALICE, 2)
    assert fg.identify(probe, "attendance").decision == "match"  # index loaded

    first = fg.rights.sweep(now=later(60))

    assert (first.templates_deleted, first.consents_expired, first.certificates) == (1, 1, ())
    exported = fg.rights.export(ALICE[1])
    assert {c["purpose"]: (c["status"], c["end_reason"]) for c in exported.consents} == {
        "access-control": ("active", None), "attendance": ("expired", "retention")
    }
    assert [t["template_id"] for t in exported.templates] == list(kept.template_ids)
    assert fg.identify(probe, "attendance").decision == "unknown"
    assert fg.verify(ALICE[1], probe, "access-control").decision == "match"

    second = fg.rights.sweep(now=later(400))

    assert (second.templates_deleted, second.consents_expired) == (1, 1)
    [cert] = second.certificates
    assert cert.subject_id == kept.subject_id
    assert cert.data_key_destroyed is True
    assert cert.reason == "retention expired"
    assert rows(fg, "SELECT purpose, status FROM consents ORDER BY purpose") == [
        ("access-control", "expired"), ("attendance", "expired")
    ]
    assert rows(fg, "SELECT count(*) FROM templates") == [(0,)]
    with pytest.raises(NotFound):
        fg.rights.export(ALICE[1])
    assert fg.identify(probe, "access-control").decision == "unknown"
    assert fg.rights.sweep(now=later(800)).templates_deleted == 0


def test_retention_certificate_lists_the_expired_templates(fg: Faceguard, lfw: Path) -> None:
    """Like a withdrawal's certificate, the one a sweep issues covers the templates it
    deleted for that subject (erase_subject's ``already_deleted``)."""
    consent(fg, ALICE, "attendance")
    enrolled = fg.enroll(ALICE[1], [photo(lfw, ALICE, 1)], "attendance")
    [cert] = fg.rights.sweep(now=later(60)).certificates
    assert cert.subject_id == enrolled.subject_id
    assert cert.templates_deleted == enrolled.template_ids


# ---- the notice in two languages, and the language a person read (R2, R3) --------------


def test_notice_is_published_in_english_and_chinese_with_the_texts_terms(fg: Faceguard
                                                                        ) -> None:
    notice = fg.consent.publish_notice(
        "attendance", translations={"zh-CN": {"necessity": "员工无需工卡即可签到。"}})
    english, chinese = notice.in_language("en"), notice.in_language("zh-CN")
    assert set(english) == set(chinese) == {"controller", "contact", "purpose", "method",
                                             "retention", "necessity", "impact", "rights"}
    assert english["retention"] == "30 days from enrollment, then erased"
    assert chinese["retention"] == "自录入之日起保存 30 天，届时删除"
    assert chinese["purpose"] == "考勤（attendance）" and english["purpose"] == "attendance"
    assert chinese["necessity"] == "员工无需工卡即可签到。"
    assert "撤回同意" in chinese["rights"] and "privacy@test.example" in chinese["rights"]
    assert "加密" in chinese["method"] and "encrypted" in english["method"]
    # what the kiosk reads back is what was published, hash and all
    assert fg.consent.current_notice("attendance") == notice
    with pytest.raises(NoticeError, match="incomplete in zh-CN"):
        fg.consent.publish_notice("attendance", translations={"zh-CN": {"impact": " "}})
    with pytest.raises(NoticeError, match="zh-CN only"):
        fg.consent.publish_notice("attendance", translations={"fr": {"impact": "x"}})


def test_the_consent_records_the_language_of_the_notice_read(fg: Faceguard) -> None:
    chinese = fg.consent.grant(ALICE[1], "access-control", name=ALICE[2], method="click",
                               evidence="kiosk-3/18", language="zh-CN")
    default = fg.consent.grant(BOB[1], "access-control", name=BOB[2], method="click",
                               evidence="kiosk-3/19")  # the deployment's (gdpr: English)
    assert (chinese.language, default.language) == ("zh-CN", "en")
    assert last_event(fg).detail["language"] == "en"  # the processing record says it too
    stored = rows(fg, "SELECT c.language FROM consents c WHERE c.id IN (?, ?) ORDER BY c.id",
                  chinese.consent_id, default.consent_id)
    assert stored == [("zh-CN",), ("en",)]
    assert [c["language"] for c in fg.rights.export(ALICE[1]).consents] == ["zh-CN"]
    with pytest.raises(ConfigError, match="unknown notice language 'fr'"):
        fg.consent.grant(ALICE[1], "access-control", name=ALICE[2], method="click",
                         evidence="e", language="fr")


def test_a_notice_published_before_translations_existed_is_read_in_english(
        fg: Faceguard) -> None:
    from faceguard.consent import records

    with fg._store.write() as conn:
        old = records.publish_notice(conn, "attendance", {
            "controller": "Test Property Co.", "contact": "privacy@test.example",
            "purpose": "attendance", "method": "m", "retention": "r", "necessity": "n",
            "impact": "i", "rights": "x"})
    assert old.languages == ["en"] and old.in_language("zh-CN") == old.fields
    canonical = json.dumps(old.fields, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert old.sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    with pytest.raises(ConsentError, match="not published in 'zh-CN'") as refused:
        fg.consent.grant(ALICE[1], "attendance", name=ALICE[2], method="click",
                         evidence="e", language="zh-CN")
    assert refused.value.rule == "R2"
