"""The deployment check, the processing record, and the reports (R10, R11, R15, R24)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from faceguard import i18n
from faceguard.api.faceguard import Faceguard
from faceguard.assess import render_html, render_pdf
from faceguard.errors import ConfigError, NotFound
from faceguard.i18n import Language
from faceguard.results import MAX_ID
from faceguard.service.auth import ReaderKey, StaffKey
from faceguard.service.deps import FG
from faceguard.service.language import page_language
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses
from faceguard.service.schemas import (
    AuditEventPublic,
    AuditReportPublic,
    CheckPublic,
    public,
)

router = APIRouter(prefix="/api/v1", tags=["governance"])
ReportKind = Literal["assessment", "filing", "protection"]
ReportFormat = Literal["json", "html", "pdf"]


@router.get("/check", response_model=CheckPublic, responses=responses(*AUTH_ERRORS),
            summary="The deployment check (faceguard check --json)")
def check(fg: FG, principal: StaffKey) -> CheckPublic:
    return CheckPublic.model_validate(fg.governance.check().to_json())


@router.get("/audit/verification", response_model=AuditReportPublic,
            responses=responses(*AUTH_ERRORS),
            summary="Verify the processing record's hash chain and signatures (R11)")
def verify_audit(fg: FG, principal: ReaderKey) -> AuditReportPublic:
    return public(AuditReportPublic, fg.audit.verify())


@router.get("/audit/events", response_model=list[AuditEventPublic],
            responses=responses(*AUTH_ERRORS), summary="The processing record, newest first")
def audit_events(
    fg: FG, principal: ReaderKey,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only events with a "
                                        "smaller sequence number")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AuditEventPublic]:
    return [AuditEventPublic.model_validate(e) for e in fg.audit.events(before=before, limit=limit)]


def report(fg: Faceguard, kind: str, actor: str) -> Any:
    """The report object of ``kind``; 404 when the deployment has none of that kind."""
    if kind == "protection":
        return fg.governance.protection()
    try:
        governance = fg.governance
        return governance.assessment() if kind == "assessment" else governance.filing(actor=actor)
    except ConfigError as exc:
        if exc.rule in ("R10", "R15"):
            raise NotFound(exc.message, rule=exc.rule) from exc
        raise ProblemError("conflict", f"the {kind} cannot be produced: {exc.message}",
                           rule=exc.rule) from exc


def render(kind: str, obj: Any, fmt: str, *, trial: bool = False, language: Language = "en",
           packs: list[str] | None = None) -> Response:
    if fmt == "html":
        return HTMLResponse(render_html(kind, obj, trial=trial, language=language,
                                        packs=packs))
    if fmt == "pdf":
        return Response(render_pdf(kind, obj, trial=trial, language=language, packs=packs),
                        media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{kind}.pdf"'})
    data = obj.to_dict()
    return JSONResponse(data)


@router.get(
    "/reports/{kind}", response_model=dict[str, Any],
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}},
                                 "application/pdf": {"schema": {"type": "string",
                                                                "format": "binary"}}}},
               **responses(*AUTH_ERRORS, 404, 409)},
    summary="The impact assessment, filing packet or protection report (JSON, HTML or PDF)")
def get_report(
    request: Request, fg: FG, principal: ReaderKey, kind: Annotated[ReportKind, Path()],
    fmt: Annotated[ReportFormat, Query(alias="format")] = "json",
    lang: Annotated[Language | None, Query(description="the language of the HTML or PDF "
                                           "(default: the browser's, else the "
                                           "deployment's); JSON is always English")] = None,
) -> Response:
    """``assessment`` (R10), ``filing`` (R15: 404 when no pack requires filing; making it
    is recorded) or ``protection`` (R24). HTML and PDF are in ``lang``; an assessment's
    drafted text is in the language it was drafted in (the deployment's)."""
    language: Language = "en" if fmt == "json" else (lang or page_language(request))
    with i18n.use(language):  # the packet's and the report's generated texts too
        obj = report(fg, kind, principal.actor)
    return render(kind, obj, fmt, trial=fg.deployment.deployment.trial, language=language,
                  packs=list(fg.deployment.deployment.packs))
