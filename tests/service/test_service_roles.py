"""Every route, called by every role and by nobody: the expected 2xx/3xx, 401 or 403.

The table below is written out by hand (not read from the code) and must list every route
the app has; each allowed call is a real, valid request that succeeds (the kiosk's live
enrollment with a real head turning from ../shared/data/liveness: without it, this skips).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from faceguard import Faceguard
from faceguard.service.app import api_routes
from liveness.test_liveness_support import answerable_store, require_liveness, umist_answer
from test_service_support import ROLES, Service, good_faces, make_service, wire_frames

ADM, OPR, TRM, AUD = "admin", "operator", "terminal", "auditor"
STAFF = frozenset({ADM, OPR, AUD})
READERS = frozenset({ADM, AUD})
ANY_KEY = frozenset(ROLES)
PUBLIC = None
PURPOSE = "access-control"


@dataclass
class World:
    """A store with one enrolled person, a decision about them, and fresh IDs on demand."""

    fg: Faceguard
    service: Service
    faces: list[list[Path]]
    decision: int = 0  # the audit seq of a verification of "enrolled"
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_person(self, purposes: tuple[str, ...] = (PURPOSE,)) -> str:
        external = f"person-{next(self.counter)}"
        for purpose in purposes:
            self.fg.consent.grant(external, purpose, name="Test Person", method="click",
                                  evidence="test")
        return external

    def subject_of(self, external: str) -> str:
        with self.fg._store.records.connect() as conn:
            subject = self.fg._store.vault.find_subject(conn, external)
        assert subject is not None
        return subject

    def image(self, person: int = 0, number: int = 0) -> bytes:
        return self.faces[person][number].read_bytes()


Request = tuple[str, dict[str, Any]]
Builder = Callable[[World, str | None], Request]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: frozenset[str] | None
    ok: int
    build: Builder


def plain(url: str) -> Builder:
    return lambda world, role: (url, {})


def new_key(world: World, role: str | None) -> str:
    return world.fg.api_keys.create("auditor", "spare", actor="test").key.id


def erased_certificate(world: World, role: str | None) -> str:
    return world.fg.rights.erase(world.new_person()).certificate_id


def review(world: World, role: str | None) -> int:
    return world.fg.rights.request_review(world.decision, "please check").id


def live_enrollment(world: World, role: str | None) -> Request:
    """A real live answer (a UMIST head turning) to a challenge of the operator's kiosk."""
    root = require_liveness()
    person = world.new_person()
    kiosk = next(k for k in world.service.app.state.service.keys.list_keys()
                 if k.role == OPR)
    # a store of its own: answers take their time on its clock (answerable_store)
    challenges = answerable_store()
    world.fg.liveness.configure().detector.challenges = challenges
    challenge = challenges.issue(kiosk.id, subject=person, movements=("turn-left", "turn-right"))
    frames = umist_answer(root, challenge, seed=700 + next(world.counter))
    return "/kiosk/enroll.json", {"json": {
        "external_id": person, "purposes": [PURPOSE],
        "liveness": {"challenge_id": challenge.id, "frames": wire_frames(frames)}}}


def complete_assessment(world: World) -> str:
    """The approval route, once every section of the draft holds the DPO's text."""
    for key in world.fg.governance.assessment().pending:
        world.fg.governance.write_section(key, "Reviewed by the DPO.", actor="test")
    return "/assessment/approve"


