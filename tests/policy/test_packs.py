"""Law packs: the shipped ones load and agree with REQUIREMENTS.md; bad ones fail loudly."""

from __future__ import annotations

import re
from dataclasses import fields
from importlib import resources
from pathlib import Path

import pytest

from conftest import REPO
from faceguard.errors import ConfigError
from faceguard.policy import CHECKS, get_pack, known_pack_ids, load_pack, pack_numbers, rules_for
from faceguard.policy.deployment import Deployment, parse_deployment
from faceguard.policy.packs import (
    DEFAULT_USEFUL_FNIR,
    Pack,
    PackNumbers,
    PackNumberSpec,
    combine_numbers,
    merge_rules,
    product_rules,
)

PACKS = resources.files("faceguard.policy").joinpath("packs")
FIXTURES = Path(__file__).parent / "fixtures"
REQUIREMENTS = REPO.parent / "shared" / "docs" / "REQUIREMENTS.md"
EXPECTED_RULES = {
    "cn": {f"R{n}" for n in range(1, 29)},
    "cn-draft-2023": {f"R{n}" for n in range(1, 29)},
    "gdpr": {"P1", "P2"},
    "bipa": {"P3", "P4", "P5"},
    "eu-ai-act": {"P6", "P7", "P8"},
}


def requirements() -> dict[str, tuple[str, list[str]]]:
    """REQUIREMENTS.md's rule tables: ID -> (source, kinds), e.g. ["BLOCK", "REPORT"]."""
    if not REQUIREMENTS.is_file():
        pytest.skip(f"{REQUIREMENTS} not found: the requirements cross-check is skipped")
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[RP]\d+", cells[0]):
            rows[cells[0]] = (cells[1], [k.strip() for k in cells[4].split("+")])
    assert len(rows) == 36
    return rows


