"""``Faceguard.reload_config``: a changed ``faceguard.toml`` is taken up, refused with its
reason, or left for a restart; each outcome is recorded once (``deployment.reloaded``).
The service calls it on every request (tests/service/test_service_reload.py)."""

from __future__ import annotations

import os
from pathlib import Path

from faceguard import Faceguard


def _reloads(fg: Faceguard) -> list[dict[str, object]]:
    return fg.audit.events(limit=100, operations=("deployment.reloaded",))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    info = path.stat()  # a later time than the last write, whatever the file system's clock
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_a_changed_file_is_taken_up_refused_or_left_for_a_restart(
        fg: Faceguard, data_dir: Path) -> None:
    config = data_dir / "faceguard.toml"
    original = config.read_text(encoding="utf-8")
    assert fg.reload_config().state == "current" and _reloads(fg) == []

    # the same text written again: nothing to take up, nothing recorded
    _write(config, original)
    assert fg.reload_config().current and _reloads(fg) == []

    # a valid edit is in force at once
    renamed = original.replace('name = "Test gate"', 'name = "Renamed gate"')
    _write(config, renamed)
    state = fg.reload_config(actor="test")
    assert state.current and fg.deployment.deployment.name == "Renamed gate"
    (event,) = _reloads(fg)
    assert event["outcome"] == "ok" and event["actor"] == "test"

    # an edit that does not validate leaves the deployment in force, and says why
    _write(config, renamed.replace("protection_level = 2", "protection_level = 7"))
    state = fg.reload_config()
    assert state.state == "invalid" and "protection_level" in (state.reason or "")
    assert fg.deployment.deployment.name == "Renamed gate"
    assert fg.governance.check().passed  # the deployment in force still passes
    assert fg.reload_config() == state  # polled again: the same, recorded once
    assert [e["outcome"] for e in _reloads(fg)] == ["rejected", "ok"]

    # put back as it is in force: current again
    _write(config, renamed)
    assert fg.reload_config().current

    # what only a start applies
    _write(config, renamed.replace("protection_level = 2", "protection_level = 3"))
    state = fg.reload_config()
    assert state.state == "restart-needed"
    assert "deployment.protection_level" in (state.reason or "")
    assert fg.deployment.deployment.protection_level == 2

    # the database: only a start opens another (unless the environment names it: it wins)
    _write(config, renamed + '\n[storage]\nurl = "postgresql://elsewhere.example/fg"\n')
    state = fg.reload_config()
    if os.environ.get("FACEGUARD_DATABASE_URL"):  # the PostgreSQL run
        assert state.current
    else:
        assert state.state == "restart-needed" and "storage.url" in (state.reason or "")
    _write(config, renamed)
    fg.reload_config()

    # the presentation-attack model: loaded with the liveness detector, at start only
    _write(config, renamed + '\n[pad_model]\npath = "pad.onnx"\n')
    state = fg.reload_config()
    assert state.state == "restart-needed" and "pad_model" in (state.reason or "")
    assert fg.deployment.pad_model is None
    _write(config, renamed)
    fg.reload_config()

    # a missing file
    config.unlink()
    state = fg.reload_config()
    assert state.state == "invalid" and "missing" in (state.reason or "")
    # newest first: missing; the PAD model; the database (taken up, and put back, where the
    # environment names it); the level; the invalid edit; the rename
    database = ["ok", "ok"] if os.environ.get("FACEGUARD_DATABASE_URL") else ["deferred"]
    assert [e["outcome"] for e in _reloads(fg)] == [
        "rejected", "deferred", *database, "deferred", "rejected", "ok"]


def test_a_reassessment_is_required_after_an_edit_and_passes_once_approved(
        fg: Faceguard, data_dir: Path) -> None:
    from conftest import approve_assessment

    config = data_dir / "faceguard.toml"
    _write(config, config.read_text(encoding="utf-8").replace(
        "retention_days = 365", "retention_days = 200"))
    assert fg.reload_config().current
    result = fg.governance.check()
    assert not result.passed and "reassessment required" in str(result.violations)
    with Faceguard.open(data_dir) as other:  # the DPO, in another process
        approve_assessment(other, "Second DPO")
    assert fg.governance.check().passed
