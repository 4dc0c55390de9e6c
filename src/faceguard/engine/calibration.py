"""Operating points: named false-match rates and the distance thresholds that achieve them.

Each engine ships a calibration file in ``faceguard/data`` made by
``scripts/calibrate.py`` (how: docs/CALIBRATION.md). A comparison is a match when the
Euclidean distance between templates is at most the threshold of the chosen point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from faceguard.errors import ConfigError
from faceguard.operating_points import OPERATING_POINT_NAMES


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold and what it was measured to do on the calibration data."""

    name: str
    fmr_target: float
    threshold: float
    fmr_measured: float
    fnmr_measured: float

    def is_match(self, distance: float) -> bool:
        return distance <= self.threshold


@dataclass(frozen=True)
class Calibration:
    """The operating points of one engine, with a description of how they were made."""

    engine: str
    points: dict[str, OperatingPoint]
    provenance: dict[str, Any]

    def point(self, name: str) -> OperatingPoint:
        try:
            return self.points[name]
        except KeyError as exc:
            raise ConfigError(
                f"unknown operating point {name!r}; known: {', '.join(self.points)}"
            ) from exc


def calibration_file_name(engine_name: str) -> str:
    return f"calibration_{engine_name}.json"


def load_calibration(engine_name: str, engine_id: str) -> Calibration:
    """The shipped calibration of ``engine_name``; refuses one made for another model."""
    name = calibration_file_name(engine_name)
    try:
        text = resources.files("faceguard").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"no calibration shipped for engine {engine_name} ({name})") from exc
    return parse_calibration(json.loads(text), engine_id)


def load_calibration_file(path: Path, engine_id: str) -> Calibration:
    """A calibration made by the operator for another engine (e.g. an ONNX one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"calibration file {path} not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"calibration file {path} is not JSON: {exc}") from exc
    return parse_calibration(data, engine_id)


def parse_calibration(data: dict[str, Any], engine_id: str) -> Calibration:
    if data.get("engine") != engine_id:
        raise ConfigError(
            f"the calibration was made for {data.get('engine')!r}, not for {engine_id!r}"
        )
    points = {
        p["name"]: OperatingPoint(
            p["name"],
            float(p["fmr_target"]),
            float(p["threshold"]),
            float(p["fmr_measured"]),
            float(p["fnmr_measured"]),
        )
        for p in data["operating_points"]
    }
    missing = set(OPERATING_POINT_NAMES) - set(points)
    if missing:
        raise ConfigError(f"calibration lacks operating points: {', '.join(sorted(missing))}")
    return Calibration(engine_id, points, dict(data.get("provenance", {})))
