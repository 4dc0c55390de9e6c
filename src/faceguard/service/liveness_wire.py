"""Liveness answers in requests (R26): a JSON body whose frames are base64 JPEGs.

The wire format, for enroll and verify (``identify`` has no ``external_id``)::

    {"external_id": "emp-17",
     "liveness": {"challenge_id": "kQ2...",
                  "frames": [{"t_ms": 1234, "jpeg": "<base64>"}, ...]}}

``t_ms`` is the capture time in milliseconds on any monotonic clock; ``jpeg`` the frame as
captured, unmirrored, base64 with the standard alphabet and padding. The terminal the answer
comes from is the authenticated key (``Principal.terminal``), never a field of the body.

The body is read with the ``max_liveness_bytes`` limit (413) and validated (422). Each frame
must then be valid base64 (422 naming the frame), at most ``FRAME_LIMITS.max_bytes`` once
decoded (413) and a JPEG judged from its first bytes, not from any declared type (415).
These are malformed requests: they are refused before the challenge is looked at, so they
neither use it up nor count toward the lockout. A frame that looks like a JPEG but does not
decode is judged by the library: a failed attempt (422 ``invalid-image``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from faceguard.liveness import FRAME_LIMITS, Frame, LivenessAnswer
from faceguard.service.problems import ProblemError
from faceguard.service.schemas import LivenessAnswerIn
from faceguard.service.uploads import read_body, sniff

M = TypeVar("M", bound=BaseModel)
JSON_TYPE = "application/json"


def is_json(request: Request) -> bool:
    """Whether the request declares a JSON body (the liveness variant of an upload)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == JSON_TYPE


async def read_json(request: Request, model: type[M], limit: int) -> M:
    """The body as ``model``: 413 beyond ``limit`` bytes, 422 when invalid."""
    body = await read_body(request, limit)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])}
                  for e in exc.errors(include_url=False, include_context=False,
                                      include_input=False)]
        raise RequestValidationError(errors) from exc


def to_answer(answer: LivenessAnswerIn, terminal: str) -> LivenessAnswer:
    """The library's ``LivenessAnswer``: frames decoded from base64, size-limited, sniffed."""
    frames = []
    count = len(answer.frames)
    for number, item in enumerate(answer.frames, start=1):
        where = f"frame {number} of {count}"
        try:
            data = base64.b64decode(item.jpeg, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProblemError("validation", f"{where}: 'jpeg' is not valid base64 ({exc}); "
                               "send the JPEG bytes in standard base64, without a data: "
                               "prefix", status=422) from exc
        if len(data) > FRAME_LIMITS.max_bytes:
            raise ProblemError("too-large", f"{where} is {len(data):,} bytes; a frame may have "
                               f"at most {FRAME_LIMITS.max_bytes:,}")
        kind = sniff(data)
        if kind != "image/jpeg":
            found = f"it is {kind}" if kind else "its first bytes are not an image's"
            raise ProblemError("unsupported-media-type", f"{where} is not a JPEG ({found}; "
                               "judged from its content)")
        frames.append(Frame(data, item.t_ms))
    return LivenessAnswer(answer.challenge_id, tuple(frames), terminal)


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(v, defs) for v in schema]
    return schema


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its nested models written inline (for ``openapi_extra``,
    where ``#/$defs/...`` references would not resolve)."""
    schema = model.model_json_schema()
    inlined: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
    return inlined
