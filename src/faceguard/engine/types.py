"""Plain types the engines hand out: boxes, landmarks, templates. No backend objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from faceguard.errors import EngineMismatch


@dataclass(frozen=True)
class Face:
    """One detected face in image coordinates (pixels of the decoded, oriented image).

    ``box`` is ``(left, top, right, bottom)``; ``landmarks`` is a ``(5, 2)`` float array of
    ``(x, y)`` points in dlib's 5-point order: the two corners of the eye on the image's
    right (outer, inner), the two corners of the eye on the image's left (outer, inner),
    then the base of the nose.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    detector_score: float
    #: "dlib5" (the order above) or "eyes-nose-mouth5" (eye on the image's left, eye on the
    #: image's right, nose tip, mouth corners: the ONNX engine's contract).
    scheme: str = "dlib5"

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)


@dataclass(frozen=True)
class Template:
    """A face template: an L2 vector and the identity of the engine that made it.

    Templates from different engines live in different spaces; ``distance`` refuses to
    compare them.
    """

    vector: np.ndarray
    engine: str

    def distance(self, other: Template) -> float:
        """Euclidean distance between two templates of the same engine (0 = identical)."""
        require_same_engine(self.engine, other.engine)
        return float(np.linalg.norm(self.vector - other.vector))


def require_same_engine(a: str, b: str) -> None:
    """Raise ``EngineMismatch`` unless both engine identities are equal."""
    if a != b:
        raise EngineMismatch(f"templates of engine {a!r} cannot be compared with {b!r}")


class FaceEngine(Protocol):
    """What the recognition pipeline needs from an engine."""

    @property
    def engine_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in the image, largest first."""
        ...

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The aligned face chip (RGB uint8) that ``embed`` takes."""
        ...

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The template vector (float32) of an aligned chip."""
        ...
