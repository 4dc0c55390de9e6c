"""Giving templates to another processor (R7, R20, R21; BIPA P5): off unless a basis is recorded.

A transfer needs, for that subject and that recipient, a recorded separate consent (R20)
(which also serves as the transmission consent of R7); a transfer outside the jurisdiction
also needs a recorded legal mechanism (R21, PIPL 38). Where a pack forbids sharing
(``sharing_forbidden``, BIPA 15(c), (d)) no disclosure is possible at all (P5). Bases are
recorded as events of the processing record, so they are tamper-evident and kept with it.
An allowed transfer is sealed to the recipient's X25519 public key (ephemeral key
agreement, HKDF-SHA256, AES-256-GCM): only the recipient can open it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from faceguard.audit.events import AuditEvent
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError, PolicyError

BasisKind = Literal["consent", "mechanism"]
BASIS_OPERATION = Op.SHARING_BASIS_RECORDED
_INFO = b"faceguard/share/v1"


@dataclass(frozen=True)
class SharePackage:
    """Templates sealed for one recipient. ``sealed`` is base64 of nonce || ciphertext."""

    recipient: str
    subject: str
    templates: int
    ephemeral_public_key: str
    sealed: str


def bases_for(events: Sequence[AuditEvent], recipient: str) -> set[str]:
    """The basis kinds recorded for ``recipient`` among a subject's events."""
    return {
        str(e.detail.get("kind"))
        for e in events
        if e.operation == BASIS_OPERATION and e.detail.get("recipient") == recipient
    }


def require_basis(
    sharing_forbidden: bool, recorded: set[str], recipient: str, *, cross_border: bool
) -> None:
    """Refuse, citing the rule, unless the transfer has every basis it needs;
    ``sharing_forbidden`` is the packs' flag (``PackNumbers.sharing_forbidden``)."""
    if sharing_forbidden:
        raise PolicyError(
            "the deployment's law packs forbid selling, leasing, trading or otherwise "
            "disclosing biometric data",
            rule="P5",
        )
    if "consent" not in recorded:
        raise PolicyError(
            f"no separate consent of this person to give their face data to {recipient!r} "
            "is recorded",
            rule="R20",
        )
    if cross_border and "mechanism" not in recorded:
        raise PolicyError(
            f"no legal mechanism (standard contract, certification or security assessment) "
            f"is recorded for sending face data to {recipient!r} abroad",
            rule="R21",
        )


def seal_for(recipient_public_key_hex: str, payload: dict[str, object]) -> tuple[str, str]:
    """``(ephemeral public key hex, base64 sealed payload)`` for the recipient's X25519 key."""
    try:
        peer = X25519PublicKey.from_public_bytes(bytes.fromhex(recipient_public_key_hex))
    except ValueError as exc:
        raise ConfigError("the recipient key must be a raw X25519 public key in hex") from exc
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(peer)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared)
    nonce = os.urandom(12)
    body = json.dumps(payload, sort_keys=True).encode("utf-8")
    sealed = nonce + AESGCM(key).encrypt(nonce, body, _INFO)
    public = ephemeral.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return public.hex(), base64.b64encode(sealed).decode("ascii")


def open_package(package: SharePackage, recipient_key: X25519PrivateKey) -> dict[str, object]:
    """What the recipient does with its private key."""
    peer = X25519PublicKey.from_public_bytes(bytes.fromhex(package.ephemeral_public_key))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        recipient_key.exchange(peer)
    )
    blob = base64.b64decode(package.sealed)
    data: dict[str, object] = json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], _INFO))
    return data
