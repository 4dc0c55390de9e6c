"""Master-key rotation while serving (R14): every data key re-wrapped under a new key, the old
key retired and gone, workers opened before the rotation go on answering and enrolling."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceguard import ConfigError, Faceguard
from faceguard.cli.main import main
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.vault.keys import read_key_file, write_key_file
from pgtest import raw

PEOPLE = ("Colin_Powell", "Tony_Blair", "Adrien_Brody")


def photo(lfw: Path, name: str, number: int) -> bytes:
    return (lfw / name / f"{name}_{number:04d}.jpg").read_bytes()


def enroll(fg: Faceguard, lfw: Path, name: str) -> None:
    fg.consent.grant(name, "attendance", name=name, method="click", evidence="kiosk")
    fg.enroll(name, [photo(lfw, name, 1)], "attendance")


def wrapped_keys(data_dir: Path) -> dict[str, bytes]:
    with raw(data_dir, "keys") as conn:
        return {s: bytes(w) for s, w in conn.execute(
            "SELECT subject_id, wrapped_key FROM subject_keys")}


def test_rotation_rewraps_every_key_and_retires_the_old_one(
    fg: Faceguard, lfw: Path, engine: DlibEngine
) -> None:
    data_dir = fg._store.data_dir
    key_file = data_dir / "keys" / "master.key"
    enroll(fg, lfw, PEOPLE[0])
    enroll(fg, lfw, PEOPLE[1])
    old_key, before = read_key_file(key_file), wrapped_keys(data_dir)
    signer = fg.audit.public_key_hex
    with Faceguard.open(data_dir, engine=engine) as worker:  # opened before: serving on
        assert worker.verify(PEOPLE[0], photo(lfw, PEOPLE[0], 2), "attendance").decision == \
            "match"
        done = fg.shared.rotate_master_key(actor="dpo")
        assert done.rewrapped == 2 and done.old_fingerprint != done.new_fingerprint
        after = wrapped_keys(data_dir)
        assert after.keys() == before.keys()
        assert all(after[s] != before[s] for s in before)  # every key re-wrapped
        assert read_key_file(key_file) != old_key  # the old key is gone from the disk
        assert not (data_dir / "keys" / "master.key.next").exists()
        # The worker opened with the old key follows: it reads the new wrapping, and wraps
        # a new person's key under the new master key.
        assert worker.verify(PEOPLE[1], photo(lfw, PEOPLE[1], 2), "attendance").decision == \
            "match"
        assert worker.identify(photo(lfw, PEOPLE[0], 2), "attendance").external_id == \
            PEOPLE[0]
        enroll(worker, lfw, PEOPLE[2])
    fg.close()
    with Faceguard.open(data_dir, engine=engine) as again:  # with the new key alone
        for name in PEOPLE:
            assert again.verify(name, photo(lfw, name, 2), "attendance").decision == "match"
        assert again.audit.public_key_hex == signer  # signatures and look-ups outlive a rotation
        report = again.audit.verify()
        assert report.ok, report.problem
        [event] = again._store.audit.events(operation="keys.master_rotated")
        assert (event.actor, event.detail["rewrapped"]) == ("dpo", 2)
    key_file.unlink()  # someone puts the old key back: refused, naming the rotation
    write_key_file(key_file, old_key)
    with pytest.raises(ConfigError, match="retired") as refused:
        Faceguard.open(data_dir, engine=engine)
    assert refused.value.rule == "R14"


def test_enrollments_during_a_rotation_are_not_lost(
    fg: Faceguard, lfw: Path, engine: DlibEngine
) -> None:
    """A worker enrolls while the rotation runs: every key ends under the new master key."""
    data_dir = fg._store.data_dir
    enroll(fg, lfw, PEOPLE[0])
    errors: list[BaseException] = []
    with Faceguard.open(data_dir, engine=engine) as worker:
        def busy() -> None:
            try:
                for name in PEOPLE[1:]:
                    enroll(worker, lfw, name)
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=busy)
        thread.start()
        fg.shared.rotate_master_key(actor="dpo")
        thread.join()
        assert not errors
    fg.close()
    with Faceguard.open(data_dir, engine=engine) as again:
        for name in PEOPLE:
            assert again.verify(name, photo(lfw, name, 2), "attendance").decision == "match"


def test_rotation_through_the_cli(fg: Faceguard, lfw: Path, engine: DlibEngine) -> None:
    data_dir = fg._store.data_dir
    enroll(fg, lfw, PEOPLE[0])
    fg.close()
    done = CliRunner().invoke(main, ["--data", str(data_dir), "keys", "rotate-master",
                                     "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["rewrapped"] == 1
    with Faceguard.open(data_dir, engine=engine) as again:
        assert again.verify(PEOPLE[0], photo(lfw, PEOPLE[0], 2), "attendance").decision == \
            "match"


def test_rotation_refuses_a_key_held_in_the_environment(
    fg: Faceguard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEGUARD_MASTER_KEY", (fg._store.data_dir / "keys" / "master.key")
                       .read_text().strip())
    with pytest.raises(ConfigError, match="key file") as refused:
        fg.shared.rotate_master_key(actor="dpo")
    assert refused.value.rule == "R14"
