"""Operating points: named false-match rates and the distance thresholds that achieve them.

Each engine ships a calibration file in ``faceguard/data`` made by
``scripts/calibrate.py`` (how: docs/CALIBRATION.md). A comparison is a match when the
Euclidean distance between templates is at most the threshold of the chosen point.

A calibration may also hold score tables for 1:N search (``identification``:
``engine.scores.ScoreTable`` per number of fused pictures), from which identification's
thresholds follow for each gallery size (``index.decision``). Without them an engine can
verify but not identify automatically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.engine.scores import TABLE_PICTURES, ScoreTable, measure_tables
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
    #: 1:N score tables by pictures fused per person (empty: none were made).
    tables: dict[int, ScoreTable] = field(default_factory=dict)

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
    tables: dict[int, ScoreTable] = {}
    try:
        for item in data.get("identification", {}).get("tables", []):
            table = ScoreTable.from_json(item)
            tables[table.pictures] = table
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the calibration's identification tables are malformed: {exc}"
                          ) from exc
    if tables and set(tables) != set(TABLE_PICTURES):
        raise ConfigError("the calibration's identification tables must cover "
                          f"{', '.join(map(str, TABLE_PICTURES))} pictures per person")
    return Calibration(engine_id, points, dict(data.get("provenance", {})), tables)


def make_calibration(engine_id: str, vectors: np.ndarray, labels: np.ndarray,
                     provenance: dict[str, Any]) -> dict[str, Any]:
    """A calibration file's content (``faceguard calibrate``) from labelled templates of
    ``engine_id``: every same-person pair genuine, every other pair impostor; each named
    operating point the largest Euclidean distance at which at most its target share of
    impostor pairs falls; and the 1:N score tables (``engine.scores.measure_tables``)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    genuine, impostor = [], []
    squares = (vectors ** 2).sum(1)
    for start in range(0, len(vectors), 512):
        rows = np.arange(start, min(start + 512, len(vectors)))
        dist = np.sqrt(np.clip(squares[rows, None] + squares[None, :]
                               - 2 * vectors[rows] @ vectors.T, 0, None))
        upper = np.arange(len(vectors))[None, :] > rows[:, None]
        same = codes[rows, None] == codes[None, :]
        genuine.append(dist[upper & same])
        impostor.append(dist[upper & ~same].astype(np.float32))
    gen, imp = np.sort(np.concatenate(genuine)), np.sort(np.concatenate(impostor))
    if len(gen) == 0 or len(imp) == 0:
        raise ConfigError("calibration needs people with at least two pictures, and at least "
                          "two people")
    points = []
    for name, target in OPERATING_POINT_NAMES.items():
        allowed = int(np.floor(target * len(imp)))
        threshold = float(np.nextafter(imp[allowed], 0)) if allowed < len(imp) \
            else float(imp[-1])
        points.append({
            "name": name, "fmr_target": target, "threshold": round(threshold, 6),
            "fmr_measured": float(np.searchsorted(imp, threshold, side="right") / len(imp)),
            "fnmr_measured": round(
                float(1 - np.searchsorted(gen, threshold, side="right") / len(gen)), 6),
        })
    try:
        tables = measure_tables(vectors, codes)
    except ValueError as exc:
        raise ConfigError(f"calibration: {exc}") from exc
    return {
        "engine": engine_id,
        "metric": "euclidean distance between templates; match when distance <= threshold",
        "operating_points": points,
        "identification": {
            "metric": "euclidean distance between unit vectors: the probe against a person's "
                      "fused template (mean of L2-normalised templates, normalised)",
            "tables": [t.to_json() for t in tables.values()],
        },
        "provenance": {**provenance, "people": int(codes.max() + 1),
                       "genuine_pairs": int(len(gen)), "impostor_pairs": int(len(imp))},
    }
