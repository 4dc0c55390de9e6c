"""Taking up a changed deployment file in a running process (``Faceguard.reload_config``).

A long-running process (``faceguard serve``, each of its ``--workers``) calls ``poll`` on
each request. It costs one ``stat`` of ``faceguard.toml`` while the file is unchanged. When
its size, time or inode change, the file is read; if its content differs from the one in
force, it is validated exactly as at start (``parse_deployment``: TOML, every key and value)
and then:

- it is taken up: the deployment is swapped in one assignment (a request sees the old or
  the new one, never a mixture) and the go-live verdict is recomputed at the next face
  operation, with the assessment as it is on disk then (``Governance.require_live`` reads
  the assessment's state on each change of that file too). Approving the assessment again
  after an edit thus takes effect at the next request, without a restart;
- or it does not validate: the deployment in force stays, and ``state`` says ``invalid``
  with the reason, until the file validates again;
- or it changes what only a start can apply (``RESTART_ONLY``: the database, the protection
  level that decides the start-up checks of keys and TOTP, the presentation-attack model
  loaded with the liveness detector): the deployment in force stays,
  and ``state`` says ``restart-needed`` with the reason.

Each outcome is recorded once in the processing record (``deployment.reloaded``; R10, R11)
by the process that saw it. Every process watches its own file: with ``--workers`` every
worker takes the change up at its next request; processes on other machines sharing a
PostgreSQL database read their own ``faceguard.toml``, which must be changed on each.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from faceguard.api.core import Core
from faceguard.audit.operations import Op
from faceguard.errors import FaceguardError
from faceguard.policy.deployment import Deployment, parse_deployment
from faceguard.store.core import URL_VARIABLE
from faceguard.timeutil import iso, utc_now

ConfigCondition = Literal["current", "invalid", "restart-needed"]


@dataclass(frozen=True)
class ConfigState:
    """Whether the deployment in force is the file on disk. ``state``: ``current`` (it is),
    ``invalid`` (the file was changed and no longer validates: ``reason`` says why) or
    ``restart-needed`` (the file changes what only a start applies: ``reason`` says what).
    ``loaded_at``: when the deployment in force was read; ``checked_at``: when the file was
    last found changed (``None`` if never)."""

    state: ConfigCondition
    reason: str | None
    loaded_at: str
    checked_at: str | None = None

    @property
    def current(self) -> bool:
        return self.state == "current"


def _database(deployment: Deployment) -> str | None:
    """The database the file would have a process open (the environment's URL wins)."""
    return os.environ.get(URL_VARIABLE) or (
        deployment.storage.url if deployment.storage else None)


#: What a running process cannot change: the name, and why a start is needed to apply it.
RESTART_ONLY: tuple[tuple[str, Callable[[Deployment], object], str], ...] = (
    ("storage.url", _database, "the database is opened once, at start"),
    ("deployment.protection_level", lambda d: d.deployment.protection_level,
     "the keys and second factor a level requires (R25) are checked at start"),
    ("pad_model", lambda d: d.pad_model,
     "the presentation-attack model is loaded once, at start (R26)"),
)


def restart_reasons(old: Deployment, new: Deployment) -> list[str]:
    """Why ``new`` cannot replace ``old`` in a running process (empty: it can)."""
    return [f"{name} changed ({why})" for name, read, why in RESTART_ONLY
            if read(old) != read(new)]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ConfigWatch:
    """Watches one process's deployment file; see the module's documentation."""

    def __init__(self, core: Core, path: Path | None) -> None:
        self._core = core
        self._path = path
        self._lock = threading.Lock()
        self._stamp = _stamp(path) if path is not None else None
        text = self._read()
        self._digest = _digest(text) if text is not None else None
        self._state = ConfigState("current", None, iso(utc_now()))

    @property
    def state(self) -> ConfigState:
        return self._state

    def _read(self) -> str | None:
        if self._path is None:
            return None
        try:
            return self._path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def poll(self, actor: str = "service") -> ConfigState:
        """Take up the file if it changed (see the module); the state after it."""
        if self._path is None or _stamp(self._path) == self._stamp:
            return self._state
        with self._lock:
            stamp = _stamp(self._path)
            if stamp == self._stamp:  # another thread took it up meanwhile
                return self._state
            self._stamp = stamp
            self._state = self._take_up(actor)
            return self._state

    def _take_up(self, actor: str) -> ConfigState:
        assert self._path is not None
        now = iso(utc_now())
        loaded_at = self._state.loaded_at
        name = self._path.name
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._outcome("invalid", f"{name} is missing", loaded_at, now, actor)
        except (OSError, UnicodeDecodeError) as exc:
            return self._outcome("invalid", f"{name} cannot be read: {exc}", loaded_at, now,
                                 actor)
        digest = _digest(text)
        if digest == self._digest:  # touched, or put back as it was
            return ConfigState("current", None, loaded_at, now)
        try:
            new = parse_deployment(text, source=name)
        except FaceguardError as exc:
            return self._outcome("invalid", exc.message, loaded_at, now, actor)
        reasons = restart_reasons(self._core.deployment, new)
        if reasons:
            return self._outcome("restart-needed", "; ".join(reasons), loaded_at, now, actor)
        self._core.deployment = new  # one assignment: a request sees old or new, not both
        self._core.gate_changed()
        self._digest = digest
        return self._outcome("current", None, now, now, actor, digest=digest)

    def _outcome(self, state: ConfigCondition, reason: str | None, loaded_at: str, now: str,
                 actor: str, *, digest: str | None = None) -> ConfigState:
        outcome = {"current": "ok", "invalid": "rejected", "restart-needed": "deferred"}[state]
        detail: dict[str, object] = {"file": self._path.name if self._path else None,
                                     "state": state, "process": os.getpid()}
        if reason:
            detail["reason"] = reason[:500]
        if digest:
            detail["sha256"] = digest
        store = self._core.store
        store.commit(lambda conn: store.audit.append(
            conn, actor=actor, operation=Op.DEPLOYMENT_RELOADED, outcome=outcome,
            rules=["R10", "R11"], detail=detail))
        return ConfigState(state, reason, loaded_at, now)
