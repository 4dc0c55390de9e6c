"""Which engine a command runs, and the calibration that goes with it.

The default engine (dlib's network on ONNX Runtime) ships its calibration; an engine the
operator brings (``FacepluginEngine`` over a folder of model files) needs a calibration file
made for it (``faceguard calibrate``), which is refused if made for another engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from faceguard.engine.calibration import Calibration, load_calibration, load_calibration_file
from faceguard.engine.types import FaceEngine

#: The detector of an ONNX model folder: its own model, or dlib's HOG detector.
Detector = Literal["own", "dlib"]


def make_engine(models: Path | None = None, detector: Detector = "own") -> FaceEngine:
    """The default engine, or the ONNX models in the folder ``models``."""
    if models is None:
        from faceguard.engine.fast_resnet import FastDlibEngine

        return FastDlibEngine()
    from faceguard.engine.faceplugin import FacepluginEngine

    return FacepluginEngine(models, detector=detector)


def engine_calibration(engine: FaceEngine, path: Path | None = None) -> Calibration:
    """``path``'s calibration (made for ``engine``), or the one shipped for it."""
    if path is not None:
        return load_calibration_file(path, engine.engine_id)
    return load_calibration(engine.engine_id.split(":")[0], engine.engine_id)
