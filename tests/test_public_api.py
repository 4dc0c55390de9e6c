"""House rule 1: a small public API with an explicit, complete ``__all__``."""

from __future__ import annotations

import ast
import collections.abc
import inspect
import subprocess
import sys
import typing
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


def _faceguard_types(hint: object, found: set[type]) -> None:
    """Every class defined in faceguard that ``hint`` names, however deeply nested."""
    if isinstance(hint, type):
        if hint.__module__.split(".")[0] == "faceguard":
            found.add(hint)
        return
    if isinstance(hint, (list, tuple)):  # Callable[[A, B], R] holds its parameters in a list
        for inner in hint:
            _faceguard_types(inner, found)
        return
    origin = typing.get_origin(hint)
    if origin is not None:
        _faceguard_types(origin, found)
    for arg in typing.get_args(hint):
        _faceguard_types(arg, found)


def test_every_type_in_a_public_signature_is_exported() -> None:
    """Parameters and return types of every public method and property of ``Faceguard``."""
    checked, missing = 0, set()
    for name, member in inspect.getmembers(faceguard.Faceguard):
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        if not callable(function):
            continue
        hints = typing.get_type_hints(function)
        hints.pop("self", None)
        found: set[type] = set()
        for hint in hints.values():
            _faceguard_types(hint, found)
        checked += 1
        missing |= {f"{t.__module__}.{t.__qualname__} (in {name})" for t in found
                    if getattr(faceguard, t.__name__, None) is not t
                    or t.__name__ not in faceguard.__all__}
    assert checked > 40
    assert not missing, sorted(missing)


def test_the_signature_walk_finds_nested_types() -> None:
    found: set[type] = set()
    _faceguard_types(dict[str, list[faceguard.SubjectRow] | None], found)
    _faceguard_types(collections.abc.Callable[[faceguard.Pair], faceguard.EvalReport], found)
    assert found == {faceguard.SubjectRow, faceguard.Pair, faceguard.EvalReport}
