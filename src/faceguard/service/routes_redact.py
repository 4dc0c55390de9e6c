"""Anonymising an image an operator keeps (issue 6): the redaction as an API operation.

The image arrives like an enrollment's (raw body or one multipart ``image`` part); every face
found is covered irreversibly, metadata is dropped, and the answer is the redacted image
(PNG for a PNG, JPEG otherwise) with the number of faces covered in ``X-Faces-Covered``.
The upload and the output live only in a private temporary folder removed before answering.
Videos are redacted with ``faceguard redact`` on the operator's machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faceguard.service.auth import AdminOrOperatorKey
from faceguard.service.deps import State
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses
from faceguard.service.uploads import openapi_body, read_images, sniff

router = APIRouter(prefix="/api/v1", tags=["anonymisation"])
_OUTPUT = {"image/png": {"schema": {"type": "string", "format": "binary"}},
           "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}


def _redact_bytes(state: State, data: bytes, actor: str) -> tuple[bytes, str, int]:
    suffix = ".png" if sniff(data) == "image/png" else ".jpg"
    with tempfile.TemporaryDirectory(prefix="faceguard-redact-") as folder:
        src, dst = Path(folder) / f"in{suffix}", Path(folder) / f"out{suffix}"
        src.write_bytes(data)
        report = state.fg.redaction.redact(src, dst, actor=actor)
        if not report.files:
            detail = (report.failed[0].message if report.failed
                      else "the image was not redacted")
            raise ProblemError("invalid-image", detail, status=422)
        return dst.read_bytes(), "image/png" if suffix == ".png" else "image/jpeg", \
            report.files[0].faces


@router.post("/redactions", response_class=Response,
             responses={**responses(*AUTH_ERRORS, 400, 413, 415, 422),
                        200: {"content": _OUTPUT, "description": "the redacted image"}},
             openapi_extra=openapi_body({}),
             summary="Cover every face in an image irreversibly and strip its metadata")
async def redact(request: Request, state: State, principal: AdminOrOperatorKey) -> Response:
    upload = await read_images(request, limit=state.settings.max_upload_bytes, max_images=1)
    data, media_type, faces = await run_in_threadpool(_redact_bytes, state, upload.images[0],
                                                      principal.actor)
    return Response(data, media_type=media_type, headers={"X-Faces-Covered": str(faces)})
