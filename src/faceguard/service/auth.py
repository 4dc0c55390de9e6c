"""Who is calling, and may they: every permission check of the service lives here (R14, R25).

A request authenticates with an API key (``Authorization: Bearer fgk_...`` or
``X-API-Key: fgk_...``) or with the session cookie the login page sets. Routes declare what
they need with the ``Annotated`` aliases at the bottom (``AdminKey``, ``ReaderKey``...);
``require`` attaches the allowed roles to the dependency, so the OpenAPI document
(``x-roles``), the docs page and the tests read the same table.

- no key, or an unknown, revoked or malformed one: 401 (``unauthenticated``);
- a valid key whose role does not cover the route, or a terminal key used for a purpose it
  does not name: 403 (``forbidden``), recorded as ``access.denied``;
- at protection level 3, an admin key without a fresh TOTP code (``X-TOTP`` header, or a
  session opened with one): 401 (``second-factor``, R25);
- too many failed attempts: 429 with Retry-After (``throttled``), see below;
- a cookie-authenticated request that changes something must come from a page of this
  service (Origin or Referer matching Host), else 403: the cookie is also SameSite=Strict;
- a kiosk session (opened for ``/kiosk``) reaches nothing but the kiosk's pages (403).

Failed authentication is throttled (R25, R26) so that nobody can lock out a key they do not
hold. A key reads ``fgk_<8 hex>_<secret>``: the hex names its public key ID (``k_<8 hex>``,
shown in lists and recorded as the actor of all it does, so anyone may know it), the secret
is 256 random bits. Failures are counted in buckets of ``auth_failures`` within
``auth_window_seconds``; a full bucket is locked for ``lockout_seconds`` and its lockout
recorded (``access.locked_out``, an alarm on the dashboard):

- ``address:<ip>``: every presented key that authenticates nothing (unknown, revoked,
  malformed, or a wrong secret). A locked address gets 429 for such keys, and a valid key
  from it still works: behind a proxy every terminal shares one address, and one client's
  mistakes or guesses must not lock the others out.
- ``key:<id>``: wrong secrets naming an existing key ID, from any address. Once locked,
  further wrong secrets naming that ID get 429 and the alarm names the key under attack;
  the right secret is still accepted. Refusing it would hand a denial of service to anyone
  who has read a key ID, and guessing is no threat to a 256-bit secret.
- ``holder:<id>``: wrong TOTP codes sent with a key's right secret (level 3 admins). Only
  a holder of the secret can fail here, and a 6-digit code can be guessed, so a locked
  holder bucket refuses that key entirely (429), with any code, until it ends.

A valid key is thus refused only for failures of its own (its ``holder`` bucket); a
browser session, once opened, is never throttled. Success resets a key's ``holder`` bucket
only: nothing a caller does with a valid key clears the counts of an address or a key ID.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from faceguard import ApiKey
from faceguard.access.keys import Role
from faceguard.audit.operations import Op
from faceguard.errors import NotFound
from faceguard.service.deps import ServiceState, State
from faceguard.service.problems import ProblemError

COOKIE = "fg_session"
TOTP_HEADER = "X-TOTP"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_KEY_SHAPE = re.compile(r"fgk_([0-9a-f]{8})_")

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fgk_...`")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
session_cookie = APIKeyCookie(name=COOKIE, auto_error=False,
                              description="Browser session set by /-/login")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its key and how it proved itself."""

    key: ApiKey
    via: Literal["key", "session"]
    second_factor: bool

    @property
    def role(self) -> Role:
        return self.key.role

    @property
    def actor(self) -> str:
        return self.key.actor

    @property
    def terminal(self) -> str:
        """The terminal liveness challenges are issued to: the key itself, never a field of
        the request (a challenge answered with another key is an attack, R26)."""
        return self.key.id


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def claimed_key_id(raw: str) -> str | None:
    """The key ID a presented key names (``fgk_1a2b3c4d_...`` names ``k_1a2b3c4d``), or
    ``None`` when it is not shaped like a key."""
    found = _KEY_SHAPE.match(raw)
    return f"k_{found.group(1)}" if found else None


def _address(request: Request) -> str:
    return f"address:{client_of(request)}"


