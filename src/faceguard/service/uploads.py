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
``max_upload_bytes`` (a declared Content-Length above it is refused before reading). Raw
images live only in memory (R9): a multipart body is split into its parts by
python-multipart's streaming parser with callbacks collecting each part into a
``bytearray``, never into a temporary file, whatever its size (the body limit bounds them
all). The declared type is never trusted: each image's first bytes must be JPEG, PNG or WEBP (415
otherwise). The library then applies its own byte and pixel limits while decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from faceguard.service.problems import ProblemError

RAW_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


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
    header = request.headers.get("content-type", "")
    content_type = header.split(";")[0].strip().lower()
    body = await read_body(request, limit)
    if content_type == "multipart/form-data":
        return _multipart(header, body, max_images)
    if content_type in RAW_TYPES or not content_type:
        return Upload([_checked(body, "the body")])
    raise ProblemError("unsupported-media-type", f"send multipart/form-data or a raw image "
                       f"({', '.join(RAW_TYPES)}), not {content_type!r}")


class _Parts:
    """The callbacks of python-multipart's streaming parser, collecting every part into a
    ``bytearray`` in memory: no part is ever handed to a (spooled) temporary file, which
    Starlette's own parser does for file parts above 1 MB (R9)."""

    def __init__(self, max_images: int) -> None:
        self.max_images = max_images
        self.images: list[bytearray] = []
        self.fields: list[tuple[str, bytearray]] = []
        self.ended = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._current = bytearray()
        self._is_image = False

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end,
                "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._current = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise ProblemError("validation", "malformed multipart body: a part has no name "
                               "(Content-Disposition: form-data; name=...)", status=422)
        self._is_image = b"filename" in options
        if self._is_image:
            if name != b"image":
                raise ProblemError("validation", f"unexpected file field "
                                   f"{name.decode('latin-1')[:40]!r}; send images as 'image'",
                                   status=422)
            if len(self.images) == self.max_images:
                raise ProblemError("validation", f"too many images: at most "
                                   f"{self.max_images}", status=422)
            self.images.append(self._current)
        else:
            if len(self.fields) == MAX_FIELDS:
                raise ProblemError("validation", f"too many form fields: at most {MAX_FIELDS}",
                                   status=422)
            self.fields.append((name.decode("latin-1"), self._current))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._current += memoryview(data)[start:end]
        if not self._is_image and len(self._current) > MAX_FIELD_BYTES:
            raise ProblemError("validation", f"a form field exceeds {MAX_FIELD_BYTES:,} bytes",
                               status=422)

    def on_part_end(self) -> None:
        pass

    def on_end(self) -> None:
        self.ended = True


def _multipart(content_type: str, body: bytes, max_images: int) -> Upload:
    """The parts of a ``multipart/form-data`` body already in memory, kept in memory."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ProblemError("validation", "malformed multipart body: no boundary in the "
                           "Content-Type header", status=422)
    parts = _Parts(max_images)
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise ProblemError("validation", f"malformed multipart body: {exc}",
                           status=422) from exc
    if not parts.ended:
        raise ProblemError("validation", "malformed multipart body: it ends before its "
                           "closing boundary", status=422)
    upload = Upload([])
    for name, value in parts.fields:
        try:
            upload.fields.setdefault(name, []).append(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ProblemError("validation", f"form field {name[:40]!r} is not UTF-8 text",
                               status=422) from exc
    for data in parts.images:
        upload.images.append(_checked(bytes(data), f"image {len(upload.images) + 1}"))
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

