"""The redaction as an API operation: the answer is the image with every face covered."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from test_service_support import make_service


def test_redaction_route_covers_faces_and_records_it(
    fg: Faceguard, faces: Path, engine: DlibEngine
) -> None:
    service = make_service(fg)
    photo = (faces / "face_recognition" / "examples" / "two_people.jpg").read_bytes()
    answer = service.client.post("/api/v1/redactions", content=photo,
                                 headers={**service.auth("operator"),
                                          "Content-Type": "image/jpeg"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert int(answer.headers["X-Faces-Covered"]) >= 2
    redacted = np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB"))
    assert engine.detect(redacted) == []
    assert not Image.open(io.BytesIO(answer.content)).getexif()
    [event] = fg._store.audit.events(operation="media.redacted")
    assert event.outcome == "ok"
    refused = service.client.post("/api/v1/redactions", content=photo,
                                  headers={**service.auth("terminal"),
                                           "Content-Type": "image/jpeg"})
    assert refused.status_code == 403
    junk = service.client.post("/api/v1/redactions", content=b"not an image",
                               headers={**service.auth("operator"),
                                        "Content-Type": "image/jpeg"})
    assert junk.status_code in (415, 422) and junk.headers["content-type"].startswith(
        "application/problem+json")
