"""Operator and DPO pages, each with its JSON twin (the same path plus ``.json``).

Dashboard, people and their consents, the processing record with chain verification, the
assessment and filing packet, rights requests, notices. Every page is a few calls into the
one ``Faceguard`` object (the read-only lists included);
forms post back here and redirect (303) to the page that shows the result.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceguard.api.faceguard import Faceguard
from faceguard.audit.operations import Op
from faceguard.errors import FaceguardError
from faceguard.results import MAX_ID, plain
from faceguard.service.auth import AdminKey, AdminOrOperatorKey, Principal, ReaderKey, StaffKey
from faceguard.service.deps import FG, State
from faceguard.service.problems import AUTH_ERRORS, responses
from faceguard.service.routes_rights import reviewer
from faceguard.service.templating import render

router = APIRouter(tags=["pages"])
#: OpenAPI responses of pages, their JSON twins and their forms.
HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "to the login page (browsers without a session)"},
    **responses(*AUTH_ERRORS)}
JSON_ERRORS = responses(*AUTH_ERRORS)
FORM_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "done; to the page showing the result"},
    **responses(*AUTH_ERRORS, 400, 404, 409)}
SubjectId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^s_[0-9a-f]+$")]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=1, le=10**6)]
RIGHTS_OPERATIONS = (Op.SUBJECT_EXPORTED, Op.SUBJECT_ERASED, Op.CONSENT_WITHDRAWN,
                     Op.DECISION_EXPLAINED, Op.REVIEW_REQUESTED, Op.REVIEW_ANSWERED,
                     Op.CONSENT_DECLINED)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return see_other("/dashboard")


# ---- dashboard --------------------------------------------------------------------------


def dashboard_data(fg: Faceguard, expiring_days: int) -> dict[str, Any]:
    dep = fg.deployment.deployment
    filing = fg.governance.filing_status()
    notices = fg.consent.notices()
    data: dict[str, Any] = plain({
        "deployment": {"name": dep.name, "controller": dep.controller, "packs": dep.packs,
                       "place": dep.place, "protection_level": dep.protection_level,
                       "alternatives": dep.alternatives,
                       "purposes": sorted(fg.deployment.purposes)},
        "check": fg.governance.check().to_json(),
        "people": fg.governance.people_enrolled(),
        "templates": fg.stats().templates,
        "filing": filing,
        "expiring_days": expiring_days,
        "expiring": fg.rights.expiring(within_days=expiring_days),
        "notices": {p: ({"version": n.version, "created_at": n.created_at,
                         "languages": n.languages} if n else None)
                    for p, n in notices.items()},
        "reviews_open": len(fg.rights.reviews("open")),
        "alarms": fg.audit.alarms(),
        "recent": fg.audit.events(limit=15),
    })
    return data


@router.get("/dashboard", summary="Dashboard", response_class=HTMLResponse, responses=HTML_ERRORS)
def dashboard(request: Request, state: State, principal: StaffKey) -> Response:
    data = dashboard_data(state.fg, state.settings.expiring_days)
    return render(request, "dashboard.html", principal=principal, **data)


@router.get("/dashboard.json", summary="Dashboard (JSON)", responses=JSON_ERRORS)
def dashboard_json(state: State, principal: StaffKey) -> dict[str, Any]:
    return dashboard_data(state.fg, state.settings.expiring_days)


@router.post("/notices", summary="Publish a purpose's notice (form)", responses=FORM_ERRORS)
def publish_notice(fg: FG, principal: AdminKey,
                   purpose: Annotated[str, Form(min_length=1, max_length=64)]) -> Response:
    fg.consent.publish_notice(purpose, actor=principal.actor)
    return see_other("/dashboard")


# ---- people -----------------------------------------------------------------------------


def subjects_data(fg: Faceguard, page: int, size: int, principal: Principal
                  ) -> dict[str, Any]:
    """A page of people with their names: recorded as ``identity.displayed`` (R11)."""
    rows, total = fg.rights.people(actor=principal.actor, offset=(page - 1) * size,
                                   limit=size)
    data: dict[str, Any] = plain({"subjects": rows, "total": total, "page": page,
                                  "pages": max(1, (total + size - 1) // size)})
    return data


@router.get("/subjects", summary="People and their consents",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def subjects(request: Request, state: State, principal: AdminOrOperatorKey,
             page: PageNumber = 1) -> Response:
    data = subjects_data(state.fg, page, state.settings.page_size, principal)
    return render(request, "subjects.html", principal=principal, **data)


@router.get("/subjects.json", summary="People and their consents (JSON)", responses=JSON_ERRORS)
def subjects_json(state: State, principal: AdminOrOperatorKey,
                  page: PageNumber = 1) -> dict[str, Any]:
    return subjects_data(state.fg, page, state.settings.page_size, principal)


def subject_data(fg: Faceguard, subject_id: str, principal: Principal) -> dict[str, Any]:
    """Everything held about one person: an export (R16), so the viewing is recorded."""
    external = fg.rights.external_id_of(subject_id)
    data: dict[str, Any] = plain(fg.rights.export(external, actor=principal.actor))
    return data


@router.get("/subjects/{subject_id}.json", summary="One person (JSON; recorded as an export)",
            responses=responses(*AUTH_ERRORS, 404))
def subject_json(fg: FG, principal: AdminKey, subject_id: SubjectId) -> dict[str, Any]:
    return subject_data(fg, subject_id, principal)


@router.get("/subjects/{subject_id}", summary="One person (recorded as an export)",
            response_class=HTMLResponse, responses={**HTML_ERRORS, **responses(404)})
def subject(request: Request, fg: FG, principal: AdminKey, subject_id: SubjectId) -> Response:
    data = subject_data(fg, subject_id, principal)
    return render(request, "subject.html", principal=principal, person=data)


@router.post("/subjects/{subject_id}/erase", summary="Erase a person (form)", responses=FORM_ERRORS)
def erase(fg: FG, principal: AdminKey, subject_id: SubjectId,
          reason: Annotated[str, Form(min_length=1, max_length=200)] = "request") -> Response:
    external = fg.rights.external_id_of(subject_id)
    cert = fg.rights.erase(external, reason=reason, actor=principal.actor)
    return see_other(f"/record?certificate={cert.certificate_id}")


# ---- the processing record --------------------------------------------------------------


def record_data(fg: Faceguard, before: int | None, size: int,
                certificate: str | None) -> dict[str, Any]:
    rows = fg.audit.events(before=before, limit=size)
    cert = None
    if certificate:
        try:
            cert = fg.audit.certificate(certificate)
        except FaceguardError:
            cert = None
    data: dict[str, Any] = plain({
        "verification": fg.audit.verify(), "events": rows,
        "next_before": rows[-1]["seq"] if len(rows) == size else None,
        "certificate": cert, "public_key": fg.audit.public_key_hex})
    return data


CertificateQuery = Annotated[str | None, Query(max_length=40)]


@router.get("/record", summary="The processing record, with chain verification",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def record(request: Request, state: State, principal: ReaderKey, before: Before = None,
           certificate: CertificateQuery = None) -> Response:
    data = record_data(state.fg, before, state.settings.page_size, certificate)
    return render(request, "record.html", principal=principal, **data)


@router.get("/record.json", summary="The processing record (JSON)", responses=JSON_ERRORS)
def record_json(state: State, principal: ReaderKey, before: Before = None,
                certificate: CertificateQuery = None) -> dict[str, Any]:
    return record_data(state.fg, before, state.settings.page_size, certificate)


# ---- reports ----------------------------------------------------------------------------


def reports_data(fg: Faceguard) -> dict[str, Any]:
    facts = fg.governance.facts()
    state = facts.assessment
    protection = fg.governance.protection()
    data: dict[str, Any] = plain({
        "assessment": {"present": state.present, "approved": state.approved,
                       "matches_deployment": state.matches_deployment, "detail": state.detail},
        "filing": fg.governance.filing_status(),
        "people": facts.people_enrolled,
        "protection": {"level": protection.level, "plausible": protection.plausible,
                       "warnings": [f"[{w.rule}] {w.reason}" for w in protection.warnings]},
    })
    return data


@router.get("/reports", summary="Impact assessment, filing packet, protection level",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def reports(request: Request, fg: FG, principal: ReaderKey) -> Response:
    return render(request, "reports.html", principal=principal, **reports_data(fg))


@router.get("/reports.json", summary="Reports (JSON)", responses=JSON_ERRORS)
def reports_json(fg: FG, principal: ReaderKey) -> dict[str, Any]:
    return reports_data(fg)


# ---- rights requests --------------------------------------------------------------------


def reviews_data(fg: Faceguard) -> dict[str, Any]:
    data: dict[str, Any] = plain({
        "reviews": list(reversed(fg.rights.reviews())),
        "events": fg.audit.events(limit=30, operations=RIGHTS_OPERATIONS)})
    return data


@router.get("/reviews", summary="Rights requests: reviews, exports, erasures",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def reviews(request: Request, fg: FG, principal: ReaderKey) -> Response:
    return render(request, "reviews.html", principal=principal, **reviews_data(fg))


@router.get("/reviews.json", summary="Rights requests (JSON)", responses=JSON_ERRORS)
def reviews_json(fg: FG, principal: ReaderKey) -> dict[str, Any]:
    return reviews_data(fg)


@router.post("/reviews/{review_id}/answer", summary="Answer a review request (form)",
             responses=FORM_ERRORS)
def answer_review(fg: FG, principal: AdminKey,
                  review_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                  answer: Annotated[str, Form(min_length=1, max_length=1000)]) -> Response:
    fg.rights.answer_review(review_id, answer, by=reviewer(principal))
    return see_other("/reviews")
