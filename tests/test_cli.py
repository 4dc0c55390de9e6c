"""The command line: a whole life cycle, JSON output, exit codes, the master-key refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TEST_DEPLOYMENT, go_live
from faceguard.cli.main import main
from pgtest import raw


def run(data: Path, *args: str) -> tuple[int, str]:
    """Exit code and standard output (with standard error appended when it fails)."""
    result = CliRunner().invoke(main, ["--data", str(data), *args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


@pytest.fixture()
def cli_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    data = tmp_path / "data"
    code, out = run(data, "init", "--json")
    assert code == 0, out
    assert json.loads(out)["config"] == str(data / "faceguard.toml")
    go_live(data, TEST_DEPLOYMENT)
    return data


def test_init_writes_a_valid_starter_deployment_and_a_private_key(tmp_path: Path) -> None:
    from faceguard.policy.deployment import load_deployment

    data = tmp_path / "fresh"
    code, _ = run(data, "init")
    assert code == 0
    deployment = load_deployment(data / "faceguard.toml")
    assert deployment.deployment.packs == ["cn"]
    assert (data / "keys" / "master.key").stat().st_mode & 0o777 == 0o600
    code, out = run(data, "init")
    assert code == 2 and "already exists" in out


def test_life_cycle_through_the_cli(cli_data: Path, lfw: Path) -> None:
    person = sorted((lfw / "Colin_Powell").glob("*.jpg"))
    stranger = sorted((lfw / "Tony_Blair").glob("*.jpg"))[0]
    assert run(cli_data, "notice", "--purpose", "access-control")[0] == 0
    code, out = run(cli_data, "consent", "grant", "--subject", "emp-1", "--name", "C P",
                    "--purpose", "access-control", "--method", "click", "--evidence", "k/1",
                    "--json")
    assert code == 0 and json.loads(out)["notice_version"] == 1
    code, out = run(cli_data, "enroll", "--subject", "emp-1", "--purpose", "access-control",
                    str(person[0]), str(person[1]), "--json")
    assert code == 0, out
    assert len(json.loads(out)["template_ids"]) == 2

    code, out = run(cli_data, "verify", "--subject", "emp-1", "--purpose", "access-control",
                    str(person[4]), "--json")
    assert (code, json.loads(out)["decision"], json.loads(out)["score"]) == (0, "match", None)
    code, out = run(cli_data, "verify", "--subject", "emp-1", "--purpose", "access-control",
                    str(stranger))
    assert (code, out.strip()) == (1, "no-match")
    code, out = run(cli_data, "identify", "--purpose", "access-control", str(person[5]))
    assert (code, out.strip()) == (0, "emp-1")
    code, out = run(cli_data, "identify", "--purpose", "access-control", str(stranger))
    assert (code, out.strip()) == (1, "unknown")

    code, out = run(cli_data, "export", "--subject", "emp-1")
    exported = json.loads(out)
    assert code == 0 and exported["identity"] == {"external_id": "emp-1", "name": "C P"}
    assert all("ciphertext" not in t and "vector" not in t for t in exported["templates"])

    code, out = run(cli_data, "erase", "--subject", "emp-1", "--json")
    assert code == 0 and json.loads(out)["data_key_destroyed"] is True
    code, out = run(cli_data, "identify", "--purpose", "access-control", str(person[5]))
    assert (code, out.strip()) == (1, "unknown")
    code, out = run(cli_data, "audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["events"] >= 9


def test_refusals_print_the_rule_and_exit_3(cli_data: Path, lfw: Path) -> None:
    image = str(sorted((lfw / "Colin_Powell").glob("*.jpg"))[0])
    code, out = run(cli_data, "identify", "--purpose", "emotion-analysis", image, "--json")
    assert code == 3 and json.loads(out)["rule"] == "R27"
    code, out = run(cli_data, "verify", "--subject", "nobody", "--purpose", "attendance",
                    image, "--json")
    assert code == 3 and json.loads(out)["rule"] == "R3"


def test_bad_image_exits_4_and_a_tampered_record_exits_1(cli_data: Path, tmp_path: Path
                                                         ) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image")
    assert run(cli_data, "notice", "--purpose", "access-control")[0] == 0
    assert run(cli_data, "notice", "--purpose", "attendance")[0] == 0
    code, out = run(cli_data, "identify", "--purpose", "access-control", str(fake))
    assert code == 4 and "not a recognised image" in out
    with raw(cli_data) as conn:
        conn.execute("UPDATE audit_events SET outcome = 'forged' WHERE seq = 2")
    code, out = run(cli_data, "audit", "verify", "--json")
    assert code == 1 and json.loads(out)["first_bad_seq"] == 2


def test_no_master_key_refuses_with_instructions(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEGUARD_MASTER")}
    data = tmp_path / "nokey"
    data.mkdir()
    (data / "faceguard.toml").write_text(TEST_DEPLOYMENT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "faceguard", "--data", str(data), "audit", "verify", "--json"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert proc.returncode == 2
    body = json.loads(proc.stdout)
    assert body["rule"] == "R14" and "faceguard init" in body["message"]
    proc = subprocess.run(
        [sys.executable, "-m", "faceguard", "--data", str(data), "--dev", "audit", "verify"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert proc.returncode == 0 and "WARNING: development mode" in proc.stderr


FIXTURES = Path(__file__).parent / "policy" / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "code", "present", "absent"),
    [
        ("failing_r2_blank_contact.toml", 1, {"R2"}, set()),
        ("failing_r8_unlimited_retention.toml", 1, {"R8"}, set()),
        ("failing_r1_no_lawful_purpose.toml", 1, {"R1", "R27"}, set()),
        ("failing_r7_network_without_basis.toml", 1, {"R7"}, set()),
        ("passing_r7_network_with_basis.toml", 1, set(), {"R7"}),  # R10: no assessment file
        ("failing_p8_authorisation_expired.toml", 1, {"P8"}, set()),
        ("passing_p8_authorised_public_safety.toml", 1, set(), {"P8"}),
    ],
)
def test_check_cites_the_rule_of_a_lawless_value(
    tmp_path: Path, fixture: str, code: int, present: set[str], absent: set[str]
) -> None:
    """Issue 13: a file that reads fine but fails the law exits 1 citing its rule; the
    records of R7 and P8 in the file count (judged on the file alone: no data directory)."""
    exit_code, out = run(tmp_path / "none", "check", "--json", "--config",
                         str(FIXTURES / fixture))
    rules = {v["rule"] for v in json.loads(out)["violations"]}
    assert exit_code == code
    assert present <= rules and not absent & rules, rules


def test_check_exit_2_only_for_an_unreadable_file(cli_data: Path) -> None:
    code, out = run(cli_data, "check", "--json", "--config",
                    str(FIXTURES / "failing_unreadable_retention_as_text.toml"))
    body = json.loads(out)
    assert code == 2 and body["rule"] is None
    assert "purposes.access-control.retention_days" in body["message"]
    config = cli_data / "faceguard.toml"
    config.write_text(config.read_text().replace('contact = "', 'contact = "" # "'))
    code, out = run(cli_data, "check", "--json")
    assert code == 1 and {v["rule"] for v in json.loads(out)["violations"]} == {"R2"}


def test_notice_in_two_languages_and_the_consent_language(cli_data: Path) -> None:
    code, out = run(cli_data, "notice", "--purpose", "attendance", "--zh-field",
                    "necessity=员工无需工卡即可签到。", "--json")
    assert code == 0, out
    texts = json.loads(out)["texts"]
    assert texts["zh-CN"]["necessity"] == "员工无需工卡即可签到。" and "en" in texts
    code, out = run(cli_data, "consent", "grant", "--subject", "emp-9", "--name", "Li Na",
                    "--purpose", "attendance", "--method", "written", "--evidence", "form 9",
                    "--language", "zh-CN")
    assert code == 0 and "read in zh-CN" in out, out
    code, out = run(cli_data, "consent", "grant", "--subject", "emp-9", "--name", "Li Na",
                    "--purpose", "attendance", "--method", "written", "--evidence", "form 9",
                    "--language", "fr")
    assert code == 2 and "'fr' is not one of 'zh-CN', 'en'" in out
