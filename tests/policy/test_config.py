"""The deployment file: every malformed key is a ``ConfigError`` naming it; places are closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TEST_DEPLOYMENT
from faceguard.consent.records import CONSENT_METHODS
from faceguard.errors import ConfigError
from faceguard.policy import PLACES, PlaceCategory
from faceguard.policy.deployment import STARTER_TOML, load_deployment, parse_deployment
from faceguard.policy.places import place_type, private_places, public_places
from faceguard.policy.purposes import FORBIDDEN_PURPOSES

FIXTURES = Path(__file__).parent / "fixtures"
BASE = (FIXTURES / "passing_cn_residential.toml").read_text(encoding="utf-8")


def parse_changed(old: str, new: str) -> None:
    assert old in BASE
    parse_deployment(BASE.replace(old, new, 1), source="faceguard.toml")


@pytest.mark.parametrize(("text", "packs"), [(STARTER_TOML, ["cn"]), (TEST_DEPLOYMENT, ["gdpr"]),
                                            (BASE, ["cn"])])
def test_shipped_and_test_files_are_valid(text: str, packs: list[str]) -> None:
    deployment = parse_deployment(text)
    assert deployment.deployment.packs == packs
    assert deployment.deployment.place == "residential-entrance"


def test_design_md_keys_stay_in_the_starter_file() -> None:
    for key in ("name", "controller", "contact", "packs", "place", "public_place",
                "collection_area", "signage", "protection_level", "alternatives",
                "transmission", "assessment", "minors_rules", "liveness"):
        assert f"\n{key} = " in STARTER_TOML, key
    assert "[purposes.access-control]\nnecessity = " in STARTER_TOML


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('liveness = "required"', 'liveness = "required"\nfoo = 1',
         r"unknown key 'deployment\.foo'"),
        ("[deployment]", "colour = 1\n[deployment]", r"unknown key 'colour'"),
        ("retention_days = 365", "retention_days = 365\nkeep = true",
         r"unknown key 'purposes\.access-control\.keep'"),
        ('liveness = "required"\n', "", r"missing key 'deployment\.liveness'"),
        ('contact = "privacy@sunshine.example"\n', "", r"missing key 'deployment\.contact'"),
        ("retention_days = 365\n", "", r"missing key 'purposes\.access-control\.retention_days'"),
        ("protection_level = 2", 'protection_level = "2"', r"key 'deployment\.protection_level'"),
        ("public_place = false", 'public_place = "no"', r"key 'deployment\.public_place'"),
        ('packs = ["cn"]', 'packs = "cn"', r"key 'deployment\.packs'"),
        ('packs = ["cn"]', 'packs = ["cn", "mars"]',
         r"key 'deployment\.packs': unknown pack 'mars'; known packs: bipa, cn, cn-draft-2023"),
        ('packs = ["cn"]', "packs = []", r"key 'deployment\.packs'"),
        ('packs = ["cn"]', 'packs = ["cn", "cn"]',
         r"key 'deployment\.packs': each pack may be named once"),
        ('place = "residential-entrance"', 'place = "moon-base"',
         r"key 'deployment\.place': unknown place type 'moon-base'; known place types: "),
        ("protection_level = 2", "protection_level = 0", r"key 'deployment\.protection_level'"),
        ("protection_level = 2", "protection_level = 6", r"key 'deployment\.protection_level'"),
        ('transmission = "local"', 'transmission = "cloud"', r"key 'deployment\.transmission'"),
        ('liveness = "required"', 'liveness = "maybe"', r"key 'deployment\.liveness'"),
        ('liveness = "required"', 'liveness = "required"\nconsent_methods = ["fingerprint"]',
         r"key 'deployment\.consent_methods\.0'"),
        ('liveness = "required"', 'liveness = "required"\nconsent_methods = []',
         r"key 'deployment\.consent_methods'"),
        ('liveness = "required"', 'liveness = "required"\nretention_policy_url = 3',
         r"key 'deployment\.retention_policy_url'"),
        ("[purposes.access-control]", "[purposes.mind-reading]",
         r"key 'purposes': unknown purpose 'mind-reading'"),
        ("retention_days = 365", 'retention_days = "365"',
         r"key 'purposes\.access-control\.retention_days'"),
        ('contact = "privacy@sunshine.example"', "contact = 7", r"key 'deployment\.contact'"),
        ("[deployment]", "[deployment", r" is not valid TOML"),
        ("[deployment]", '[transmission_basis]\nkind = "hope"\nreference = "r"\nevidence = "e"'
         "\n[deployment]", r"key 'transmission_basis\.kind'"),
        ("[deployment]", '[transmission_basis]\nkind = "legal-basis"\nreference = "r"'
         "\n[deployment]", r"missing key 'transmission_basis\.evidence'"),
        ("[deployment]", '[transmission_basis]\nkind = "legal-basis"\nreference = "r"'
         '\nevidence = "e"\nsigned = true\n[deployment]',
         r"unknown key 'transmission_basis\.signed'"),
        ("[deployment]", "transmission_basis = true\n[deployment]",
         r"key 'transmission_basis'"),
        ("[deployment]", '[[authorisations]]\nkind = "law-enforcement-realtime-identification"'
         '\nauthority = "a"\nreference = "r"\nvalid_until = "2026-06-30"\n[deployment]',
         r"key 'authorisations\.0\.valid_until'"),
        ("[deployment]", '[[authorisations]]\nkind = "search-warrant"\nauthority = "a"'
         '\nreference = "r"\nvalid_until = 2026-06-30\n[deployment]',
         r"key 'authorisations\.0\.kind'"),
        ("[deployment]", '[[authorisations]]\nkind = "law-enforcement-realtime-identification"'
         '\nreference = "r"\nvalid_until = 2026-06-30\n[deployment]',
         r"missing key 'authorisations\.0\.authority'"),
    ],
)
def test_malformed_key_is_named(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^faceguard\.toml.*" + message):
        parse_changed(old, new)


def test_forbidden_purposes_parse_so_the_check_can_cite_their_rule() -> None:
    for purpose in FORBIDDEN_PURPOSES:
        text = BASE + f'\n[purposes.{purpose}]\nnecessity = "x"\nretention_days = 1\n'
        assert purpose in parse_deployment(text).purposes


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('contact = "privacy@sunshine.example"', 'contact = ""'),  # R2
        ('controller = "Sunshine Property Management Co."', 'controller = " "'),  # R2
        ('necessity = "Residents open the gate hands-free; cards remain available."',
         'necessity = ""'),  # R1
        ("retention_days = 365", "retention_days = 0"),  # R8
        ("retention_days = 365", "retention_days = 36500"),  # R8
        ("[purposes.access-control]", "[purposes.emotion-analysis]"),  # R27, R1
    ],
)
def test_lawfulness_is_not_a_shape_error(old: str, new: str) -> None:
    """A value that reads fine but fails the law parses: ``faceguard check`` cites its rule
    (exit 1) instead of refusing the file as malformed (exit 2)."""
    parse_changed(old, new)


def test_records_of_r7_and_p8_parse() -> None:
    text = BASE + (
        '\n[transmission_basis]\nkind = "legal-basis"\nreference = "Order 12"\nevidence = ""\n'
        '\n[[authorisations]]\nkind = "law-enforcement-realtime-identification"\n'
        'authority = "Court"\nreference = "A-1"\nvalid_until = 2026-06-30\n'
    )
    deployment = parse_deployment(text)
    assert deployment.transmission_basis is not None
    assert deployment.transmission_basis.evidence == ""  # blank: R7, judged by the check
    [record] = deployment.authorisations
    assert record.valid_until.isoformat() == "2026-06-30"
    assert parse_deployment(BASE).transmission_basis is None
    assert parse_deployment(BASE).authorisations == []


def test_optional_keys_default() -> None:
    section = parse_deployment(BASE).deployment
    assert section.retention_policy_url == ""
    assert section.consent_methods == list(CONSENT_METHODS)


def test_load_deployment_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deployment file .*absent.toml not found"):
        load_deployment(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_deployment(binary)


# ---- place types ---------------------------------------------------------------------------


def test_private_places_are_the_r13_list() -> None:
    assert private_places() == [
        "changing-room", "dormitory-room", "hotel-room", "public-bathroom", "toilet",
    ]


def test_public_places() -> None:
    assert public_places() == [
        "airport", "hospital", "public-square", "public-street", "shopping-mall", "stadium",
        "transport-station",
    ]


def test_every_place_is_documented_and_parses() -> None:
    for name, place in PLACES.items():
        assert place.name == name and place.description and place.source
        assert isinstance(place.category, PlaceCategory)
        parse_changed('place = "residential-entrance"', f'place = "{name}"')
    assert PlaceCategory.__doc__ and "CC 1033" in PlaceCategory.__doc__


def test_place_type_lookup() -> None:
    assert place_type("toilet").private and not place_type("toilet").public
    assert place_type("airport").public
    with pytest.raises(KeyError, match="unknown place type 'attic'"):
        place_type("attic")
