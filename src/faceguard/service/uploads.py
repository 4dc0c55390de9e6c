"""Images in requests: multipart forms or raw bodies, size-limited, type sniffed from bytes.

Two ways to send images to enroll, verify and identify:

- ``multipart/form-data`` with one or more ``image`` file parts (and the other fields as
  form fields), as browsers and ``curl -F image=@face.jpg`` send them;
- a raw body holding one image (``Content-Type: image/jpeg``, ``image/png``, ``image/webp``
  or ``application/octet-stream``); the person's external ID then goes in the
  ``X-External-Id`` header (never in the URL, which ends up in access logs).

A third way, where the person must be shown live (R26), is a JSON body answering a liveness
challenge (``liveness_wire``): no image then, the face recognised is a frame of the answer.

The body is read in chunks and refused with 413 as soon as it exceeds
``max_upload_bytes`` (a declared Content-Length above it is refused before reading). The
declared type is never trusted: each image's first bytes must be JPEG, PNG or WEBP (415
otherwise). The library then applies its own byte and pixel limits while decoding.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from .problems import ProblemError

RAW_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
MAX_FIELD_BYTES = 64 * 1024


def sniff(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/webp`` from the first bytes, else ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass
class Upload:
    """The images of a request and its form fields (none for a raw body)."""

    images: list[bytes]
    fields: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def getall(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) beyond ``limit`` bytes without reading further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError("too-large", f"the body is {int(declared):,} bytes; the limit is "
                           f"{limit:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError("too-large", f"the body exceeds the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _checked(data: bytes, what: str) -> bytes:
    if not data:
        raise ProblemError("validation", f"{what} is empty", status=422)
    if sniff(data) is None:
        raise ProblemError("unsupported-media-type", f"{what} is not a JPEG, PNG or WEBP image "
                           "(judged from its content, not its declared type)")
    return data


async def read_images(request: Request, *, limit: int, max_images: int) -> Upload:
    """The images (at least one, at most ``max_images``) and fields of ``request``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request, limit)
    if content_type == "multipart/form-data":
        return await _multipart(request, body, max_images)
    if content_type in RAW_TYPES or not content_type:
        return Upload([_checked(body, "the body")])
    raise ProblemError("unsupported-media-type", f"send multipart/form-data or a raw image "
                       f"({', '.join(RAW_TYPES)}), not {content_type!r}")


async def _multipart(request: Request, body: bytes, max_images: int) -> Upload:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=max_images,
                             max_fields=50, max_part_size=MAX_FIELD_BYTES)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ProblemError("validation", f"malformed multipart body: {exc.message}",
                           status=422) from exc
    upload = Upload([])
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "image":
                    raise ProblemError("validation", f"unexpected file field {name!r}; send "
                                       "images as 'image'", status=422)
                data = await value.read()
                upload.images.append(_checked(data, f"image {len(upload.images) + 1}"))
            else:
                upload.fields.setdefault(name, []).append(value)
    finally:
        await form.close()
    if not upload.images:
        raise ProblemError("validation", "no image: add a file field named 'image'",
                           status=422)
    return upload


def openapi_body(fields: dict[str, dict[str, Any]], *, many: bool = False,
                 live: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting both ways of sending images, and with ``live`` (a JSON
    schema) the third: a JSON body answering a liveness challenge (``liveness_wire``)."""
    image: dict[str, Any] = {"type": "string", "format": "binary"}
    multipart = {
        "type": "object",
        "required": ["image"],
        "properties": {"image": {"type": "array", "items": image, "minItems": 1}
                       if many else image, **fields},
    }
    description = ("multipart/form-data with 'image' file part(s), or one raw image (the "
                   "external ID then goes in the X-External-Id header). JPEG, PNG or WEBP, "
                   "sniffed from the bytes.")
    content: dict[str, Any] = {
        "multipart/form-data": {"schema": multipart},
        **{t: {"schema": image} for t in ("image/jpeg", "image/png", "image/webp",
                                          "application/octet-stream")},
    }
    if live is not None:
        description += (" Or application/json answering a liveness challenge (R26): the face "
                        "recognised is then the answer's most frontal frame.")
        content["application/json"] = {"schema": live}
    return {"requestBody": {"required": True, "description": description, "content": content}}

