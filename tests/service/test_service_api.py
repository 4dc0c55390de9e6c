"""The REST API over real faces: enroll, verify, identify, rights, records, reports; bad
input answered with problem details citing the rule, never a 5xx."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from conftest import CN_TEST_DEPLOYMENT, go_live
from faceguard import Faceguard
from faceguard.audit.certificates import from_json, verify_with_public_key
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.service import ServiceSettings
from test_service_support import Service, good_faces, make_service

PURPOSE = "access-control"
ENROLL = f"/api/v1/purposes/{PURPOSE}/enrollments"
VERIFY = f"/api/v1/purposes/{PURPOSE}/verifications"
IDENTIFY = f"/api/v1/purposes/{PURPOSE}/identifications"


@pytest.fixture()
def service(fg: Faceguard) -> Service:
    return make_service(fg)


@pytest.fixture(scope="module")
def people(engine: DlibEngine, lfw: Path) -> list[list[bytes]]:
    return [[p.read_bytes() for p in person] for person in good_faces(engine, lfw, 2)]


def consent(service: Service, external_id: str, purpose: str = PURPOSE) -> dict[str, object]:
    response = service.client.post("/api/v1/consents", headers=service.auth("operator"), json={
        "external_id": external_id, "name": "Li Wei", "purpose": purpose, "method": "click",
        "evidence": "kiosk 3, 2026-11-22"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def png(size: tuple[int, int] = (200, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(out, "PNG")
    return out.getvalue()


def problem(response: httpx.Response, status: int, kind: str, rule: str | None = None
            ) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == f"/-/problems#{kind}" and body["status"] == status
    assert body.get("rule") == rule
    return body


def test_enroll_verify_and_identify_by_multipart_and_raw_body(service: Service,
                                                              people: list[list[bytes]]
                                                              ) -> None:
    client, op, term = service.client, service.auth("operator"), service.auth("terminal")
    receipt = consent(service, "emp-17")
    assert receipt["notice_version"] == 1
    enrolled = client.post(ENROLL, headers=op, data={"external_id": "emp-17"},
                           files=[("image", ("a.jpg", people[0][0], "image/jpeg"))])
    assert enrolled.status_code == 201, enrolled.text
    assert len(enrolled.json()["template_ids"]) == 1
    same = client.post(VERIFY, headers={**term, "X-External-Id": "emp-17",
                                        "Content-Type": "image/jpeg"}, content=people[0][1])
    assert same.status_code == 200 and same.json()["decision"] == "match"
    assert "score" not in same.json()  # R17: decisions, not scores
    other = client.post(VERIFY, headers=term, data={"external_id": "emp-17"},
                        files={"image": ("b.jpg", people[1][0])})
    assert other.json()["decision"] == "no-match"
    found = client.post(IDENTIFY, headers=term, files={"image": ("p.jpg", people[0][1])})
    assert found.json()["decision"] == "match" and found.json()["external_id"] == "emp-17"
    unknown = client.post(IDENTIFY, headers={**term, "Content-Type": "application/octet-stream"},
                          content=people[1][1])
    assert unknown.json() == {**unknown.json(), "decision": "unknown", "external_id": None}
    explained = client.get(f"/api/v1/decisions/{same.json()['audit_seq']}/explanation",
                           headers=service.auth("auditor")).json()
    assert "matched the claimed person" in explained["text"]
    assert explained["rules"] == ["R1", "R3"] and "score" not in explained
    metrics = client.get("/-/metrics", headers=service.auth("auditor")).text
    assert 'faceguard_decisions_total{operation="face.verified",outcome="match"} 1' in metrics
    assert "faceguard_people_enrolled 1" in metrics


def test_enrollment_takes_several_images_all_or_nothing(service: Service,
                                                        people: list[list[bytes]]) -> None:
    consent(service, "emp-18")
    op = service.auth("operator")
    two = [("image", ("1.jpg", people[0][0])), ("image", ("2.jpg", people[0][1]))]
    broken = [("image", ("1.jpg", people[0][0])), ("image", ("2.png", png()))]
    refused = service.client.post(ENROLL, headers=op, data={"external_id": "emp-18"},
                                  files=broken)
    body = problem(refused, 422, "no-usable-face")
    assert body["error"] == "NoFaceFound" and "image 2 of 2" in str(body["detail"])
    assert service.fg.governance.people_enrolled() == 0  # nothing kept
    done = service.client.post(ENROLL, headers=op, data={"external_id": "emp-18"}, files=two)
    assert done.status_code == 201 and len(done.json()["template_ids"]) == 2


def test_refusals_cite_their_rule(service: Service, people: list[list[bytes]]) -> None:
    client, op = service.client, service.auth("operator")
    no_consent = client.post(ENROLL, headers=op, data={"external_id": "stranger"},
                             files={"image": ("a.jpg", people[0][0])})
    problem(no_consent, 403, "refused-by-rule", "R3")
    base = {"external_id": "x", "name": "X", "method": "click", "evidence": "e"}
    undeclared = client.post("/api/v1/consents", headers=op,
                             json={**base, "purpose": "payment-verification"})
    assert "not declared" in str(problem(undeclared, 403, "refused-by-rule", "R1")["detail"])
    forbidden = client.post("/api/v1/consents", headers=op,
                            json={**base, "purpose": "emotion-analysis"})
    problem(forbidden, 403, "refused-by-rule", "R27")
    minor = client.post("/api/v1/consents", headers=op,
                        json={**base, "purpose": PURPOSE, "under_14": True})
    problem(minor, 403, "refused-by-rule", "R5")
    guardian_for_adult = client.post("/api/v1/consents", headers=op, json={
        **base, "purpose": PURPOSE, "guardian": {"name": "G", "relationship": "mother",
                                                 "evidence": "id card"}})
    problem(guardian_for_adult, 422, "validation")


def test_a_consent_needs_a_published_notice(data_dir: Path, engine: DlibEngine) -> None:
    with Faceguard.open(data_dir, engine=engine) as fg:  # no notice published yet
        service = make_service(fg)
        response = service.client.post("/api/v1/consents", headers=service.auth("operator"),
                                       json={"external_id": "x", "name": "X",
                                             "purpose": PURPOSE, "method": "click",
                                             "evidence": "e"})
        problem(response, 409, "notice-required", "R2")
        assert service.client.get(f"/api/v1/notices/{PURPOSE}",
                                  headers=service.auth("terminal")).status_code == 404
        published = service.client.post(f"/api/v1/notices/{PURPOSE}",
                                         headers=service.auth("admin"))
        assert published.status_code == 201
        notice = service.client.get(f"/api/v1/notices/{PURPOSE}",
                                    headers=service.auth("terminal")).json()
        assert notice["version"] == 1 and set(notice["fields"]) >= {"controller", "rights"}


@pytest.fixture()
def cn_fg(data_dir: Path, engine: DlibEngine) -> Iterator[Faceguard]:
    go_live(data_dir, CN_TEST_DEPLOYMENT, engine)  # cn needs liveness (R26): not live
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice(PURPOSE)
        yield fg


def test_a_deployment_failing_its_check_refuses_faces(cn_fg: Faceguard,
                                                      people: list[list[bytes]]) -> None:
    service = make_service(cn_fg)
    consent(service, "emp-19")
    refused = service.client.post(ENROLL, headers=service.auth("operator"),
                                  data={"external_id": "emp-19"},
                                  files={"image": ("a.jpg", people[0][0])})
    problem(refused, 403, "refused-by-rule", "R26")
    health = service.client.get("/-/health").json()
    assert health["deployment_live"] is False
    check = service.client.get("/api/v1/check", headers=service.auth("operator")).json()
    assert check["status"] == "fail" and "R26" in {v["rule"] for v in check["violations"]}


def test_uploads_are_limited_and_sniffed(fg: Faceguard, people: list[list[bytes]]) -> None:
    service = make_service(fg, ServiceSettings(max_upload_bytes=50_000, max_images=2))
    consent(service, "emp-20")
    client, op, term = service.client, service.auth("operator"), service.auth("terminal")
    big = b"\xff\xd8\xff" + b"\0" * 60_000
    problem(client.post(VERIFY, headers={**term, "X-External-Id": "emp-20"}, content=big),
            413, "too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(8):
            yield b"\0" * 10_000

    problem(client.post(IDENTIFY, headers=term, content=chunks()), 413, "too-large")
    text = client.post(IDENTIFY, headers={**term, "Content-Type": "image/jpeg"},
                       content=b"hello, I am not a picture")
    problem(text, 415, "unsupported-media-type")
    problem(client.post(IDENTIFY, headers={**term, "Content-Type": "text/plain"},
                        content=people[0][0][:1000]), 415, "unsupported-media-type")
    truncated = client.post(IDENTIFY, headers=term, content=people[0][0][:300])
    assert problem(truncated, 422, "invalid-image")["error"] == "ImageDecodeError"
    labelled_wrong = client.post(IDENTIFY, headers={**term, "Content-Type": "image/jpeg"},
                                 content=png())  # a PNG: judged by its bytes, then no face
    assert problem(labelled_wrong, 422, "no-usable-face")["error"] == "NoFaceFound"
    three = [("image", (f"{i}.jpg", people[0][0][:100])) for i in range(3)]
    problem(client.post(ENROLL, headers=op, data={"external_id": "emp-20"}, files=three),
            422, "validation")
    problem(client.post(ENROLL, headers=op, data={"external_id": "emp-20"},
                        files={"photo": ("a.jpg", b"\xff\xd8\xff")}), 422, "validation")
    problem(client.post(VERIFY, headers=term, files={"image": ("a.jpg", png())}),
            422, "validation")  # no external ID
    problem(client.post(ENROLL, headers={**op, "Content-Type": "multipart/form-data; b=x"},
                        content=b"--x\r\nbroken"), 422, "validation")
    unfinished = (b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"'
                  b"\r\n\r\n" + people[0][0])  # no closing boundary
    problem(client.post(ENROLL, headers={**op, "Content-Type": "multipart/form-data; "
                                         "boundary=x"}, content=unfinished), 422, "validation")


def test_withdrawal_and_erasure_give_verifiable_certificates(service: Service,
                                                            people: list[list[bytes]]) -> None:
    client, admin = service.client, service.auth("admin")
    for person in ("emp-21", "emp-22"):
        consent(service, person)
    withdrawn = client.post("/api/v1/withdrawals", headers=service.auth("operator"),
                            json={"external_id": "emp-21", "purpose": PURPOSE}).json()
    assert withdrawn["certificate"]["reason"] == "consent withdrawn"
    key = client.get("/-/public-key").json()["public_key"]
    assert verify_with_public_key(from_json(withdrawn["certificate"]), key)
    erased = client.post("/api/v1/erasures", headers=admin,
                         json={"external_id": "emp-22", "reason": "request"})
    assert erased.status_code == 200 and erased.json()["data_key_destroyed"] is True
    assert verify_with_public_key(from_json(erased.json()), key)
    stored = client.get(f"/api/v1/certificates/{erased.json()['certificate_id']}",
                        headers=service.auth("auditor")).json()
    assert stored == erased.json()
    again = client.post("/api/v1/erasures", headers=admin, json={"external_id": "emp-22"})
    problem(again, 404, "not-found")


def test_export_holds_everything_but_template_bytes(service: Service,
                                                   people: list[list[bytes]]) -> None:
    consent(service, "emp-23")
    service.client.post(ENROLL, headers=service.auth("operator"), data={"external_id": "emp-23"},
                        files={"image": ("a.jpg", people[0][0])})
    export = service.client.post("/api/v1/exports", headers=service.auth("admin"),
                                 json={"external_id": "emp-23"}).json()
    assert export["identity"] == {"external_id": "emp-23", "name": "Li Wei"}
    assert [c["purpose"] for c in export["consents"]] == [PURPOSE]
    assert set(export["templates"][0]) == {"template_id", "purpose", "engine", "created_at",
                                           "expires_at"}
    assert {e["operation"] for e in export["events"]} >= {"consent.granted",
                                                          "template.enrolled"}


def test_review_requests_are_answered_once(service: Service, people: list[list[bytes]]) -> None:
    consent(service, "emp-24")
    service.client.post(ENROLL, headers=service.auth("operator"), data={"external_id": "emp-24"},
                        files={"image": ("a.jpg", people[0][0])})
    decision = service.client.post(VERIFY, headers=service.auth("terminal"),
                                   data={"external_id": "emp-24"},
                                   files={"image": ("b.jpg", people[1][0])}).json()
    opened = service.client.post("/api/v1/reviews", headers=service.auth("operator"), json={
        "decision_seq": decision["audit_seq"], "reason": "the gate did not open for me"})
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    listed = service.client.get("/api/v1/reviews?status=open",
                                headers=service.auth("auditor")).json()
    assert [r["id"] for r in listed] == [opened.json()["id"]]
    url = f"/api/v1/reviews/{opened.json()['id']}/answer"
    answered = service.client.post(url, headers=service.auth("admin"),
                                   json={"answer": "a different person; correct"}).json()
    assert answered["status"] == "answered" and answered["answered_by"].startswith("admin holder")
    problem(service.client.post(url, headers=service.auth("admin"), json={"answer": "again"}),
            400, "bad-request")
    problem(service.client.post("/api/v1/reviews", headers=service.auth("admin"),
                                json={"decision_seq": 10**9, "reason": "x"}), 404, "not-found")


def test_the_record_verifies_and_pages(service: Service) -> None:
    reader = service.auth("auditor")
    report = service.client.get("/api/v1/audit/verification", headers=reader).json()
    assert report["ok"] is True and report["events"] > 0
    first = service.client.get("/api/v1/audit/events?limit=2", headers=reader).json()
    assert len(first) == 2 and first[0]["seq"] == first[1]["seq"] + 1
    older = service.client.get(f"/api/v1/audit/events?limit=2&before={first[1]['seq']}",
                               headers=reader).json()
    assert older[0]["seq"] == first[1]["seq"] - 1
    assert older[0]["hash"] == first[1]["prev_hash"]


def test_the_verification_names_a_revived_consent(service: Service) -> None:
    """The report carries every finding of the integrity check, not only the chain's."""
    fg = service.fg
    fg.consent.grant("emp-rev", "attendance", name="x", method="click", evidence="e")
    fg.consent.grant("emp-rev", "access-control", name="x", method="click", evidence="e")
    fg.consent.withdraw("emp-rev", "attendance")
    reader = service.auth("auditor")
    assert service.client.get("/api/v1/audit/verification", headers=reader).json()["ok"]
    with fg._store.records.begin() as conn:  # someone revives the ended consent in the file
        conn.execute(sa.text("UPDATE consents SET status = 'active', ended_at = NULL "
                             "WHERE purpose = 'attendance'"))
    report = service.client.get("/api/v1/audit/verification", headers=reader).json()
    assert report["ok"] is False
    assert [f["kind"] for f in report["findings"]] == ["consent-revived"]


