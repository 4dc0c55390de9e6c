"""The operator/DPO pages and the kiosk, through the HTTP client (the browser tests drive
the same pages in Chromium). Every page has a JSON twin and loads nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import TEST_DEPLOYMENT, go_live
from faceguard import Faceguard, db
from faceguard.assess import FilingStatus
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.service import ServiceSettings
from test_service_support import Service, good_faces, make_service

PURPOSE = "access-control"
PAGES = ["/dashboard", "/subjects", "/record", "/reports", "/reviews", "/keys"]


@pytest.fixture()
def service(fg: Faceguard) -> Service:
    return make_service(fg)


@pytest.fixture(scope="module")
def photos(engine: DlibEngine, lfw: Path) -> list[bytes]:
    return [p.read_bytes() for p in good_faces(engine, lfw, 1)[0]]


def html(service: Service, role: str, path: str, **kwargs: object) -> str:
    response = service.client.get(path, headers={**service.auth(role), "Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_every_page_has_a_json_twin_and_no_external_resource(service: Service) -> None:
    for path in [*PAGES, "/assessment", "/kiosk", "/enroll", "/try"]:
        role = "operator" if path in ("/kiosk", "/enroll", "/try") else "admin"
        page = html(service, role, path)
        assert not re.search(r"(src|href|action)=\"(https?:)?//", page), path
        assert '<link rel="stylesheet" href="/-/static/service.css">' in page
        twin = service.client.get(path + ".json", headers=service.auth(role))
        assert twin.status_code == 200 and twin.headers["content-type"] == "application/json"
    css = service.client.get("/-/static/service.css").text
    assert "@import" not in css and "url(" not in css


def test_development_mode_shows_a_banner_on_every_page(fg: Faceguard) -> None:
    service = make_service(fg, ServiceSettings(dev=True))
    for path in ["/dashboard", "/-/login", "/kiosk"]:
        role = "operator" if path == "/kiosk" else "admin"
        assert "DEVELOPMENT MODE" in html(service, role, path)
    assert "DEVELOPMENT MODE" not in html(make_service(fg), "admin", "/dashboard")


def test_the_dashboard_shows_each_violation_with_its_rule(data_dir: Path,
                                                          engine: DlibEngine) -> None:
    failing = TEST_DEPLOYMENT.replace('place = "residential-entrance"', 'place = "hotel-room"')
    (data_dir / "faceguard.toml").write_text(failing, encoding="utf-8")
    with Faceguard.open(data_dir, engine=engine) as fg:
        service = make_service(fg)
        page = html(service, "auditor", "/dashboard")
        assert ">FAIL<" in page
        violations = re.findall(r'<tr class="violation"><td class="rule">(\w+)</td>', page)
        data = service.client.get("/dashboard.json", headers=service.auth("auditor")).json()
        assert violations == [v["rule"] for v in data["check"]["violations"]]
        assert violations == ["P2", "R13"]  # the assessment is stale (gdpr: P2); a hotel room


def test_the_dashboard_shows_people_against_the_filing_threshold(
        service: Service, fg: Faceguard, monkeypatch: pytest.MonkeyPatch) -> None:
    crossed = FilingStatus(True, False, date(2026, 3, 2), date(2026, 4, 14), False,
                           "R15: filing required since 2026-03-02", people=10001,
                           threshold=10000, inclusive=False, trigger="count")
    monkeypatch.setattr(fg.governance, "filing_status", lambda today=None: crossed)
    page = html(service, "admin", "/dashboard")
    section = page[page.index('id="filing"'):page.index('id="templates"')]
    assert "filing required" in section and "2026-04-14" in section
    assert 'max="10000"' in section and "&gt; 10000 people" in section


def test_the_dashboard_lists_templates_expiring_soon(service: Service, fg: Faceguard,
                                                     photos: list[bytes]) -> None:
    fg.consent.grant("emp-1", "attendance", name="A", method="click", evidence="e")
    fg.enroll("emp-1", [photos[0]], "attendance")  # 30-day retention
    data = service.client.get("/dashboard.json", headers=service.auth("admin")).json()
    assert [(x["purpose"], x["templates"]) for x in data["expiring"]] == [("attendance", 1)]
    assert data["people"] == 1 and data["templates"] == {"attendance": 1}
    assert "attendance" in html(service, "admin", "/dashboard").split('id="expiring"')[1]


def test_people_and_their_consents(service: Service, fg: Faceguard) -> None:
    fg.consent.grant("emp-2", PURPOSE, name="Zhang San", method="written", evidence="form 7")
    fg.consent.grant("emp-2", "attendance", name="Zhang San", method="click", evidence="k")
    fg.consent.withdraw("emp-2", "attendance")
    listed = service.client.get("/subjects.json", headers=service.auth("operator")).json()
    person = listed["subjects"][0]
    assert (listed["total"], person["name"], person["external_id"]) == (1, "Zhang San", "emp-2")
    assert [(c["purpose"], c["status"]) for c in person["consents"]] == [
        (PURPOSE, "active"), ("attendance", "withdrawn")]
    page = html(service, "operator", "/subjects")
    assert "Zhang San" in page and "withdrawn" in page
    assert f'href="/subjects/{person["subject_id"]}"' not in page  # only admins open a person
    detail = html(service, "admin", f"/subjects/{person['subject_id']}")
    assert "form 7" in detail and "Erase now" in detail
    assert fg._store.audit.events(operation="subject.exported")  # viewing is recorded (R16)


def test_showing_names_is_recorded_once_per_page(fg: Faceguard) -> None:
    service = make_service(fg, ServiceSettings(page_size=2))
    for number in range(3):
        fg.consent.grant(f"emp-{number}", PURPOSE, name=f"Person {number}", method="written",
                         evidence=f"form {number}")
    operator = service.auth("operator")
    first = service.client.get("/subjects.json", headers=operator).json()
    second = service.client.get("/subjects?page=2", headers={**operator, "Accept": "text/html"})
    assert second.status_code == 200 and "Person 0" in second.text
    actor = next(k.actor for k in service.app.state.service.keys.list_keys()
                 if k.role == "operator")
    shown = fg._store.audit.events(operation="identity.displayed")
    assert [(e.actor, e.outcome, e.detail["count"], e.detail["offset"]) for e in shown] == [
        (actor, "ok", 2, 0), (actor, "ok", 1, 2)]
    assert shown[0].detail["subjects"] == [s["subject_id"] for s in first["subjects"]]
    assert len(set(shown[0].detail["subjects"] + shown[1].detail["subjects"])) == 3
    assert set(shown[0].rules) == {"R11", "R14"}
    # nobody shown, nothing decrypted: no event
    service.client.get("/subjects.json?page=9", headers=operator)
    assert len(fg._store.audit.events(operation="identity.displayed")) == 2


def test_erasing_from_the_page_shows_the_certificate_and_a_verified_chain(
        service: Service, fg: Faceguard) -> None:
    fg.consent.grant("emp-3", PURPOSE, name="Li Si", method="click", evidence="e")
    subject = service.client.get("/subjects.json", headers=service.auth("admin")
                                 ).json()["subjects"][0]["subject_id"]
    response = service.client.post(f"/subjects/{subject}/erase", data={"reason": "request"},
                                   headers=service.auth("admin"), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/record?certificate=c_")
    page = html(service, "admin", response.headers["location"])
    assert 'id="erased"' in page and "CHAIN VERIFIED" in page
    assert re.search(r"<code>subject\.erased</code></td>\s*<td class=\"ok\">ok</td>", page)
    twin = service.client.get(response.headers["location"].replace("/record", "/record.json"),
                              headers=service.auth("admin")).json()
    assert twin["verification"]["ok"] and twin["certificate"]["subject_id"] == subject


def test_the_record_page_says_when_the_chain_was_tampered_with(service: Service,
                                                               fg: Faceguard) -> None:
    with fg._store.records.begin() as conn:
        conn.execute(db.audit_events.update().where(db.audit_events.c.seq == 2)
                     .values(outcome="forged"))
    page = html(service, "auditor", "/record")
    assert "TAMPERED" in page and "at event 2" in page


def test_review_answers_and_key_creation_by_form(service: Service, fg: Faceguard,
                                                 photos: list[bytes]) -> None:
    fg.consent.grant("emp-4", PURPOSE, name="W", method="click", evidence="e")
    fg.enroll("emp-4", [photos[0]], PURPOSE)
    decision = fg.verify("emp-4", photos[1], PURPOSE).audit_seq
    opened = fg.rights.request_review(decision, "why?")
    assert "Record answer" in html(service, "admin", "/reviews")
    assert "Record answer" not in html(service, "auditor", "/reviews")
    service.client.post(f"/reviews/{opened.id}/answer", data={"answer": "it was you"},
                        headers=service.auth("admin"))
    assert fg.rights.reviews("answered")[0].answer == "it was you"
    made = service.client.post("/keys", headers=service.auth("admin"), data={
        "role": "terminal", "holder": "north gate", "purposes": [PURPOSE]})
    assert made.status_code == 201
    secret = re.search(r'id="new-secret">(fgk_[^<]+)<', made.text)
    assert secret is not None
    assert secret.group(1) not in html(service, "admin", "/keys")  # shown once
    me = service.client.get("/api/v1/me", headers={"X-API-Key": secret.group(1)}).json()
    assert me["key"]["purposes"] == [PURPOSE]


# ---- the kiosk --------------------------------------------------------------------------


def kiosk_post(service: Service, path: str, data: dict[str, str]) -> str:
    response = service.client.post(path, data=data, headers=service.auth("operator"))
    assert response.status_code == 200, response.text
    return response.text


def test_the_kiosk_asks_each_purpose_separately_with_nothing_preselected(
        service: Service) -> None:
    start = html(service, "operator", "/kiosk")
    assert "resident card" in start and "checked" not in start
    page = kiosk_post(service, "/kiosk/consent", {"external_id": "r-1", "name": "Wang"})
    assert "checked" not in page
    for purpose in (PURPOSE, "attendance"):
        assert page.count(f'name="consent-{purpose}"') == 2  # yes / no, neither ticked
        assert f'id="notice-{purpose}"' in page
    assert "Your rights" in page and "privacy@test.example" in page


def test_declining_shows_the_alternatives_is_recorded_and_never_asked_again(
        service: Service, fg: Faceguard) -> None:
    page = kiosk_post(service, "/kiosk/decide", {
        "external_id": "r-2", "name": "Chen", "consent-access-control": "decline",
        "consent-attendance": "decline"})
    assert 'id="declined-message"' in page and "resident card" in page
    declined = fg._store.audit.events(operation="consent.declined")
    assert [(e.purpose, e.subject, e.rules) for e in declined] == [
        (PURPOSE, None, ("R4", "R6")), ("attendance", None, ("R4", "R6"))]
    assert fg.stats().people == 0  # a person who says no is not stored
    with fg._store.records.connect() as conn:
        stored = conn.execute(sa.select(db.consent_declines.c.lookup_hash)).scalars().all()
    assert "r-2" not in stored and len(stored) == 2  # keyed hash only
    again = kiosk_post(service, "/kiosk/consent", {"external_id": "r-2", "name": "Chen"})
    assert "You said no before" in again and 'name="consent-' not in again
    other = kiosk_post(service, "/kiosk/consent", {"external_id": "r-3", "name": "Other"})
    assert 'name="consent-access-control"' in other


def test_agreeing_to_one_purpose_records_a_click_consent_and_enrolls(
        service: Service, fg: Faceguard, photos: list[bytes]) -> None:
    page = kiosk_post(service, "/kiosk/decide", {
        "external_id": "r-4", "name": "Liu", "consent-access-control": "agree",
        "consent-attendance": "decline"})
    assert 'id="capture-form"' in page and "You said no to attendance" in page
    exported = fg.rights.export("r-4")
    (granted,) = exported.consents
    assert (granted["purpose"], granted["method"]) == (PURPOSE, "click")
    assert granted["evidence_ref"].startswith("kiosk k_")
    no_face = service.client.post("/kiosk/enroll", headers=service.auth("operator"),
                                  data={"external_id": "r-4", "purpose": PURPOSE},
                                  files={"image": ("x.jpg", photos[0][:2000])})
    assert no_face.status_code == 422 and "could not be read" in no_face.text
    done = service.client.post("/kiosk/enroll", headers=service.auth("operator"),
                               data={"external_id": "r-4", "purpose": PURPOSE},
                               files={"image": ("camera.jpg", photos[0])})
    assert done.status_code == 200 and 'id="outcome-ok"' in done.text
    assert "Your photo was not kept" in done.text
    assert fg.verify("r-4", photos[1], PURPOSE).decision == "match"
    later = kiosk_post(service, "/kiosk/consent", {"external_id": "r-4", "name": "Liu"})
    assert "You already agreed to access control" in later
    assert "You said no to attendance" in later and 'name="consent-' not in later
    unanswered = service.client.post("/kiosk/decide", headers=service.auth("operator"), data={
        "external_id": "r-5", "name": "New", "consent-access-control": "agree"})
    assert unanswered.status_code == 422 and "Please answer each question" in unanswered.text
    assert fg.stats().people == 1  # nothing recorded for r-5
    confirmed = kiosk_post(service, "/kiosk/decide", {"external_id": "r-4", "name": "Liu"})
    assert 'id="capture-form"' in confirmed  # nothing left to ask: straight to the photo


def test_under_14_needs_a_guardian(service: Service, fg: Faceguard) -> None:
    page = kiosk_post(service, "/kiosk/consent", {"external_id": "c-1", "name": "Xiao",
                                                  "under_14": "true"})
    assert 'id="guardian"' in page and 'name="guardian_relationship"' in page
    missing = service.client.post("/kiosk/decide", headers=service.auth("operator"), data={
        "external_id": "c-1", "name": "Xiao", "under_14": "true",
        "consent-access-control": "agree", "consent-attendance": "decline"})
    assert missing.status_code == 403 and "R5" in missing.text
    assert "resident card" in missing.text
    with_guardian = kiosk_post(service, "/kiosk/decide", {
        "external_id": "c-2", "name": "Xiao", "under_14": "true",
        "consent-access-control": "agree", "consent-attendance": "decline",
        "guardian_name": "Xiao Ma", "guardian_relationship": "mother",
        "guardian_evidence": "ID card seen by the guard"})
    assert 'id="capture-form"' in with_guardian
    (granted,) = fg.rights.export("c-2").consents
    assert granted["minor"] is True and granted["guardian"]["relationship"] == "mother"


@pytest.fixture()
def no_minors(data_dir: Path, engine: DlibEngine) -> Iterator[Faceguard]:
    go_live(data_dir, TEST_DEPLOYMENT.replace('minors_rules = "https://test.example/minors"',
                                              'minors_rules = ""'), engine)
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice(PURPOSE)
        yield fg


def test_under_14_without_published_rules_gets_the_alternatives(no_minors: Faceguard) -> None:
    service = make_service(no_minors)
    response = service.client.post("/kiosk/consent", headers=service.auth("operator"),
                                   data={"external_id": "c-3", "name": "Y", "under_14": "true"})
    assert response.status_code == 403
    assert "not offered to under-14s" in response.text and "resident card" in response.text


def test_the_kiosk_says_when_a_purpose_has_no_notice(data_dir: Path, engine: DlibEngine
                                                    ) -> None:
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice(PURPOSE)  # attendance has none
        service = make_service(fg)
        page = kiosk_post(service, "/kiosk/consent", {"external_id": "r-9", "name": "Z"})
        assert "attendance is not available yet" in page
        assert 'name="consent-attendance"' not in page
        dashboard = html(service, "admin", "/dashboard")
        assert "not published: the kiosk cannot ask for consent" in dashboard
