"""Notices (R2), consents (R3, R5) and withdrawals (R3, R18)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from faceguard import Guardian
from faceguard.errors import NotFound
from faceguard.service.auth import AdminKey, AdminOrOperatorKey, AnyKey, OperatorKey
from faceguard.service.deps import FG
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses
from faceguard.service.schemas import (
    ConsentCreate,
    ConsentReceiptPublic,
    NoticeCreate,
    NoticePublic,
    WithdrawalCreate,
    WithdrawalPublic,
    public,
)

router = APIRouter(prefix="/api/v1", tags=["consents"])
PurposePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]


def _notice(notice: object) -> NoticePublic:
    return NoticePublic.model_validate(notice, from_attributes=True)


@router.get("/notices/{purpose}", response_model=NoticePublic,
            responses=responses(*AUTH_ERRORS, 404), summary="The current notice of a purpose")
def get_notice(fg: FG, principal: AnyKey, purpose: PurposePath) -> NoticePublic:
    notice = fg.consent.current_notice(purpose)
    if notice is None:
        raise NotFound(f"no notice has been published for {purpose!r}")
    return _notice(notice)


@router.post("/notices/{purpose}", status_code=status.HTTP_201_CREATED,
             response_model=NoticePublic, responses=responses(*AUTH_ERRORS, 409),
             summary="Publish the next notice version of a purpose (R2)")
def publish_notice(fg: FG, principal: AdminKey, purpose: PurposePath,
                   body: NoticeCreate | None = None) -> NoticePublic:
    """Prefilled from the deployment file; ``fields`` override the prefilled text."""
    fields = {str(k): v for k, v in body.fields.items()} if body is not None else {}
    translations = ({str(lang): {str(k): v for k, v in text.items()}
                     for lang, text in body.translations.items()} if body is not None else {})
    return _notice(fg.consent.publish_notice(purpose, fields, actor=principal.actor,
                                             translations=translations))


@router.post("/consents", status_code=status.HTTP_201_CREATED,
             response_model=ConsentReceiptPublic, responses=responses(*AUTH_ERRORS, 400, 409),
             summary="Record one separate consent (R3; R5 under 14)")
def grant_consent(fg: FG, principal: OperatorKey, body: ConsentCreate) -> ConsentReceiptPublic:
    if body.guardian is not None and not body.under_14:
        raise ProblemError("validation", "guardian details are only for a person under 14 "
                           "(set under_14)", status=422)
    guardian = (Guardian(body.guardian.name, body.guardian.relationship,
                         body.guardian.evidence) if body.guardian is not None else None)
    receipt = fg.consent.grant(
        body.external_id, body.purpose, name=body.name, method=body.method,
        evidence=body.evidence, minor=body.under_14, guardian=guardian, actor=principal.actor,
        language=body.language)
    return public(ConsentReceiptPublic, receipt)


@router.post("/withdrawals", response_model=WithdrawalPublic,
             responses=responses(*AUTH_ERRORS, 404), summary="Withdraw a consent now (R3, R18)")
def withdraw(fg: FG, principal: AdminOrOperatorKey, body: WithdrawalCreate) -> WithdrawalPublic:
    """The face leaves the purpose at once; with no purpose left the person is erased and
    the certificate is returned."""
    result = fg.consent.withdraw(body.external_id, body.purpose, actor=principal.actor)
    return public(WithdrawalPublic, result)