def test_reports_in_json_html_and_pdf(service: Service) -> None:
    reader = service.auth("auditor")
    as_json = service.client.get("/api/v1/reports/assessment", headers=reader)
    assert as_json.status_code == 200 and as_json.json()["approval"]["by"] == "Test DPO"
    html = service.client.get("/api/v1/reports/assessment?format=html", headers=reader)
    assert html.headers["content-type"].startswith("text/html")
    assert "impact assessment" in html.text.lower()
    pdf = service.client.get("/api/v1/reports/protection?format=pdf", headers=reader)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    filing = service.client.get("/api/v1/reports/filing", headers=reader)  # gdpr: none
    problem(filing, 404, "not-found", "R15")


def test_the_filing_packet_under_the_chinese_measures(cn_fg: Faceguard) -> None:
    service = make_service(cn_fg)
    reader = service.auth("admin")
    packet = service.client.get("/api/v1/reports/filing", headers=reader)
    assert packet.status_code == 200 and packet.json()["status"]["threshold"] == 100000
    pdf = service.client.get("/api/v1/reports/filing?format=pdf", headers=reader)
    assert pdf.content.startswith(b"%PDF")
    assert cn_fg._store.audit.events(operation="filing.packet_made")


def test_openapi_health_metrics_and_headers(service: Service) -> None:
    client = service.client
    spec = client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) >= 50 and all("x-roles" in op for op in operations)
    assert "Problem" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    docs = client.get("/-/docs")
    assert "/openapi.json" in docs.text and not re.search(r"(src|href)=\"https?://", docs.text)
    health = client.get("/-/health")
    answer = health.json()
    assert answer == {"status": "ok", "version": answer["version"], "deployment_live": True,
                      "config": "current", "config_problem": None,
                      "config_loaded_at": answer["config_loaded_at"]}
    assert answer["config_loaded_at"]
    assert "frame-ancestors 'none'" in health.headers["content-security-policy"]
    assert health.headers["x-content-type-options"] == "nosniff"
    client.get("/api/v1/decisions/12345/explanation", headers=service.auth("admin"))
    metrics = client.get("/-/metrics", headers=service.auth("admin"))
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = metrics.text.splitlines()
    assert "# TYPE faceguard_http_requests_total counter" in lines
    assert ('faceguard_http_requests_total{method="GET",route="/api/v1/decisions/{seq}/'
            'explanation",status="404"} 1') in lines
    assert "12345" not in metrics.text  # route templates, never raw paths
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$')
    assert all(line.startswith("#") or sample.match(line) for line in lines)