def write_pack(tmp_path: Path, old: str, new: str, pack: str = "gdpr") -> Path:
    text = PACKS.joinpath(f"{pack}.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{pack}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def deployment(packs: str) -> Deployment:
    text = (FIXTURES / "passing_cn_residential.toml").read_text(encoding="utf-8")
    return parse_deployment(text.replace('packs = ["cn"]', f"packs = {packs}"))


# ---- the shipped packs -------------------------------------------------------------------


def test_every_shipped_pack_loads() -> None:
    assert set(known_pack_ids()) == set(EXPECTED_RULES)
    for pack_id, expected in EXPECTED_RULES.items():
        pack = get_pack(pack_id)
        assert pack.id == pack_id
        assert {r.id for r in pack.rules} == expected
        assert pack.sources and pack.title
        assert all(r.source and r.title for r in pack.rules)


@pytest.mark.parametrize("pack_id", sorted(EXPECTED_RULES))
def test_pack_rules_match_requirements(pack_id: str) -> None:
    table = requirements()
    for rule in get_pack(pack_id).rules:
        assert rule.id in table, rule.id
        source, kinds = table[rule.id]
        assert rule.kind == kinds[0], rule.id
        assert set(kinds) <= set(rule.kinds), rule.id
        cited = rule.source.split(";")[0].split("(")[0].strip()
        assert cited in source, (rule.id, cited, source)


def test_every_rule_is_checked_or_says_where_it_is_enforced() -> None:
    for pack_id in known_pack_ids():
        for rule in get_pack(pack_id).rules:
            assert rule.check in CHECKS or (rule.check is None and rule.enforced_at.strip())


def test_cn_packs_require_liveness_and_differ_in_filing() -> None:
    final, draft = get_pack("cn").numbers, get_pack("cn-draft-2023").numbers
    assert final.liveness_required and draft.liveness_required
    assert (final.filing_threshold_people, final.filing_threshold_comparison) == (100_000, ">=")
    assert (draft.filing_threshold_people, draft.filing_threshold_comparison) == (10_000, ">")
    assert not final.filing_on_public_place and draft.filing_on_public_place
    for numbers in (final, draft):
        assert numbers.filing_deadline_working_days == 30
        assert numbers.minors_age == 14
        assert numbers.assessment_retention_years == 3


# ---- numbers and rules of a deployment ---------------------------------------------------


def test_pack_numbers_take_the_strictest() -> None:
    cn = pack_numbers(deployment('["cn"]'))
    assert cn.filing_min_people == 100_000 and cn.filing_due(100_000)
    assert not cn.filing_due(99_999)
    both = pack_numbers(deployment('["cn", "cn-draft-2023"]'))
    assert both.filing_min_people == 10_001
    assert (both.filing_threshold_people, both.filing_threshold_comparison) == (10_000, ">")
    assert both.filing_on_public_place
    assert both.filing_authority == "the cyberspace office at municipal level or above"
    assert both.packs == ("cn", "cn-draft-2023")
    bipa = pack_numbers(deployment('["gdpr", "bipa"]'))
    assert bipa.max_retention_years_after_last_interaction == 3
    assert bipa.filing_min_people is None and not bipa.filing_due(10**9)
    assert not bipa.liveness_required
    assert (bipa.minors_age, bipa.assessment_retention_years) == (14, 3)


def test_rules_for_is_the_union_of_the_packs() -> None:
    rules = rules_for(deployment('["cn", "gdpr", "bipa"]'))
    assert set(rules) == EXPECTED_RULES["cn"] | {"P1", "P2", "P3", "P4", "P5"}
    both = rules_for(deployment('["cn", "cn-draft-2023"]'))
    assert set(both) == EXPECTED_RULES["cn"]
    assert both["R15"].source == (
        "FRM 15 (final: >= 100,000 people) | FRD (draft: > 10,000 people, or any public-place use)"
    )
    assert both["R15"].kinds == ("WARN", "REPORT")


def test_product_rules_apply_whatever_the_packs() -> None:
    always = product_rules()
    assert set(always) == {"R1", "R2", "R8", "R13", "R17", "R27"}
    assert always["R13"].source == get_pack("cn").rule("R13").source  # the first pack's
    gdpr = rules_for(deployment('["gdpr"]'))
    assert set(gdpr) == {"P1", "P2", *always}
    eu = rules_for(deployment('["eu-ai-act"]'))
    assert set(eu) == {"P6", "P7", "P8", "R1", "R2", "R8", "R13", "R17"}  # P7 stands for R27


def test_covered_by_needs_applies_always(tmp_path: Path) -> None:
    path = write_pack(tmp_path, 'id = "P1"\nkind = "BLOCK"',
                      'id = "P1"\nkind = "BLOCK"\ncovered_by = ["R3"]')
    with pytest.raises(ConfigError, match=r"key 'rules\.0': 'covered_by' is only meaningful"):
        load_pack(path)


def test_useful_fnir_is_pack_data() -> None:
    """R17's useful FNIR comes from the packs (the lowest wins), 20% where none sets it."""
    assert get_pack("cn").numbers.useful_fnir == get_pack("cn-draft-2023").numbers.useful_fnir
    assert pack_numbers(deployment('["cn"]')).useful_fnir == 0.2
    assert get_pack("gdpr").numbers.useful_fnir is None
    assert pack_numbers(deployment('["gdpr"]')).useful_fnir == DEFAULT_USEFUL_FNIR == 0.2


def test_the_lowest_useful_fnir_wins(tmp_path: Path) -> None:
    strict = load_pack(write_pack(tmp_path, "[numbers]\n", "[numbers]\nuseful_fnir = 0.05\n"))
    assert combine_numbers([get_pack("cn"), strict]).useful_fnir == 0.05
    assert combine_numbers([strict, get_pack("cn")]).useful_fnir == 0.05


def test_law_differences_are_pack_data() -> None:
    bipa = pack_numbers(deployment('["bipa"]'))
    assert bipa.written_release_required and bipa.sharing_forbidden
    assert bipa.max_retention_years_after_last_interaction == 3
    cn = pack_numbers(deployment('["cn"]'))
    assert not cn.written_release_required and not cn.sharing_forbidden
    assert (cn.compliance_audit_people, cn.compliance_audit_interval_years) == (10_000_000, 2)
    assert (cn.security_log_retention_months, cn.max_retention_days) == (6, 3650)
    both = pack_numbers(deployment('["cn", "gdpr"]'))
    assert both.sources_for("lawfulness") == ("GDPR 35(7)(b)",)
    assert cn.sources_for("lawfulness") == ()
    assert PackNumbers(max_retention_days=30).max_retention_days == 30


def test_every_pack_number_is_read_by_the_product() -> None:
    """A number a pack declares but no code reads is a promise nothing keeps (issue 13)."""
    src = REPO / "src" / "faceguard"
    code = "\n".join(p.read_text(encoding="utf-8") for p in src.rglob("*.py")
                     if p.name != "packs.py")
    for spec in fields(PackNumbers):
        if spec.name in ("packs", "assessment_sources"):
            continue
        assert f".{spec.name}" in code, spec.name
    assert set(PackNumberSpec.model_fields) <= {f.name for f in fields(PackNumbers)}


def test_no_code_names_a_pack() -> None:
    """Law as data: the product never branches on which pack is named."""
    src = REPO / "src" / "faceguard"
    named = re.compile(r"[\"'](cn|cn-draft-2023|gdpr|bipa|eu-ai-act)[\"']"
                       r"|startswith\([\"'](cn|gdpr|bipa|eu)")
    for path in src.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if named.search(line) and not line.lstrip().startswith(("packs = [", "id = ")):
                raise AssertionError(f"{path.relative_to(src)}:{number}: {line.strip()}")


def test_a_rule_named_by_two_packs_keeps_the_stricter_kind(tmp_path: Path) -> None:
    path = write_pack(tmp_path, 'id = "P1"\nkind = "BLOCK"', 'id = "P1"\nkind = "WARN"')
    lenient = load_pack(path)
    merged = merge_rules([lenient, get_pack("gdpr")])
    assert merged["P1"].kind == "BLOCK" and merged["P1"].kinds == ("BLOCK", "WARN")
    assert list(merged) == ["P1", "P2"]
    numbers = combine_numbers([lenient, get_pack("cn")])
    assert numbers.packs == ("gdpr", "cn") and numbers.liveness_required


# ---- invalid packs fail loudly -----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('title = "Impact', 'colour = "red"\ntitle = "Impact', r"unknown key 'rules\.1\.colour'"),
        ('jurisdiction = "European Union / EEA"\n', "", r"missing key 'jurisdiction'"),
        ('kind = "BLOCK"', 'kind = "MAYBE"', r"key 'rules\.0\.kind'"),
        ('check = "check_assessment"', 'check = "check_nothing"',
         r"key 'rules\.1\.check': no check function 'check_nothing'"),
        ('id = "P2"', 'id = "P1"', r"key 'rules': rule P1 appears twice"),
        ('id = "P2"', 'id = "X2"', r"key 'rules\.1\.id'"),
        ("[numbers]\n", "[numbers]\nfiling_threshold_people = -5\n",
         r"key 'numbers\.filing_threshold_people'"),
        ("[numbers]\n", "[numbers]\nfiling_threshold_people = \"many\"\n",
         r"key 'numbers\.filing_threshold_people'"),
        ("[numbers]\n", "[numbers]\nuseful_fnir = 1.5\n", r"key 'numbers\.useful_fnir'"),
        ("[numbers]\n", "[numbers]\nuseful_fnir = 0\n", r"key 'numbers\.useful_fnir'"),
        ("[numbers]\n", "[numbers]\nfiling_deadline = 30\n",
         r"unknown key 'numbers\.filing_deadline'"),
        ('check = "check_assessment"\nenforced_at = "go-live gate, as R10"', "",
         r"key 'rules\.1': a rule needs a 'check' or an 'enforced_at'"),
        ('id = "gdpr"', 'id = "cn"', r"key 'id': 'cn' does not match the file name"),
        ('sources = ["GDPR', 'sources = "GDPR', r"is not valid TOML"),
    ],
)
def test_invalid_pack_names_file_and_key(tmp_path: Path, old: str, new: str,
                                         message: str) -> None:
    path = write_pack(tmp_path, old, new)
    with pytest.raises(ConfigError, match=r"^law pack .*gdpr\.toml.*" + message):
        load_pack(path)


