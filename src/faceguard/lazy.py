"""Names a package exports without importing their modules until first used (PEP 562), so
that ``import faceguard`` (and ``faceguard.redact``) load nothing heavy (house rule 6)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str], namespace: dict[str, Any]
            ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``: ``names`` maps each exported name to the
    module defining it; a name is imported at its first use and kept in ``namespace`` (the
    package's ``globals()``)."""

    def get(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def listing() -> list[str]:
        return sorted({*namespace, *names})

    return get, listing
