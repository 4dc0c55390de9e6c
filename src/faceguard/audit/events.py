"""The processing record's events: their fields, the canonical encoding that is hashed, and
the checks every event passes before it is written (see ``audit.log`` for the chain)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from faceguard.audit.operations import Op
from faceguard.errors import AuditError

MAX_STRING = 1024
_MAX_DEPTH = 16
_OPERATION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_REGISTERED = frozenset(Op)
_LIMITS = {"actor": 128, "operation": 64, "purpose": 64, "subject": 40, "outcome": 32}


@dataclass(frozen=True)
class AuditEvent:
    """One processing-record event, as plain types."""

    seq: int
    ts: str
    actor: str
    operation: str
    purpose: str | None
    subject: str | None
    outcome: str
    rules: tuple[str, ...]
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditReport:
    """Result of :meth:`AuditLog.verify`; ``problem`` says in plain words what is wrong."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None
    problem: str | None


_canonical: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


_STRING: Callable[[str], str] = json.encoder.encode_basestring


class _StoredRow(NamedTuple):
    """One ``audit_events`` row as the driver returns it (``_SELECT_ROWS``)."""

    seq: int
    ts: str
    actor: str
    operation: str
    purpose: str | None
    subject: str | None
    outcome: str
    rules: str
    detail: str
    prev_hash: str
    hash: str


_SELECT_ROWS = f"SELECT {', '.join(_StoredRow._fields)} FROM audit_events ORDER BY seq"


def _record_hash(seq: int, ts: str, actor: str, operation: str, outcome: str,
                 purpose: str | None, subject: str | None, rules: str, detail: str,
                 prev_hash: str) -> str:
    """The event hash from ``rules`` and ``detail`` already in canonical JSON: the
    canonical encoding of the whole record (module docstring) written out key by key, in
    sorted key order."""
    text = _STRING
    record = (f'{{"actor":{text(actor)},"detail":{detail},'
              f'"operation":{text(operation)},"outcome":{text(outcome)},'
              f'"prev_hash":{text(prev_hash)},'
              f'"purpose":{"null" if purpose is None else text(purpose)},'
              f'"rules":{rules},"seq":{seq:d},'
              f'"subject":{"null" if subject is None else text(subject)},"ts":{text(ts)}}}')
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


def _fast_hash(row: Any) -> str:
    """The hash of a stored row from its stored ``rules`` and ``detail`` text, unparsed (a
    row whose text is not canonical, or has a field of the wrong type, does not match and
    is examined the slow way)."""
    return _record_hash(row.seq, row.ts, row.actor, row.operation, row.outcome, row.purpose,
                        row.subject, row.rules, row.detail, row.prev_hash)


def _matches(row: _StoredRow) -> bool:
    try:
        return _fast_hash(row) == row.hash
    except (TypeError, ValueError):
        return False


def _plain(value: Any, path: str, depth: int = 0) -> Any:
    """A plain-JSON copy of ``value``; refuses anything that could carry biometric data."""
    if depth > _MAX_DEPTH:
        raise AuditError(f"audit detail nested too deeply at {path}", rule="R11")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditError(f"audit detail {path} is not a finite number", rule="R11")
        return float(value)
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise AuditError(f"audit detail {path} is longer than {MAX_STRING} characters",
                             rule="R11")
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > MAX_STRING:
                raise AuditError(f"audit detail {path} has a key that is not a short string",
                                 rule="R11")
            out[str(key)] = _plain(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    raise AuditError(f"audit detail {path} has type {kind}; only plain JSON data is allowed",
                     rule="R11")


def _check_fields(fields: Mapping[str, str | None], rules: Sequence[str]) -> None:
    for name, limit in _LIMITS.items():
        value = fields[name]
        if value is None and name in ("purpose", "subject"):
            continue
        if type(value) is not str or not value or len(value) > limit:
            raise AuditError(f"audit {name} must be a non-empty string of at most {limit} "
                             "characters", rule="R11")
    if not _OPERATION.fullmatch(str(fields["operation"])):
        raise AuditError(f"audit operation {fields['operation']!r} is not dot-named "
                         "(e.g. 'consent.withdrawn')", rule="R11")
    if fields["operation"] not in _REGISTERED:
        raise AuditError(f"audit operation {fields['operation']!r} is not in the registry "
                         "(faceguard.audit.operations.Op)", rule="R11")
    if (
        isinstance(rules, str)
        or not isinstance(rules, Sequence)
        or not all(isinstance(r, str) and 0 < len(r) <= 32 for r in rules)
    ):
        raise AuditError("audit rules must be a sequence of rule IDs", rule="R11")


_SCALARS = (str, int, bool, type(None))


def _plain_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``_plain`` of an event's detail, with a fast path for the usual flat mapping of short
    strings, integers, booleans and nulls."""
    if type(detail) is dict and all(
        type(key) is str and len(key) <= MAX_STRING and type(value) in _SCALARS
        and (type(value) is not str or len(value) <= MAX_STRING)
        for key, value in detail.items()
    ):
        return dict(detail)
    plain = _plain(detail or {}, "detail")
    if not isinstance(plain, dict):
        raise AuditError("audit detail must be a mapping", rule="R11")
    return plain


def _to_event(row: sa.Row[Any] | _StoredRow) -> AuditEvent:
    rules = json.loads(row.rules)
    detail = json.loads(row.detail)
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise TypeError("rules is not a list of strings")
    if not isinstance(detail, dict):
        raise TypeError("detail is not an object")
    return AuditEvent(seq=row.seq, ts=row.ts, actor=row.actor, operation=row.operation,
                      purpose=row.purpose, subject=row.subject, outcome=row.outcome,
                      rules=tuple(rules), detail=detail, prev_hash=row.prev_hash, hash=row.hash)


def _recompute(event: AuditEvent) -> str:
    """The hash of a parsed event, its ``rules`` and ``detail`` encoded canonically again
    (empty when a field has a type the record never stores, so it cannot match)."""
    try:
        return _record_hash(event.seq, event.ts, event.actor, event.operation, event.outcome,
                            event.purpose, event.subject, _canonical(list(event.rules)),
                            _canonical(event.detail), event.prev_hash)
    except (TypeError, ValueError):
        return ""