def test_hostile_inputs_get_4xx_never_5xx(service: Service) -> None:
    client, admin = service.client, service.auth("admin")
    cases = [
        client.get("/api/v1/decisions/99999999999999999999/explanation", headers=admin),
        client.post("/api/v1/reviews", headers=admin, json={"decision_seq": 2**63,
                                                            "reason": "x"}),
        client.post("/api/v1/erasures", headers={**admin, "Content-Type": "application/json"},
                    content=b"{not json"),
        client.post("/api/v1/erasures", headers=admin, json={"external_id": "x" * 5000}),
        client.post("/api/v1/erasures", headers=admin, json={"external_id": "\0\ud7ff",
                                                             "reason": "r" * 201}),
        client.get("/api/v1/reports/nonsense", headers=admin),
        client.get("/subjects/s_zz", headers=admin),
        client.get("/record?before=-1", headers=admin),
        client.post("/api/v1/keys", headers=admin, json={"role": "terminal", "holder": "t"}),
        client.post("/api/v1/keys", headers=admin, json={"role": "terminal", "holder": "t",
                                                         "purposes": ["payment-verification"]}),
        client.put("/api/v1/check", headers=admin),
        client.get("/no/such/page"),
    ]
    statuses = [r.status_code for r in cases]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert all(r.headers["content-type"] == "application/problem+json" for r in cases)