def record_failure(state: ServiceState, request: Request, outcome: str, detail: dict[str, Any],
                   buckets: list[tuple[str, str]]) -> None:
    """Count a failed authentication in each ``(bucket, scope)``, record it, and record the
    lockout of each bucket it locks (``access.locked_out``, an alarm)."""
    client = client_of(request)
    locked = [(bucket, scope) for bucket, scope in buckets if state.throttle.fail(bucket)]
    state.metrics.auth_failed(locked_out=bool(locked))
    state.keys.record(Op.ACCESS_DENIED, outcome, actor=f"client:{client}",
                      detail={**detail, "route": request.url.path[:200]})
    for bucket, scope in locked:
        state.keys.record(Op.ACCESS_LOCKED_OUT, "locked", actor=f"client:{client}",
                          detail={"seconds": state.settings.lockout_seconds, "scope": scope,
                                  "bucket": bucket})


def _throttled(wait: int, what: str) -> ProblemError:
    return ProblemError("throttled", f"too many failed attempts {what}; try again in {wait} "
                        "seconds", rule="R25", headers={"Retry-After": str(wait)})


def refuse_bad_key(state: ServiceState, request: Request, raw: str,
                   detail: dict[str, Any]) -> None:
    """For a presented key that authenticates nothing: count it against the address and,
    when it names an existing key ID, against that ID's wrong-secret bucket; 429 when either
    is already locked out (then it is not counted again). The caller then answers 401."""
    claimed = claimed_key_id(raw)
    if claimed is not None:
        try:
            state.keys.get(claimed)
        except NotFound:
            claimed = None
    buckets = [(_address(request), "address")]
    if claimed is not None:
        buckets.append((f"key:{claimed}", "key"))
    for bucket, scope in buckets:
        wait = state.throttle.retry_after(bucket)
        if wait is not None:
            raise _throttled(wait, "from this address" if scope == "address"
                             else f"with key ID {claimed}")
    record_failure(state, request, "bad-key",
                   {**detail, **({"key": claimed} if claimed else {})}, buckets)


def refuse_if_holder_locked(state: ServiceState, key: ApiKey) -> None:
    """429 while ``key`` is locked out for its own failed second-factor codes."""
    wait = state.throttle.retry_after(f"holder:{key.id}")
    if wait is not None:
        raise _throttled(wait, f"with key {key.id} (wrong TOTP codes)")


def needs_second_factor(state: ServiceState, key: ApiKey) -> bool:
    return key.role == "admin" and state.keys.level >= 3


def check_second_factor(state: ServiceState, request: Request, key: ApiKey, code: str) -> bool:
    """Is ``code`` a fresh TOTP code of ``key``? Counts and records a wrong one."""
    if state.keys.check_totp(key, code):
        state.throttle.succeed(f"holder:{key.id}")
        return True
    record_failure(state, request, "bad-second-factor", {"key": key.id},
                   [(f"holder:{key.id}", "second-factor")])
    return False


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(source) and urlsplit(source).netloc == host


