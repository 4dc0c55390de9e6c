"""Time-based one-time passwords (RFC 6238) as the second factor of admin keys (R25).

At protection level 3 every admin key has a TOTP secret (20 random bytes, HMAC-SHA1,
6 digits, 30-second steps: what authenticator apps expect). A code is accepted for the
current step and one step either side (clock drift), and only once: ``verify`` returns the
step it matched and the caller refuses any step not later than the last one accepted
(RFC 6238 section 5.2).
"""

from __future__ import annotations

import base64
import secrets
import time

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

SECRET_BYTES = 20
DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
ISSUER = "faceguard"


def new_secret() -> bytes:
    """A fresh random TOTP secret."""
    return secrets.token_bytes(SECRET_BYTES)


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS)  # noqa: S303 - RFC 6238 default


def secret_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it when typed in (base32, no padding)."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def provisioning_uri(secret: bytes, account: str) -> str:
    """``otpauth://totp/...`` for a QR code or an authenticator app."""
    return _totp(secret).get_provisioning_uri(account, ISSUER)


def code_at(secret: bytes, when: float | None = None) -> str:
    """The code for the step containing ``when`` (now by default); for tests and set-up."""
    moment = time.time() if when is None else when
    return _totp(secret).generate(int(moment)).decode("ascii")


def verify(secret: bytes, code: str, *, after_step: int | None = None,
           when: float | None = None) -> int | None:
    """The step ``code`` is valid for (within the drift window and later than
    ``after_step``), or ``None``. Never raises on malformed input."""
    code = code.strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    moment = int(time.time() if when is None else when)
    totp = _totp(secret)
    current = moment // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        try:
            totp.verify(code.encode("ascii"), step * STEP_SECONDS)
        except InvalidToken:
            continue
        return step
    return None