ROUTES = [
    Route("GET", "/", PUBLIC, 303, plain("/")),
    Route("GET", "/-/health", PUBLIC, 200, plain("/-/health")),
    Route("GET", "/-/metrics", READERS, 200, plain("/-/metrics")),
    Route("GET", "/-/public-key", PUBLIC, 200, plain("/-/public-key")),
    Route("GET", "/-/docs", PUBLIC, 200, plain("/-/docs")),
    Route("GET", "/-/problems", PUBLIC, 200, plain("/-/problems")),
    Route("GET", "/-/problems.json", PUBLIC, 200, plain("/-/problems.json")),
    Route("GET", "/-/login", PUBLIC, 200, plain("/-/login")),
    Route("POST", "/-/login", PUBLIC, 303, lambda w, r: (
        "/-/login", {"data": {"key": w.service.secrets[ADM], "next": "/dashboard"}})),
    Route("POST", "/-/logout", PUBLIC, 303, plain("/-/logout")),
    Route("POST", "/api/v1/purposes/{purpose}/enrollments", frozenset({OPR}), 201, lambda w, r: (
        f"/api/v1/purposes/{PURPOSE}/enrollments",
        {"files": {"image": ("face.jpg", w.image(1))}, "data": {"external_id": w.new_person()}})),
    Route("POST", "/api/v1/purposes/{purpose}/verifications", frozenset({TRM}), 200, lambda w, r: (
        f"/api/v1/purposes/{PURPOSE}/verifications",
        {"content": w.image(0, 1), "headers": {"Content-Type": "image/jpeg",
                                               "X-External-Id": "enrolled"}})),
    Route("POST", "/api/v1/purposes/{purpose}/identifications", frozenset({TRM}), 200,
          lambda w, r: (f"/api/v1/purposes/{PURPOSE}/identifications",
                        {"files": {"image": ("probe.jpg", w.image(0, 1))}})),
    Route("POST", "/api/v1/liveness/challenges", frozenset({OPR, TRM}), 201,
          plain("/api/v1/liveness/challenges")),
    Route("GET", "/api/v1/notices/{purpose}", ANY_KEY, 200, plain(f"/api/v1/notices/{PURPOSE}")),
    Route("POST", "/api/v1/notices/{purpose}", frozenset({ADM}), 201, lambda w, r: (
        "/api/v1/notices/attendance", {"json": {"fields": {"contact": "dpo@test.example"}}})),
    Route("POST", "/api/v1/consents", frozenset({OPR}), 201, lambda w, r: (
        "/api/v1/consents", {"json": {"external_id": f"new-{next(w.counter)}", "name": "N",
                                      "purpose": PURPOSE, "method": "click",
                                      "evidence": "kiosk 1"}})),
    Route("POST", "/api/v1/withdrawals", frozenset({ADM, OPR}), 200, lambda w, r: (
        "/api/v1/withdrawals", {"json": {"external_id": w.new_person(), "purpose": PURPOSE}})),
    Route("POST", "/api/v1/erasures", frozenset({ADM}), 200, lambda w, r: (
        "/api/v1/erasures", {"json": {"external_id": w.new_person(), "reason": "request"}})),
    Route("POST", "/api/v1/redactions", frozenset({ADM, OPR}), 200, lambda w, r: (
        "/api/v1/redactions", {"content": w.image(0, 1),
                               "headers": {"Content-Type": "image/jpeg"}})),
    Route("POST", "/api/v1/exports", frozenset({ADM}), 200, lambda w, r: (
        "/api/v1/exports", {"json": {"external_id": "enrolled"}})),
    Route("GET", "/api/v1/decisions/{seq}/explanation", STAFF, 200, lambda w, r: (
        f"/api/v1/decisions/{w.decision}/explanation", {})),
    Route("POST", "/api/v1/reviews", frozenset({ADM, OPR}), 201, lambda w, r: (
        "/api/v1/reviews", {"json": {"decision_seq": w.decision,
                                     "reason": "I was refused at the gate"}})),
    Route("GET", "/api/v1/reviews", READERS, 200, plain("/api/v1/reviews?status=open")),
    Route("POST", "/api/v1/reviews/{review_id}/answer", frozenset({ADM}), 200, lambda w, r: (
        f"/api/v1/reviews/{review(w, r)}/answer", {"json": {"answer": "checked: correct"}})),
    Route("GET", "/api/v1/certificates/{certificate_id}", READERS, 200, lambda w, r: (
        f"/api/v1/certificates/{erased_certificate(w, r)}", {})),
    Route("GET", "/api/v1/check", STAFF, 200, plain("/api/v1/check")),
    Route("GET", "/api/v1/audit/verification", READERS, 200, plain("/api/v1/audit/verification")),
    Route("GET", "/api/v1/audit/events", READERS, 200, plain("/api/v1/audit/events?limit=5")),
    Route("GET", "/api/v1/reports/{kind}", READERS, 200,
          plain("/api/v1/reports/assessment?format=json")),
    Route("GET", "/api/v1/me", ANY_KEY, 200, plain("/api/v1/me")),
    Route("GET", "/api/v1/keys", frozenset({ADM}), 200, plain("/api/v1/keys")),
    Route("POST", "/api/v1/keys", frozenset({ADM}), 201, lambda w, r: (
        "/api/v1/keys", {"json": {"role": "terminal", "holder": "gate 2",
                                  "purposes": [PURPOSE]}})),
    Route("DELETE", "/api/v1/keys/{key_id}", frozenset({ADM}), 200, lambda w, r: (
        f"/api/v1/keys/{new_key(w, r)}", {})),
    Route("GET", "/dashboard", STAFF, 200, plain("/dashboard")),
    Route("GET", "/dashboard.json", STAFF, 200, plain("/dashboard.json")),
    Route("POST", "/notices", frozenset({ADM}), 303, lambda w, r: (
        "/notices", {"data": {"purpose": "attendance"}})),
    Route("GET", "/subjects", frozenset({ADM, OPR}), 200, plain("/subjects")),
    Route("GET", "/subjects.json", frozenset({ADM, OPR}), 200, plain("/subjects.json")),
    Route("GET", "/subjects/{subject_id}", frozenset({ADM}), 200, lambda w, r: (
        f"/subjects/{w.subject_of('enrolled')}", {})),
    Route("GET", "/subjects/{subject_id}.json", frozenset({ADM}), 200, lambda w, r: (
        f"/subjects/{w.subject_of('enrolled')}.json", {})),
    Route("POST", "/subjects/{subject_id}/erase", frozenset({ADM}), 303, lambda w, r: (
        f"/subjects/{w.subject_of(w.new_person())}/erase", {"data": {"reason": "request"}})),
    Route("GET", "/record", READERS, 200, plain("/record")),
    Route("GET", "/record.json", READERS, 200, plain("/record.json")),
    Route("GET", "/reports", READERS, 200, plain("/reports")),
    Route("GET", "/reports.json", READERS, 200, plain("/reports.json")),
    Route("GET", "/reviews", READERS, 200, plain("/reviews")),
    Route("GET", "/reviews.json", READERS, 200, plain("/reviews.json")),
    Route("POST", "/reviews/{review_id}/answer", frozenset({ADM}), 303, lambda w, r: (
        f"/reviews/{review(w, r)}/answer", {"data": {"answer": "checked"}})),
    Route("GET", "/keys", frozenset({ADM}), 200, plain("/keys")),
    Route("GET", "/keys.json", frozenset({ADM}), 200, plain("/keys.json")),
    Route("POST", "/keys", frozenset({ADM}), 201, lambda w, r: (
        "/keys", {"data": {"role": "auditor", "holder": "external auditor"}})),
    Route("POST", "/keys/{key_id}/revoke", frozenset({ADM}), 303, lambda w, r: (
        f"/keys/{new_key(w, r)}/revoke", {})),
    Route("GET", "/kiosk", frozenset({OPR}), 200, plain("/kiosk")),
    Route("GET", "/kiosk.json", frozenset({OPR}), 200, plain("/kiosk.json")),
    Route("POST", "/kiosk/consent", frozenset({OPR}), 200, lambda w, r: (
        "/kiosk/consent", {"data": {"external_id": f"kiosk-{next(w.counter)}", "name": "K"}})),
    Route("POST", "/kiosk/decide", frozenset({OPR}), 200, lambda w, r: (
        "/kiosk/decide", {"data": {"external_id": f"kiosk-{next(w.counter)}", "name": "K",
                                   "consent-access-control": "decline",
                                   "consent-attendance": "decline"}})),
    Route("POST", "/kiosk/enroll", frozenset({OPR}), 200, lambda w, r: (
        "/kiosk/enroll", {"files": {"image": ("camera.jpg", w.image(1))},
                          "data": {"external_id": w.new_person(), "purpose": PURPOSE}})),
    Route("POST", "/kiosk/challenge", frozenset({OPR}), 201, lambda w, r: (
        "/kiosk/challenge", {"json": {"external_id": w.new_person()}})),
    Route("POST", "/kiosk/enroll.json", frozenset({OPR}), 201, live_enrollment),
    Route("GET", "/enroll", frozenset({OPR}), 200, plain("/enroll")),
    Route("GET", "/enroll.json", frozenset({OPR}), 200, plain("/enroll.json")),
    Route("POST", "/enroll/faces.json", frozenset({OPR}), 200, lambda w, r: (
        "/enroll/faces.json", {"files": {"image": ("photo.jpg", w.image(1))},
                               "data": {"purpose": PURPOSE}})),
    Route("POST", "/enroll", frozenset({OPR}), 201, lambda w, r: (
        "/enroll", {"files": {"image": ("photo.jpg", w.image(1))},
                    "data": {"external_id": f"photo-{next(w.counter)}", "name": "P",
                             "purpose": PURPOSE, "method": "written", "evidence": "form 1",
                             "language": "en"}})),
    Route("GET", "/try", frozenset({OPR}), 200, plain("/try")),
    Route("GET", "/try.json", frozenset({OPR}), 200, plain("/try.json")),
    Route("POST", "/try", frozenset({OPR}), 200, lambda w, r: (
        "/try", {"files": {"image": ("probe.jpg", w.image(0, 1))},
                 "data": {"mode": "identify", "purpose": PURPOSE}})),
    # last: a new draft takes the deployment out of service until it is approved again
    Route("GET", "/assessment", READERS, 200, plain("/assessment")),
    Route("GET", "/assessment.json", READERS, 200, plain("/assessment.json")),
    Route("POST", "/assessment/draft", frozenset({ADM}), 303, plain("/assessment/draft")),
    Route("POST", "/assessment/sections/{key}", frozenset({ADM}), 303, lambda w, r: (
        "/assessment/sections/conclusion", {"data": {"text": f"Reviewed ({r})."}})),
    Route("POST", "/assessment/approve", frozenset({ADM}), 303, lambda w, r: (
        complete_assessment(w), {"data": {"by": "The DPO"}})),
]