def authenticate(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(key_header)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The caller, or a 401/429 problem."""
    raw = credentials.credentials if credentials is not None else header_key
    if raw:
        key = state.keys.authenticate(raw)
        if key is None:
            refuse_bad_key(state, request, raw, {})
            raise ProblemError("unauthenticated", "unknown or revoked API key",
                               headers={"WWW-Authenticate": "Bearer"})
        refuse_if_holder_locked(state, key)
        second = False
        if needs_second_factor(state, key):
            code = request.headers.get(TOTP_HEADER, "")
            if not code:
                raise ProblemError("second-factor", f"admin actions at protection level "
                                   f"{state.keys.level} need a TOTP code in the {TOTP_HEADER} "
                                   "header", rule="R25")
            if not check_second_factor(state, request, key, code):
                raise ProblemError("second-factor", "the TOTP code is wrong or was already "
                                   "used", rule="R25")
            second = True
        return Principal(key, "key", second)
    if cookie:
        session = state.sessions.get(cookie)
        if session is not None:
            try:
                holder: ApiKey | None = state.keys.get(session.key_id)
            except NotFound:
                holder = None
            if holder is not None and holder.revoked_at is None:
                key = holder
                if request.method not in _SAFE_METHODS and not _same_origin(request):
                    raise ProblemError("forbidden", "cross-site request refused: a page of "
                                       "this service must send it (Origin/Referer)")
                if session.kiosk_only and not request.url.path.startswith("/kiosk"):
                    raise ProblemError("forbidden", "this browser is logged in for the kiosk "
                                       "only; log out and in again to use other pages")
                if needs_second_factor(state, key) and not session.second_factor:
                    raise ProblemError("second-factor", "log in again with a TOTP code",
                                       rule="R25")
                return Principal(key, "session", session.second_factor)
            state.sessions.end(cookie)
        raise ProblemError("unauthenticated", "the session has ended; log in again")
    raise ProblemError("unauthenticated", "an API key is required (Authorization: Bearer "
                       "fgk_... or X-API-Key), or log in at /-/login",
                       headers={"WWW-Authenticate": "Bearer"})


CurrentKey = Annotated[Principal, Depends(authenticate)]


def session_principal(request: Request, state: ServiceState) -> Principal | None:
    """Who is logged in through this browser's session cookie, or ``None``: what a page
    open to everyone shows in its header (the holder and "Log out", not "Log in"). It
    admits nothing: routes that need a key use ``authenticate``."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    session = state.sessions.get(token)
    if session is None:
        return None
    try:
        key = state.keys.get(session.key_id)
    except NotFound:
        return None
    if key.revoked_at is not None:
        return None
    return Principal(key, "session", session.second_factor)


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only keys holding one of ``roles`` (403 otherwise)."""

    def dependency(request: Request, state: State, principal: CurrentKey) -> Principal:
        if principal.role not in roles:
            state.keys.record(Op.ACCESS_DENIED, "forbidden", actor=principal.actor,
                              detail={"route": request.url.path[:200], "role": principal.role},
                              rules=("R14",))
            raise ProblemError("forbidden", f"this operation needs the {' or '.join(roles)} "
                               f"role; key {principal.key.id} holds the {principal.role} role",
                               rule="R14")
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency


_admin = require("admin")
_operator = require("operator")
_terminal = require("terminal")
_admin_or_operator = require("admin", "operator")
_camera = require("operator", "terminal")
_reader = require("admin", "auditor")
_staff = require("admin", "operator", "auditor")
_any = require("admin", "operator", "terminal", "auditor")

AdminKey = Annotated[Principal, Depends(_admin)]
OperatorKey = Annotated[Principal, Depends(_operator)]
TerminalKey = Annotated[Principal, Depends(_terminal)]
AdminOrOperatorKey = Annotated[Principal, Depends(_admin_or_operator)]
#: Keys of devices that film people: the kiosk (operator) and terminals (liveness, R26).
CameraKey = Annotated[Principal, Depends(_camera)]
#: Records and reports, read only: the DPO and the auditor.
ReaderKey = Annotated[Principal, Depends(_reader)]
#: Everyone but terminals: the dashboard, the check, explanations.
StaffKey = Annotated[Principal, Depends(_staff)]
AnyKey = Annotated[Principal, Depends(_any)]


def terminal_purpose(
    request: Request,
    state: State,
    principal: TerminalKey,
    purpose: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$")],
) -> str:
    """The path's purpose, if the terminal key names it (403 otherwise)."""
    if purpose not in principal.key.purposes:
        state.keys.record(Op.ACCESS_DENIED, "forbidden", actor=principal.actor,
                          detail={"route": request.url.path[:200], "purpose": purpose},
                          rules=("R1", "R14"))
        raise ProblemError("forbidden", f"key {principal.key.id} serves "
                           f"{', '.join(principal.key.purposes)}, not {purpose!r}", rule="R14")
    return purpose


TerminalPurpose = Annotated[str, Depends(terminal_purpose)]


def _dependencies(route: APIRoute) -> Iterator[Any]:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        yield dep.call
        stack.extend(dep.dependencies)


def roles_of(route: APIRoute) -> tuple[Role, ...] | None:
    """The roles a route admits (``None``: public)."""
    for call in _dependencies(route):
        roles = getattr(call, "roles", None)
        if roles is not None:
            return tuple(roles)
    return None
