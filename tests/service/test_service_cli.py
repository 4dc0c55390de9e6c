"""``faceguard serve`` and ``faceguard keys`` (Uvicorn itself is replaced by a stub)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from conftest import TEST_DEPLOYMENT
from faceguard.cli.main import main
from faceguard.cli.serve import keys, serve


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    main.add_command(serve)
    main.add_command(keys)
    ran: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        ran.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    return ran


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_serve_refuses_without_a_master_key(tmp_path: Path, registered: dict[str, Any]) -> None:
    code, out = run("--data", str(tmp_path / "none"), "serve")
    assert code == 2 and "no master key" in out and "--dev" in out
    assert "app" not in registered


def test_serve_dev_on_a_fresh_machine_starts_a_trial_and_says_where_to_go(
        tmp_path: Path, registered: dict[str, Any]) -> None:
    data = tmp_path / "fresh"
    code, out = run("--data", str(data), "serve", "--dev", "--port", "8123")
    assert code == 0, out
    assert "TRIAL deployment" in out and f"Data: {data.resolve()}" in out
    # it says plainly that it made the folder, and that the folder stays (issue 15)
    assert f"Data: {data.resolve()} (made now" in out and "stays there after the service" in out
    assert (data / "keys" / "master.key").exists() and (data / "faceguard.toml").exists()
    assert "Open http://127.0.0.1:8123/-/login" in out
    assert "deployment check: PASS (TRIAL)" in out  # the trial can enroll at once
    assert registered["host"] == "127.0.0.1" and registered["port"] == 8123
    assert registered["app"].state.service.settings.dev is True
    secrets = re.findall(r"fgk_[\w-]+", out)
    assert len(set(secrets)) == 3  # operator, terminal, admin
    code, listed = run("--data", str(data), "keys", "list")
    assert code == 0 and "trial operator" in listed and "trial terminal [access-control]" in (
        listed) and "trial admin" in listed
    assert not any(secret in listed for secret in secrets)
    # a second start makes no new keys and says how to make some
    code, again = run("--data", str(data), "serve", "--dev", "--port", "8123")
    assert code == 0 and "fgk_" not in again and "faceguard keys create --role" in again
    assert f"Data: {data.resolve()} (it stays" in again and "made now" not in again


def test_serve_dev_with_a_configured_file_is_no_trial(
        tmp_path: Path, registered: dict[str, Any]) -> None:
    data = tmp_path / "configured"
    assert run("init", str(data))[0] == 0  # DATA_DIR as an argument
    code, out = run("serve", "--dev", "--port", "8123", "--data", str(data))
    assert code == 0, out
    assert "TRIAL" not in out and "made a first admin key" in out
    assert "deployment check: FAIL" in out and "R10" in out  # the starter file names cn
    assert "fix R10: draft it with faceguard assess --init" in out


def test_keys_create_list_and_revoke(data_dir: Path) -> None:
    code, out = run("--data", str(data_dir), "keys", "create", "--role", "terminal",
                    "--holder", "north gate", "--purpose", "access-control", "--json")
    assert code == 0, out
    created = json.loads(out)
    assert created["key"]["purposes"] == ["access-control"]
    assert created["secret"].startswith("fgk_") and created["totp_secret"] is None
    code, out = run("--data", str(data_dir), "keys", "create", "--role", "admin",
                    "--holder", "DPO", "--totp")
    assert code == 0 and "Shown only now" in out and "otpauth://totp/" in out
    code, out = run("--data", str(data_dir), "keys", "create", "--role", "terminal",
                    "--purpose", "payment-verification")
    assert code == 2 and "R1" in out
    code, out = run("--data", str(data_dir), "keys", "revoke", created["key"]["id"])
    assert code == 0 and "revoked" in out
    code, out = run("--data", str(data_dir), "keys", "list")
    assert "revoked" in out and "north gate" in out and created["secret"] not in out


def test_serve_at_level_3_refuses_until_configured(data_dir: Path,
                                                   registered: dict[str, Any]) -> None:
    (data_dir / "faceguard.toml").write_text(
        TEST_DEPLOYMENT.replace("protection_level = 2", "protection_level = 3"),
        encoding="utf-8")
    code, out = run("--data", str(data_dir), "serve")
    assert code == 2 and "[R25]" in out and "no active admin key" in out
    code, out = run("--data", str(data_dir), "keys", "create", "--role", "auditor")
    assert code == 2 and "--holder" in out
    for role, holder in (("admin", "DPO"), ("auditor", "Auditor"), ("operator", "Desk")):
        assert run("--data", str(data_dir), "keys", "create", "--role", role,
                   "--holder", holder)[0] == 0
    code, out = run("--data", str(data_dir), "serve")
    assert code == 0, out
    assert "made a first admin key" not in out and "app" in registered