def test_enrollment_takes_the_face_to_enroll(service: Service, faces: Path) -> None:
    """A picture with two faces: refused saying how many, enrolled with ``face=centre``."""
    consent(service, "emp-19")
    op = service.auth("operator")
    two = (faces / "face_recognition/examples/two_people.jpg").read_bytes()
    refused = service.client.post(ENROLL, headers=op, data={"external_id": "emp-19"},
                                  files={"image": ("two.jpg", two)})
    assert refused.status_code == 422 and "2 faces were found" in refused.text
    done = service.client.post(f"{ENROLL}?face=centre", headers=op,
                               data={"external_id": "emp-19"}, files={"image": ("two.jpg", two)})
    assert done.status_code == 201, done.text
    bad = service.client.post(f"{ENROLL}?face=left", headers=op,
                              data={"external_id": "emp-19"}, files={"image": ("two.jpg", two)})
    assert bad.status_code == 422


def test_notices_in_two_languages_and_the_language_a_consent_was_read_in(
        service: Service) -> None:
    """REST: a notice published with its Chinese text, read back in both languages; a
    consent names the language of the notice read (default: the deployment's)."""
    admin, operator = service.auth("admin"), service.auth("operator")
    published = service.client.post(
        "/api/v1/notices/attendance", headers=admin,
        json={"translations": {"zh-CN": {"necessity": "员工无需工卡即可签到。"}}})
    assert published.status_code == 201, published.text
    texts = service.client.get("/api/v1/notices/attendance", headers=operator).json()["texts"]
    assert texts["zh-CN"]["necessity"] == "员工无需工卡即可签到。"
    assert texts["zh-CN"]["retention"] == "自录入之日起保存 30 天，届时删除"
    assert texts["en"]["retention"] == "30 days from enrollment, then erased"
    body = {"external_id": "emp-zh", "name": "Wang Fang", "purpose": "attendance",
            "method": "click", "evidence": "tablet 4"}
    read = service.client.post("/api/v1/consents", headers=operator,
                               json=body | {"language": "zh-CN"})
    assert read.status_code == 201 and read.json()["language"] == "zh-CN"
    default = service.client.post("/api/v1/consents", headers=operator,
                                  json=body | {"external_id": "emp-en"})
    assert default.json()["language"] == "en"  # the gdpr test deployment's language
    problem(service.client.post("/api/v1/consents", headers=operator,
                                json=body | {"language": "fr"}), 422, "validation")
    problem(service.client.post("/api/v1/notices/attendance", headers=admin,
                                json={"translations": {"zh-CN": {"impact": ""}}}),
            422, "validation")
    assert [c["language"] for c in service.fg.rights.export("emp-zh").consents] == ["zh-CN"]
