"""Giving templates to another processor: refused without the bases the law asks for
(R20 separate consent, R21 cross-border mechanism, P5 never under BIPA); sealed otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from conftest import TEST_DEPLOYMENT, go_live
from faceguard import Faceguard, PolicyError
from faceguard.consent.sharing import open_package
from faceguard.engine.dlib_engine import DlibEngine

PERSON = "Colin_Powell"


def recipient_keys() -> tuple[X25519PrivateKey, str]:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return private, public.hex()


def enrolled(fg: Faceguard, lfw: Path, method: str = "click") -> None:
    fg.consent.grant(PERSON, "attendance", name="CP", method=method, evidence="kiosk")
    fg.enroll(PERSON, [(lfw / PERSON / f"{PERSON}_0001.jpg").read_bytes()], "attendance")


def test_sharing_needs_a_recorded_consent_and_abroad_a_mechanism(fg: Faceguard, lfw: Path
                                                                 ) -> None:
    enrolled(fg, lfw)
    private, public = recipient_keys()
    with pytest.raises(PolicyError) as err:
        fg.rights.share(PERSON, "attendance", "Partner Co.", public)
    assert err.value.rule == "R20"
    fg.rights.record_sharing_basis(PERSON, "Partner Co.", kind="consent", evidence="form 88")
    with pytest.raises(PolicyError) as err:
        fg.rights.share(PERSON, "attendance", "Partner Co.", public, cross_border=True)
    assert err.value.rule == "R21"
    with pytest.raises(PolicyError) as err:  # a consent to one recipient is not to another
        fg.rights.share(PERSON, "attendance", "Other Co.", public)
    assert err.value.rule == "R20"

    package = fg.rights.share(PERSON, "attendance", "Partner Co.", public)
    opened = open_package(package, private)
    assert package.templates == 1 and opened["purpose"] == "attendance"
    [template] = opened["templates"]  # type: ignore[misc]
    with fg._store.records.connect() as conn:
        stored = fg._store.vault.templates(conn, purpose="attendance")[0]
    assert np.allclose(template["vector"], stored.template.vector, atol=1e-6)
    with pytest.raises(InvalidTag):  # nobody else can open it
        open_package(package, X25519PrivateKey.generate())

    fg.rights.record_sharing_basis(PERSON, "Partner Co.", kind="mechanism", evidence="SCC 2026-4")
    shared = fg.rights.share(PERSON, "attendance", "Partner Co.", public, cross_border=True)
    assert shared.templates == 1
    outcomes = [(e.operation, e.outcome, e.rules) for e in fg._store.audit.events()
                if e.operation == "templates.shared"]
    assert outcomes == [
        ("templates.shared", "refused", ("R20",)),
        ("templates.shared", "refused", ("R21",)),
        ("templates.shared", "refused", ("R20",)),
        ("templates.shared", "ok", ("R7", "R20")),
        ("templates.shared", "ok", ("R7", "R20", "R21")),
    ]


def test_bipa_never_allows_disclosure(data_dir: Path, engine: DlibEngine, lfw: Path) -> None:
    bipa = TEST_DEPLOYMENT.replace('packs = ["gdpr"]', 'packs = ["bipa"]').replace(
        "retention_days = 365\n", "retention_days = 1000\n").replace(
        'liveness = "off"', 'liveness = "off"\nretention_policy_url = "https://t.example/r"\n'
        'consent_methods = ["written"]')
    go_live(data_dir, bipa, engine)
    with Faceguard.open(data_dir, engine=engine) as fg:
        fg.consent.publish_notice("attendance")
        enrolled(fg, lfw, method="written")
        fg.rights.record_sharing_basis(PERSON, "Partner Co.", kind="consent", evidence="form 88")
        with pytest.raises(PolicyError) as err:
            fg.rights.share(PERSON, "attendance", "Partner Co.", recipient_keys()[1])
        assert err.value.rule == "P5"
