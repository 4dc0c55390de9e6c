"""House rule 1: a small public API with an explicit, complete ``__all__``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import faceguard

SRC = Path(faceguard.__file__).parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(faceguard) if not name.startswith("_")}
    modules = {n for n in public if type(getattr(faceguard, n)).__name__ == "module"}
    assert set(faceguard.__all__) == public - modules
    assert sorted(faceguard.__all__) == sorted(set(faceguard.__all__))


def test_every_exception_is_exported() -> None:
    tree = ast.parse((SRC / "errors.py").read_text())
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert classes <= set(faceguard.__all__)


def test_import_loads_no_model() -> None:
    code = "import sys, faceguard; print('dlib' in sys.modules, '_dlib_pybind11' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
