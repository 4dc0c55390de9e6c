"""What staff pages read of the processing record: a page of events, the alarms, the count.

Rows are read as they are: a damaged row (its rules or detail not JSON) is shown marked
``unreadable`` rather than hiding the page; ``audit.integrity`` is where damage is judged.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from faceguard import db
from faceguard.audit.operations import ALARMS
from faceguard.results import MAX_ID

_E = db.audit_events.c


def _plain(row: Any) -> dict[str, Any]:
    try:
        rules = [str(r) for r in json.loads(row.rules)]
        detail = json.loads(row.detail)
        if not isinstance(detail, dict):
            raise TypeError
    except (ValueError, TypeError):
        rules, detail = [], {"unreadable": True}
    return {"seq": row.seq, "ts": row.ts, "actor": row.actor, "operation": row.operation,
            "purpose": row.purpose, "subject": row.subject, "outcome": row.outcome,
            "rules": rules, "detail": detail, "prev_hash": row.prev_hash, "hash": row.hash}


def page(conn: sa.Connection, *, before: int | None = None, limit: int = 50,
         subject: str | None = None, operations: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Events as plain dicts, newest first, with ``seq < before``."""
    query = sa.select(db.audit_events).order_by(_E.seq.desc()).limit(limit)
    if before is not None and before <= MAX_ID:  # beyond it, every event is before
        query = query.where(_E.seq < before)
    if subject is not None:
        query = query.where(_E.subject == subject)
    if operations:
        query = query.where(_E.operation.in_(operations))
    return [_plain(r) for r in conn.execute(query)]


def alarms(conn: sa.Connection, *, limit: int = 20) -> list[dict[str, Any]]:
    """Security events worth an alarm (``operations.ALARMS``, or an attack or lockout
    outcome), newest first. A liveness check passed, or a retry, is not one."""
    query = (sa.select(db.audit_events)
             .where(sa.or_(_E.operation.in_(ALARMS), _E.outcome.in_(("attack", "locked"))))
             .order_by(_E.seq.desc()).limit(limit))
    return [_plain(r) for r in conn.execute(query)]


def count(conn: sa.Connection) -> int:
    """How many events the record holds."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(db.audit_events))
               .scalar_one())
