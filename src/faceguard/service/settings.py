"""Service settings: built once in the entry point (``faceguard serve``) and passed down.

Every setting has a default that is safe on a single machine and can be set from the
environment (``FACEGUARD_SERVICE_<NAME>``, e.g. ``FACEGUARD_SERVICE_MAX_UPLOAD_BYTES``).
``SETTINGS_DOC`` documents each one; a test fails when a setting is undocumented.
There are no secrets here: API keys and TOTP secrets live in the record store (hashed and
encrypted respectively), the master key where ``faceguard.keys`` finds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from faceguard.errors import ConfigError

ENV_PREFIX = "FACEGUARD_SERVICE_"

#: One line per setting (the docs page and ``faceguard serve --help`` show these).
SETTINGS_DOC: dict[str, str] = {
    "dev": "development mode: a banner on every page, a local master key (never in production)",
    "max_upload_bytes": "largest request body accepted for images, in bytes (413 above)",
    "max_images": "most images in one enrollment request",
    "body_idle_seconds": "a request body that pauses this long is answered 408 and its "
                         "connection closed",
    "max_liveness_bytes": "largest JSON body with a liveness answer (base64 frames), in bytes "
                          "(413 above)",
    "auth_failures": "failed authentications from one address, or naming one key ID, before "
                     "invalid keys from there (or naming it) are locked out; a valid key is "
                     "locked out only after as many wrong TOTP codes of its own",
    "auth_window_seconds": "window in which those failures are counted",
    "lockout_seconds": "how long a lockout lasts (429 with Retry-After)",
    "session_idle_seconds": "a browser session ends after this long without a request",
    "session_max_seconds": "a browser session ends this long after login, whatever happens",
    "cookie_secure": "mark the session cookie Secure (set when served over HTTPS)",
    "expiring_days": "the dashboard lists templates expiring within this many days",
    "page_size": "rows per page on the record and subjects pages",
}


@dataclass(frozen=True)
class ServiceSettings:
    """How the service behaves; see ``SETTINGS_DOC`` for each field."""

    dev: bool = False
    max_upload_bytes: int = 20 * 1024 * 1024
    max_images: int = 10
    body_idle_seconds: int = 30
    max_liveness_bytes: int = 24 * 1024 * 1024
    auth_failures: int = 5
    auth_window_seconds: int = 300
    lockout_seconds: int = 300
    session_idle_seconds: int = 15 * 60
    session_max_seconds: int = 8 * 3600
    cookie_secure: bool = False
    expiring_days: int = 30
    page_size: int = 50

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise ConfigError(f"service setting {item.name} must be at least 1, not {value}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object
                 ) -> ServiceSettings:
        """Defaults, then ``FACEGUARD_SERVICE_*`` variables, then ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(ENV_PREFIX + item.name.upper())
            if raw is None:
                continue
            if item.type in ("bool", bool):
                if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ConfigError(f"{ENV_PREFIX}{item.name.upper()} must be true or false")
                values[item.name] = raw.lower() in ("1", "true", "yes")
            else:
                try:
                    values[item.name] = int(raw)
                except ValueError as exc:
                    raise ConfigError(
                        f"{ENV_PREFIX}{item.name.upper()} must be a whole number") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown service settings: {', '.join(sorted(unknown))}")
        return replace(cls(), **values)