@pytest.fixture()
def world(fg: Faceguard, engine: Any, lfw: Path) -> World:
    service = make_service(fg, terminal_purposes=(PURPOSE,))
    faces = good_faces(engine, lfw, 2)
    world = World(fg, service, faces)
    fg.consent.grant("enrolled", PURPOSE, name="Enrolled Person", method="click",
                     evidence="test")
    fg.enroll("enrolled", [world.image(0, 0)], PURPOSE)
    world.decision = fg.verify("enrolled", world.image(0, 1), PURPOSE).audit_seq
    return world


def test_the_table_lists_every_route() -> None:
    declared = {(m, r.path) for r in api_routes() for m in r.methods or ()}
    assert declared == {(r.method, r.path) for r in ROUTES}


def test_every_route_with_every_role(world: World) -> None:
    client = world.service.client
    outcomes: dict[tuple[str, str], dict[str, int]] = {}
    for route in ROUTES:
        row = outcomes.setdefault((route.method, route.path), {})
        for role in (None, *ROLES):
            url, kwargs = route.build(world, role)
            headers = {**kwargs.pop("headers", {}), **world.service.auth(role)}
            response = client.request(route.method, url, headers=headers,
                                       follow_redirects=False, **kwargs)
            row[role or "none"] = response.status_code
            if route.roles is PUBLIC or (role is not None and role in route.roles):
                expected = route.ok
            else:
                expected = 401 if role is None else 403
            assert response.status_code == expected, (
                f"{route.method} {url} as {role or 'nobody'}: {response.status_code} "
                f"(expected {expected}): {response.text[:300]}")
            if expected in (401, 403):
                problem = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert problem["status"] == expected
                assert problem["type"] == ("/-/problems#unauthenticated" if role is None
                                           else "/-/problems#forbidden")
    assert len(outcomes) == len(ROUTES)
