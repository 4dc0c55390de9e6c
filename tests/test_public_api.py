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
    # The names are imported on first use (``faceguard._EXPORTS``, PEP 562): the loaded ones
    # and the lazy ones together are exactly ``__all__``, and the type checkers' imports
    # (under TYPE_CHECKING) name the same.
    public = {name for name in vars(faceguard) if not name.startswith("_")}
    modules = {n for n in public if type(getattr(faceguard, n)).__name__ == "module"}
    assert public - modules - {"TYPE_CHECKING", "annotations", "importlib"} <= set(
        faceguard.__all__)
    assert set(faceguard.__all__) == set(faceguard._EXPORTS)
    tree = ast.parse((SRC / "__init__.py").read_text())
    checked = {alias.name: node.module for block in tree.body if isinstance(block, ast.If)
               for node in block.body if isinstance(node, ast.ImportFrom)
               for alias in node.names}
    assert checked == faceguard._EXPORTS
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


def _parts() -> dict[str, type]:
    """The classes of ``Faceguard``'s parts (``fg.consent``, ``fg.rights``, ...), as its
    class annotations declare them."""
    hints = typing.get_type_hints(faceguard.Faceguard)
    parts = {}
    for name, hint in hints.items():
        if typing.get_origin(hint) is typing.ClassVar:
            hint = typing.get_args(hint)[0]
        if not name.startswith("_") and isinstance(hint, type):
            parts[name] = hint
    return parts


def test_faceguard_holds_its_parts() -> None:
    assert set(_parts()) == {"consent", "rights", "audit", "liveness", "governance",
                             "redaction", "api_keys", "shared", "tools"}
    public = [n for n in vars(faceguard.Faceguard) if not n.startswith("_")]
    assert len(public) < 25, public


def test_every_type_in_a_public_signature_is_exported() -> None:
    """Parameters and return types of every public method and property of ``Faceguard``
    and of each of its parts; the parts' classes, public attributes, are exported too."""
    checked, missing = 0, set()
    owners = {"Faceguard": faceguard.Faceguard} | {f"Faceguard.{n}": c
                                                   for n, c in _parts().items()}
    missing |= {f"{c.__module__}.{c.__qualname__} (Faceguard.{n})" for n, c in _parts().items()
                if getattr(faceguard, c.__name__, None) is not c
                or c.__name__ not in faceguard.__all__}
    for owner, cls in owners.items():
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            function = member.fget if isinstance(member, property) else member
            if not callable(function) or isinstance(function, type):
                continue
            hints = typing.get_type_hints(function)
            hints.pop("self", None)
            found: set[type] = set()
            for hint in hints.values():
                _faceguard_types(hint, found)
            checked += 1
            missing |= {f"{t.__module__}.{t.__qualname__} (in {owner}.{name})" for t in found
                        if getattr(faceguard, t.__name__, None) is not t
                        or t.__name__ not in faceguard.__all__}
    assert checked > 60
    assert not missing, sorted(missing)


def test_the_signature_walk_finds_nested_types() -> None:
    found: set[type] = set()
    _faceguard_types(dict[str, list[faceguard.SubjectRow] | None], found)
    _faceguard_types(collections.abc.Callable[[faceguard.Pair], faceguard.EvalReport], found)
    assert found == {faceguard.SubjectRow, faceguard.Pair, faceguard.EvalReport}
