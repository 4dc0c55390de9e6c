"""Explanations of decisions and requests for human review (R16, R17).

An explanation names the purpose, the operating point and its false-match rate, and the
rules applied; it never gives the raw score (which would help an attacker hill-climb).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from faceguard import db
from faceguard.audit.events import AuditEvent
from faceguard.audit.operations import DECISIONS as OPERATION_DECISIONS
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError, NotFound, require_text
from faceguard.operating_points import OPERATING_POINT_NAMES
from faceguard.results import MAX_ID, Explanation, ReviewRequest

#: Processing-record operations whose outcome is an automated decision about a person.
DECISIONS = OPERATION_DECISIONS

_WORDS: dict[tuple[str, str], str] = {
    (Op.FACE_VERIFIED, "match"): "the face matched the claimed person's enrolled templates",
    (Op.FACE_VERIFIED, "no-match"): "the face did not match the claimed person closely enough",
    (Op.FACE_IDENTIFIED, "match"): "the face matched one enrolled person for this purpose",
    (Op.FACE_IDENTIFIED, "unknown"): "the face matched nobody enrolled for this purpose",
}


def explain(event: AuditEvent) -> Explanation:
    """Plain-words explanation of one recorded decision."""
    if event.operation not in DECISIONS:
        raise NotFound(f"event {event.seq} is not a decision (it is {event.operation})")
    point = event.detail.get("operating_point")
    fmr = OPERATING_POINT_NAMES.get(point) if isinstance(point, str) else None
    what = _WORDS.get((event.operation, event.outcome), f"the outcome was {event.outcome}")
    text = f"For purpose {event.purpose!r}, {what}."
    if fmr is not None:
        text += (
            f" The decision used the {point!r} operating point, set so that about {fmr:g} of "
            "comparisons between different people would wrongly match."
        )
    if event.outcome in ("rejected", "refused"):
        text += f" The request was {event.outcome}: {event.detail.get('message', '')}"
    text += " You may ask for a human review of this decision."
    return Explanation(
        event.seq, event.operation, event.outcome, event.purpose, event.ts,
        point if isinstance(point, str) else None, fmr, event.rules, text,
    )


def open_review(
    conn: Connection, decision_seq: int, subject_id: str | None, reason: str, when: str
) -> int:
    if not reason.strip():
        raise ConfigError("a review request needs a reason")
    require_text(reason, "the reason for review")
    result = conn.execute(
        db.reviews.insert().values(
            decision_seq=decision_seq, subject_id=subject_id, reason=reason,
            status="open", requested_at=when,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def answer_review(conn: Connection, review_id: int, answer: str, by: str, when: str) -> None:
    if not answer.strip() or not by.strip():
        raise ConfigError("a review answer needs the answer text and who answered")
    require_text(answer, "the review's answer")
    require_text(by, "who answered the review", limit=128)
    row = get_review(conn, review_id)
    if row.status != "open":
        raise ConfigError(f"review {review_id} was already answered")
    conn.execute(
        db.reviews.update().where(db.reviews.c.id == review_id).values(
            status="answered", answer=answer, answered_by=by, answered_at=when
        )
    )


def get_review(conn: Connection, review_id: int) -> ReviewRequest:
    if not 1 <= review_id <= MAX_ID:
        raise NotFound(f"no review request {review_id}")
    row = conn.execute(sa.select(db.reviews).where(db.reviews.c.id == review_id)).first()
    if row is None:
        raise NotFound(f"no review request {review_id}")
    return _to_review(row)


def list_reviews(conn: Connection, status: str | None = None) -> list[ReviewRequest]:
    query = sa.select(db.reviews).order_by(db.reviews.c.id)
    if status is not None:
        query = query.where(db.reviews.c.status == status)
    return [_to_review(r) for r in conn.execute(query)]


def _to_review(row: sa.Row) -> ReviewRequest:  # type: ignore[type-arg]
    return ReviewRequest(
        row.id, row.decision_seq, row.reason, row.status, row.requested_at,
        row.answer, row.answered_by, row.answered_at,
    )