def test_missing_pack_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="law pack .*nowhere.toml not found"):
        load_pack(tmp_path / "nowhere.toml")


def test_unknown_pack_id() -> None:
    with pytest.raises(ConfigError, match="unknown pack 'mars'; known packs: bipa, cn"):
        get_pack("mars")


def test_pack_model_is_strict_and_frozen() -> None:
    pack = get_pack("bipa")
    assert isinstance(pack, Pack)
    with pytest.raises(Exception, match="frozen"):
        pack.rules[0].kind = "WARN"  # type: ignore[misc]


def test_policy_all_lists_exactly_its_public_names() -> None:
    import faceguard.policy as policy

    public = {n for n in vars(policy) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(policy, n)).__name__ == "module"}
    assert set(policy.__all__) == public - modules


def test_the_documents_words_are_pack_data() -> None:
    """Whose words the assessment uses comes from the packs' ``vocabulary``, not their names."""
    from faceguard.policy.packs import pipl_words

    assert get_pack("cn").numbers.vocabulary == "processor"
    assert get_pack("gdpr").numbers.vocabulary == "controller"
    assert pipl_words(["cn"]) and pipl_words(["gdpr", "cn-draft-2023"])
    assert not pipl_words(["gdpr"]) and not pipl_words(["bipa", "eu-ai-act"])
    assert pipl_words(None)
