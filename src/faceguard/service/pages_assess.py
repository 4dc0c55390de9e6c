"""The DPO's pages for the impact assessment (R10): draft it, write its sections one by one,
approve it, and download it with the filing packet (R15) and the protection report (R24).

The same library calls as ``faceguard assess --init`` / ``--approve`` (and, for a section,
what the CLI flow does by hand in the TOML file): ``fg.governance.draft_assessment``,
``write_section``, ``approve_assessment``. A refusal (R10: placeholders left, a draft made
for another deployment, nothing changed since the approval...) is shown on the page with
its rule. The DPO is the admin role (``ReaderKey`` already reads records and reports as
"the DPO and the auditor"); the auditor sees the page but gets no forms. Downloads are the
report routes of the API (``/api/v1/reports/{kind}``), which a page session may fetch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from faceguard.api.faceguard import Faceguard
from faceguard.api.governance import MAX_SECTION_CHARS
from faceguard.assess import PLACEHOLDER
from faceguard.errors import ConfigError, FaceguardError
from faceguard.results import plain
from faceguard.service.auth import AdminKey, Principal, ReaderKey
from faceguard.service.deps import FG
from faceguard.service.pages import FORM_ERRORS, HTML_ERRORS, JSON_ERRORS, see_other
from faceguard.service.pages_faces import wants_page
from faceguard.service.problems import Problem, from_error, status_of
from faceguard.service.templating import render

router = APIRouter(tags=["pages"])
SectionKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]


def assessment_data(fg: Faceguard) -> dict[str, Any]:
    """The assessment's state, its sections (when one is drafted) and the reports."""
    facts = fg.governance.facts()
    state = facts.assessment
    sections: list[dict[str, Any]] = []
    approval = None
    problem = None
    if state.present:
        try:
            found = fg.governance.assessment()
        except ConfigError as exc:  # a file the DPO broke by hand: say so, offer a new draft
            problem = f"[{exc.rule or 'R10'}] {exc.message}"
        else:
            approval = found.approval
            sections = [{"key": s.key, "title": s.title, "sources": list(s.sources),
                         "prefilled": s.prefilled, "dpo": s.dpo, "needs_human": s.needs_human,
                         "complete": s.complete} for s in found.sections]
    filing = fg.governance.filing_status()
    in_force = state.present and state.approved and state.matches_deployment
    data: dict[str, Any] = plain({
        "assessment": {"present": state.present, "approved": state.approved,
                       "in_force": in_force, "detail": state.detail, "problem": problem,
                       "approval": approval,
                       "pending": [s["key"] for s in sections if not s["complete"]]},
        "sections": sections,
        "placeholder": PLACEHOLDER,
        "max_chars": MAX_SECTION_CHARS,
        "filing": filing is not None,
        "people": facts.people_enrolled,
    })
    return data


def _page(request: Request, fg: Faceguard, principal: Principal, *,
          error: Problem | None = None, status_code: int = 200, done: str | None = None
          ) -> Response:
    return render(request, "assessment.html", principal=principal, error=error, done=done,
                  status_code=status_code, **assessment_data(fg))


def _refused(request: Request, fg: Faceguard, principal: Principal,
             exc: FaceguardError) -> Response:
    """The page again, with the library's refusal and its rule (as the CLI prints it); a
    client that does not ask for a page gets the problem (JSON), as from any route."""
    if not wants_page(request):
        raise exc
    return _page(request, fg, principal, error=from_error(exc, request),
                 status_code=status_of(exc))


@router.get("/assessment", summary="The impact assessment: draft, sections, approval (DPO)",
            response_class=HTMLResponse, responses=HTML_ERRORS)
def assessment(request: Request, fg: FG, principal: ReaderKey,
               done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    return _page(request, fg, principal, done=done if done in DONE else None)


@router.get("/assessment.json", summary="The impact assessment (JSON)", responses=JSON_ERRORS)
def assessment_json(fg: FG, principal: ReaderKey) -> dict[str, Any]:
    return assessment_data(fg)


#: What the page says after a form succeeded (``?done=``).
DONE = ("drafted", "saved", "approved")


@router.post("/assessment/draft", summary="Draft the assessment, prefilled (form; as "
             "faceguard assess --init)", response_class=Response, responses=FORM_ERRORS)
def draft(request: Request, fg: FG, principal: AdminKey) -> Response:
    try:
        fg.governance.draft_assessment(actor=principal.actor)
    except FaceguardError as exc:
        return _refused(request, fg, principal, exc)
    return see_other("/assessment?done=drafted")


@router.post("/assessment/sections/{key}", summary="Write the DPO's text of one section "
             "(form)", response_class=Response, responses=FORM_ERRORS)
def write_section(request: Request, fg: FG, principal: AdminKey, key: SectionKey,
                  text: Annotated[str, Form(max_length=MAX_SECTION_CHARS)] = "") -> Response:
    try:
        fg.governance.write_section(key, text, actor=principal.actor)
    except FaceguardError as exc:
        return _refused(request, fg, principal, exc)
    return see_other(f"/assessment?done=saved#section-{key}")


@router.post("/assessment/approve", summary="Approve the assessment (form; as faceguard "
             "assess --approve --by NAME)", response_class=Response, responses=FORM_ERRORS)
def approve(request: Request, fg: FG, principal: AdminKey,
            by: Annotated[str, Form(max_length=128)] = "") -> Response:
    try:
        fg.governance.approve_assessment(by, actor=principal.actor)
    except FaceguardError as exc:
        return _refused(request, fg, principal, exc)
    return see_other("/assessment?done=approved")
