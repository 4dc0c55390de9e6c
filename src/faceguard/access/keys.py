"""API keys: random, shown once, stored as their SHA-256 (R14, R25).

A key reads ``fgk_<8 hex>_<43 characters>``: the middle part is the key's public ID (shown
in lists and recorded as the actor of everything done with it), the rest is 256 random
bits. Only ``sha256(key)`` is stored; a 256-bit random secret needs no slow hash. Each key
holds exactly one role; a terminal key names the purposes it may verify and identify for.
An admin key may carry a TOTP secret (always at protection level 3), kept AES-256-GCM under
a key the vault derives (HKDF) from the master key, so a copy of the record store does not
yield it.

Key creation and revocation are recorded in the processing record (``access.key_created``,
``access.key_revoked``) like every other administrative action.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

import sqlalchemy as sa

from faceguard import db
from faceguard.access import totp
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError, NotFound, require_text
from faceguard.store.core import Store
from faceguard.timeutil import iso, parse_iso, utc_now
from faceguard.vault.keys import open_sealed, record_aad, seal

Role = Literal["admin", "operator", "terminal", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
#: At level 3 no holder may hold two of these (separate administrator, auditor, operator).
SEPARATED_ROLES: tuple[Role, ...] = ("admin", "auditor", "operator")
KEY_PREFIX = "fgk_"
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiKey:
    """A stored key as plain data (never the secret)."""

    id: str
    holder: str
    role: Role
    purposes: tuple[str, ...]
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None
    has_totp: bool

    @property
    def actor(self) -> str:
        """How the processing record names whoever uses this key, e.g. ``admin:k_1a2b3c4d``."""
        return f"{self.role}:{self.id}"


@dataclass(frozen=True)
class CreatedKey:
    """A new key; ``secret`` (and the TOTP secret) are shown once and never again."""

    key: ApiKey
    secret: str
    totp_secret: str | None = None
    totp_uri: str | None = None


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _to_key(row: Any) -> ApiKey:
    return ApiKey(row.id, row.holder, row.role, tuple(json.loads(row.purposes)), row.created_at,
                  row.created_by, row.last_used_at, row.revoked_at, row.totp_ct is not None)


class ApiKeys:
    """Creates, checks, lists and revokes the service's API keys (``Faceguard.api_keys``).

    ``level`` gives the deployment's protection level and ``check_purpose`` refuses a purpose
    the deployment does not declare (``PurposeError``); both are asked at each use.
    """

    def __init__(self, store: Store, *, level: Callable[[], int],
                 check_purpose: Callable[[str], object]) -> None:
        self._store = store
        self._level = level
        self._check_purpose = check_purpose

    @property
    def level(self) -> int:
        """The deployment's protection level (1-5): level 3 and above asks more of keys."""
        return self._level()

    # ---- creation, listing, revocation --------------------------------------------------

    def create(self, role: str, holder: str, purposes: list[str] | tuple[str, ...] = (), *,
               actor: str, with_totp: bool = False) -> CreatedKey:
        """A new key for ``holder``; at protection level 3 admin keys always get TOTP and a
        holder may not hold two of the admin, auditor and operator roles (R25)."""
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        holder = holder.strip()
        if not holder or len(holder) > 128:
            raise ConfigError("a key needs its holder's name (1-128 characters)")
        require_text(holder, "the key holder's name")
        wanted = tuple(dict.fromkeys(p.strip() for p in purposes))
        if role == "terminal":
            if not wanted:
                raise ConfigError("a terminal key must name the purposes it serves")
            for purpose in wanted:
                self._check_purpose(purpose)
        elif wanted:
            raise ConfigError("only terminal keys name purposes")
        if self.level >= 3 and role in SEPARATED_ROLES:
            for other in self.list_keys(active_only=True):
                if other.holder == holder and other.role in SEPARATED_ROLES and other.role != role:
                    raise ConfigError(
                        f"{holder!r} already holds the {other.role} role; at protection level "
                        f"{self.level} the admin, auditor and operator roles must be held by "
                        "different people", rule="R25")
        secret_totp = totp.new_secret() if role == "admin" and (
            with_totp or self.level >= 3) else None
        raw_secret = secrets.token_urlsafe(32)
        with self._store.write() as conn:
            key_id = self._new_id(conn)
            raw = f"{KEY_PREFIX}{key_id[2:]}_{raw_secret}"
            now = iso(utc_now())
            totp_ct = (seal(self._store.keyring.totp_key, secret_totp, record_aad(b"totp", key_id))
                       if secret_totp is not None else None)
            conn.execute(db.api_keys.insert().values(
                id=key_id, holder=holder, role=role, purposes=json.dumps(list(wanted)),
                key_hash=_hash(raw), totp_ct=totp_ct, created_at=now, created_by=actor))
            self._store.audit.append(
                conn, actor=actor, operation=Op.ACCESS_KEY_CREATED, outcome="ok",
                rules=["R14", "R25"],
                detail={"key": key_id, "role": role, "holder": holder,
                        "purposes": list(wanted), "second_factor": totp_ct is not None})
            row = conn.execute(sa.select(db.api_keys).where(db.api_keys.c.id == key_id)).one()
        created = _to_key(row)
        if secret_totp is None:
            return CreatedKey(created, raw)
        return CreatedKey(created, raw, totp.secret_base32(secret_totp),
                          totp.provisioning_uri(secret_totp, f"{holder} ({key_id})"))

    @staticmethod
    def _new_id(conn: sa.Connection) -> str:
        while True:
            key_id = f"k_{secrets.token_hex(4)}"
            taken = conn.execute(sa.select(db.api_keys.c.id).where(db.api_keys.c.id == key_id))
            if taken.first() is None:
                return key_id

    def list_keys(self, *, active_only: bool = False) -> list[ApiKey]:
        query = sa.select(db.api_keys).order_by(db.api_keys.c.created_at)
        if active_only:
            query = query.where(db.api_keys.c.revoked_at.is_(None))
        with self._store.records.connect() as conn:
            return [_to_key(r) for r in conn.execute(query)]

    def get(self, key_id: str) -> ApiKey:
        with self._store.records.connect() as conn:
            row = conn.execute(sa.select(db.api_keys).where(db.api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"no API key {key_id}")
        return _to_key(row)

    def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key now; it authenticates nothing from the next request on."""
        with self._store.write() as conn:
            row = conn.execute(sa.select(db.api_keys).where(db.api_keys.c.id == key_id)).first()
            if row is None:
                raise NotFound(f"no API key {key_id}")
            if row.revoked_at is None:
                conn.execute(db.api_keys.update().where(db.api_keys.c.id == key_id)
                             .values(revoked_at=iso(utc_now())))
                self._store.audit.append(
                    conn, actor=actor, operation=Op.ACCESS_KEY_REVOKED, outcome="ok",
                    rules=["R14"], detail={"key": key_id, "role": row.role})
        return self.get(key_id)

    # ---- authentication -----------------------------------------------------------------

    def authenticate(self, raw: str) -> ApiKey | None:
        """The active key ``raw`` is, or ``None``. Constant-time on the stored hash."""
        if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
            return None
        digest = _hash(raw)
        with self._store.records.connect() as conn:
            row = conn.execute(sa.select(db.api_keys).where(
                db.api_keys.c.key_hash == digest, db.api_keys.c.revoked_at.is_(None))).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        now = utc_now()
        if row.last_used_at is None or now - parse_iso(row.last_used_at) > _TOUCH_EVERY:
            with self._store.write() as conn:
                conn.execute(db.api_keys.update().where(db.api_keys.c.id == row.id)
                             .values(last_used_at=iso(now)))
        return _to_key(row)

    def check_totp(self, key: ApiKey, code: str) -> bool:
        """Is ``code`` a fresh TOTP code of ``key``? A code is accepted once (RFC 6238)."""
        with self._store.records.connect() as conn:
            row = conn.execute(sa.select(db.api_keys.c.totp_ct, db.api_keys.c.totp_last_step)
                               .where(db.api_keys.c.id == key.id)).first()
        if row is None or row.totp_ct is None:
            return False
        secret = open_sealed(self._store.keyring.totp_key, row.totp_ct, record_aad(b"totp", key.id))
        step = totp.verify(secret, code, after_step=row.totp_last_step)
        if step is None:
            return False
        with self._store.write() as conn:
            last = db.api_keys.c.totp_last_step
            claimed = conn.execute(db.api_keys.update().where(
                db.api_keys.c.id == key.id, sa.or_(last.is_(None), last < step))
                .values(totp_last_step=step))
        return claimed.rowcount == 1

    # ---- level 3 (R25) ------------------------------------------------------------------

    def level3_problems(self) -> list[str]:
        """What keeps the key set from meeting the level-3 profile; empty when it does."""
        keys = self.list_keys(active_only=True)
        problems = []
        for role in SEPARATED_ROLES:
            if not any(k.role == role for k in keys):
                problems.append(f"no active {role} key (`faceguard keys create --role {role}`)")
        problems += [f"admin key {k.id} has no TOTP second factor; revoke it and create a new "
                     "one" for k in keys if k.role == "admin" and not k.has_totp]
        holders: dict[str, set[str]] = {}
        for k in keys:
            if k.role in SEPARATED_ROLES:
                holders.setdefault(k.holder, set()).add(k.role)
        problems += [f"{holder!r} holds the {' and '.join(sorted(roles))} roles"
                     for holder, roles in sorted(holders.items()) if len(roles) > 1]
        return problems

    def require_level3(self) -> None:
        """``ConfigError`` (R25) listing every gap, at protection level 3 and above."""
        if self.level < 3:
            return
        problems = self.level3_problems()
        if problems:
            raise ConfigError(
                f"protection level {self.level} needs separate admin, auditor and operator "
                "keys held by different people, and TOTP on every admin key: "
                + "; ".join(problems), rule="R25")

    # ---- the processing record ----------------------------------------------------------

    def record(self, operation: str, outcome: str, *, actor: str,
               detail: dict[str, Any] | None = None, rules: tuple[str, ...] = ("R25",)) -> None:
        """Append a service event (logins, failures, lockouts) to the processing record."""
        with self._store.write() as conn:
            self._store.audit.append(conn, actor=actor[:128], operation=operation,
                                        outcome=outcome, rules=list(rules), detail=detail or {})
