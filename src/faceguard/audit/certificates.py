"""Signed deletion certificates (R18): proof that a subject's templates and key were destroyed."""

from __future__ import annotations

import json
from dataclasses import asdict

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy.engine import Connection

from faceguard import db
from faceguard.errors import ConfigError, NotFound
from faceguard.results import _CERTIFICATE_DOMAIN as _DOMAIN
from faceguard.results import DeletionCertificate


def sign(cert: DeletionCertificate, key: Ed25519PrivateKey) -> DeletionCertificate:
    return DeletionCertificate(**{**asdict(cert), "signature": key.sign(cert.body()).hex()})


def is_authentic(cert: DeletionCertificate, public_key: Ed25519PublicKey) -> bool:
    """True when the signature matches the certificate's content."""
    try:
        public_key.verify(bytes.fromhex(cert.signature), cert.body())
    except (InvalidSignature, ValueError):
        return False
    return True


def store(conn: Connection, cert: DeletionCertificate) -> None:
    conn.execute(
        db.certificates.insert().values(
            id=cert.certificate_id,
            subject_id=cert.subject_id,
            body=cert.body()[len(_DOMAIN) :].decode(),
            signature=cert.signature,
            issued_at=cert.issued_at,
        )
    )


def load(conn: Connection, certificate_id: str) -> DeletionCertificate:
    row = conn.execute(
        sa.select(db.certificates).where(db.certificates.c.id == certificate_id)
    ).first()
    if row is None:
        raise NotFound(f"no deletion certificate {certificate_id}")
    fields = json.loads(row.body)
    fields["templates_deleted"] = tuple(fields["templates_deleted"])
    return DeletionCertificate(**fields, signature=row.signature)


def from_json(data: dict[str, object]) -> DeletionCertificate:
    """A certificate from its JSON form (as `faceguard erase --json` prints it)."""
    fields = dict(data)
    try:
        fields["templates_deleted"] = tuple(fields["templates_deleted"])  # type: ignore[arg-type]
        return DeletionCertificate(**fields)  # type: ignore[arg-type]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"not a deletion certificate: {exc}") from exc


def verify_with_public_key(cert: DeletionCertificate, public_key_hex: str) -> bool:
    """Anyone holding the operator's public key can check a certificate."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    except ValueError as exc:
        raise ConfigError("the public key must be 64 hex digits (raw Ed25519)") from exc
    return is_authentic(cert, key)
