"""Subject rights (R16-R18): erasure, export, explanations and human review."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from faceguard.results import MAX_ID
from faceguard.service.auth import AdminKey, AdminOrOperatorKey, Principal, ReaderKey, StaffKey
from faceguard.service.deps import FG
from faceguard.service.problems import AUTH_ERRORS, responses
from faceguard.service.schemas import (
    CertificatePublic,
    ErasureCreate,
    ExplanationPublic,
    ExportCreate,
    ExportPublic,
    ReviewAnswerCreate,
    ReviewCreate,
    ReviewPublic,
    public,
)

router = APIRouter(prefix="/api/v1", tags=["rights"])
Seq = Annotated[int, Path(ge=1, le=MAX_ID, description="the decision's audit sequence number")]


def reviewer(principal: Principal) -> str:
    """How a review answer names who answered: the key's holder and ID."""
    return f"{principal.key.holder[:100]} ({principal.key.id})"


@router.post("/erasures", response_model=CertificatePublic,
             responses=responses(*AUTH_ERRORS, 404),
             summary="Erase a person now; returns the signed deletion certificate (R18)")
def erase(fg: FG, principal: AdminKey, body: ErasureCreate) -> CertificatePublic:
    return public(CertificatePublic, fg.rights.erase(body.external_id, reason=body.reason,
                                              actor=principal.actor))


@router.post("/exports", response_model=ExportPublic, responses=responses(*AUTH_ERRORS, 404),
             summary="Everything held about a person, no template bytes (R16)")
def export(fg: FG, principal: AdminKey, body: ExportCreate) -> ExportPublic:
    return public(ExportPublic, fg.rights.export(body.external_id, actor=principal.actor))


@router.get("/decisions/{seq}/explanation", response_model=ExplanationPublic,
            responses=responses(*AUTH_ERRORS, 404),
            summary="Explain a recorded decision in words, never the score (R16, R17)")
def explain(fg: FG, principal: StaffKey, seq: Seq) -> ExplanationPublic:
    return public(ExplanationPublic, fg.rights.explain(seq, actor=principal.actor))


@router.post("/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewPublic,
             responses=responses(*AUTH_ERRORS, 400, 404),
             summary="Ask for a human review of an automated decision (R17)")
def request_review(fg: FG, principal: AdminOrOperatorKey, body: ReviewCreate) -> ReviewPublic:
    return public(ReviewPublic, fg.rights.request_review(body.decision_seq, body.reason,
                                                  actor=principal.actor))


@router.get("/reviews", response_model=list[ReviewPublic], responses=responses(*AUTH_ERRORS),
            summary="Review requests")
def list_reviews(fg: FG, principal: ReaderKey,
                 review_status: Annotated[Literal["open", "answered"] | None,
                                          Query(alias="status")] = None,
                 ) -> list[ReviewPublic]:
    return [public(ReviewPublic, r) for r in fg.rights.reviews(review_status)]


@router.post("/reviews/{review_id}/answer", response_model=ReviewPublic,
             responses=responses(*AUTH_ERRORS, 400, 404),
             summary="Record the human reviewer's answer (R17)")
def answer_review(fg: FG, principal: AdminKey,
                  review_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                  body: ReviewAnswerCreate) -> ReviewPublic:
    answered = fg.rights.answer_review(review_id, body.answer, by=reviewer(principal))
    return public(ReviewPublic, answered)


@router.get("/certificates/{certificate_id}", response_model=CertificatePublic,
            responses=responses(*AUTH_ERRORS, 404), summary="A stored deletion certificate")
def certificate(fg: FG, principal: ReaderKey,
                certificate_id: Annotated[str, Path(min_length=1, max_length=40)]
                ) -> CertificatePublic:
    return public(CertificatePublic, fg.audit.certificate(certificate_id))
