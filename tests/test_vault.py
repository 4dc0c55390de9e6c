"""The vault and its keys (R9, R14, R18): what an attacker holding files can and cannot read.

Attacks are made the way they would be in practice: copying faceguard.db, editing rows with
raw SQL, loosening the key file's mode. Everything runs on real faces and real SQLite files.
"""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from conftest import TEST_DEPLOYMENT
from faceguard import Faceguard, db
from faceguard.api.core import Core
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.types import Face, Template
from faceguard.errors import ConfigError, EngineMismatch, MasterKeyMissing, NotFound, VaultError
from faceguard.results import Stats
from faceguard.store.core import master_key_path
from faceguard.vault.keys import Keyring, load_master_key, new_master_key, record_aad
from faceguard.vault.templates import Vault
from pgtest import raw, stored_bytes

PURPOSE = "access-control"
ALICE = ("Peter_Struck", "emp-2001", "Peter Struck")
BOB = ("Joschka_Fischer", "emp-2002", "Joschka Fischer")


def photo(lfw: Path, person: tuple[str, str, str], number: int) -> bytes:
    folder = person[0]
    return (lfw / folder / f"{folder}_{number:04d}.jpg").read_bytes()


def enroll(fg: Faceguard, lfw: Path, person: tuple[str, str, str], *numbers: int) -> str:
    """Consent and enroll ``person`` with the given LFW image numbers; returns the subject."""
    fg.consent.grant(person[1], PURPOSE, name=person[2], method="click", evidence="kiosk-1")
    images = [photo(lfw, person, n) for n in numbers]
    return fg.enroll(person[1], images, PURPOSE).subject_id


def decrypted(fg: Faceguard, subject_id: str) -> list[np.ndarray]:
    with fg._store.records.connect() as conn:
        stored = fg._store.vault.templates(conn, purpose=PURPOSE, subject_id=subject_id)
    return [s.template.vector for s in stored]


def sql(path: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    """Raw SQL on the record store ``path`` names (its file; on PostgreSQL, the test's
    database), committed."""
    with raw(path.parent) as conn:
        cursor = conn.execute(statement, params)
        return list(cursor) if cursor.description else []


def holds(raw_bytes: bytes, blob: bytes) -> bool:
    """Whether a copy of the store holds ``blob``: as bytes (a SQLite file) or as the hex a
    PostgreSQL dump writes binary columns in."""
    return blob in raw_bytes or blob.hex().encode() in raw_bytes


def store_copy(fg: Faceguard, tmp_path: Path) -> bytes:
    """What a copy of the record store holds: the file and its log copied as a backup tool
    copies them, or a plain dump of the PostgreSQL database."""
    if fg._store.url is not None:
        return stored_bytes(fg._store.data_dir)
    snapshot(fg._store.data_dir, tmp_path / "backup-faceguard.db")
    return b"".join(path.read_bytes() for path in tmp_path.glob("backup-faceguard.db*"))


def template_rows(fg: Faceguard) -> list[tuple[str, str, str, bytes]]:
    """(id, subject_id, engine, ciphertext) of every template, by subject then id."""
    return sql(  # type: ignore[return-value]
        fg._store.data_dir / "faceguard.db",
        "SELECT id, subject_id, engine, ciphertext FROM templates ORDER BY subject_id, id",
    )


@pytest.fixture()
def two_people(fg: Faceguard, lfw: Path) -> tuple[str, str]:
    """Alice with two templates, Bob with one; returns their subject IDs."""
    return enroll(fg, lfw, ALICE, 1, 3), enroll(fg, lfw, BOB, 1)


# ---- what a copy of the record store reveals ---------------------------------------------


def snapshot(data_dir: Path, copy: Path) -> Path:
    """A file-level copy of the record store as a backup tool makes it: the database file
    and its write-ahead log (which holds the newest commits)."""
    shutil.copy(data_dir / "faceguard.db", copy)
    wal = data_dir / "faceguard.db-wal"
    if wal.exists():
        shutil.copy(wal, copy.with_name(copy.name + "-wal"))
    return copy


def test_record_store_copy_holds_no_template_bytes_or_identities(
    fg: Faceguard, two_people: tuple[str, str], tmp_path: Path
) -> None:
    raw = store_copy(fg, tmp_path)

    vectors = [v for subject in two_people for v in decrypted(fg, subject)]
    assert len(vectors) == 3
    for vector in vectors:
        plain = vector.astype("<f4").tobytes()
        assert len(plain) == 512
        assert not holds(raw, plain)
        leaked = [i for i in range(len(plain) - 15) if holds(raw, plain[i : i + 16])]
        assert leaked == []
    for person in (ALICE, BOB):
        for text in (person[1], person[2]):
            assert text.encode("utf-8") not in raw
            assert text.encode("utf-16-le") not in raw
    # The search does see what the file holds: the ciphertexts are there, as stored.
    for _id, _subject, _engine, ciphertext in template_rows(fg):
        assert holds(raw, ciphertext)


@pytest.mark.sqlite_only("copies and reads the SQLite files themselves (secure_delete)")
def test_erased_subject_is_unreadable_in_an_old_copy(
    fg: Faceguard, two_people: tuple[str, str], tmp_path: Path
) -> None:
    alice, bob = two_people
    bob_vectors = decrypted(fg, bob)
    data_dir = fg._store.data_dir
    copy = snapshot(data_dir, tmp_path / "before-erasure.db")
    with closing(sqlite3.connect(data_dir / "keys" / "keys.db")) as conn:
        [(alice_wrapped,)] = conn.execute(
            "SELECT wrapped_key FROM subject_keys WHERE subject_id = ?", (alice,)
        ).fetchall()

    cert = fg.rights.erase(ALICE[1])
    assert cert.data_key_destroyed is True

    records, keys = db.connect(copy), db.connect(data_dir / "keys" / "keys.db")
    try:
        vault = Vault(records, keys, Keyring(load_master_key(master_key_path(data_dir))))
        with records.connect() as conn:
            rows = conn.execute(
                sa.select(db.templates).where(db.templates.c.subject_id == alice)
            ).fetchall()
            assert len(rows) == 2  # the copy still holds Alice's ciphertexts...
            for row in rows:
                with pytest.raises(VaultError, match="no data key"):  # ...but they are dead
                    vault.open(alice, row.ciphertext,
                               record_aad(b"template", alice, row.id, row.engine))
            with pytest.raises(VaultError):
                vault.identity(conn, alice)
            assert vault.templates(conn, purpose=PURPOSE, subject_id=alice) == []
            # Bob, in the same copy, still opens with the same keys.
            bob_stored = vault.templates(conn, purpose=PURPOSE, subject_id=bob)
            assert vault.identity(conn, bob).external_id == BOB[1]
        assert len(bob_stored) == len(bob_vectors) == 1
        np.testing.assert_array_equal(bob_stored[0].template.vector, bob_vectors[0])
    finally:
        records.dispose()
        keys.dispose()

    # secure_delete: the live files no longer hold Alice's ciphertexts or wrapped key.
    live = b"".join(path.read_bytes() for path in data_dir.glob("faceguard.db*"))  # + log
    for row in rows:
        assert row.ciphertext not in live
    assert alice_wrapped not in (data_dir / "keys" / "keys.db").read_bytes()


# ---- the master key -------------------------------------------------------------------


def test_key_file_and_folder_are_private(data_dir: Path) -> None:
    key_file = master_key_path(data_dir)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(key_file.read_text().strip())) == 32


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_key_file_readable_by_others_is_refused(
    data_dir: Path, engine: DlibEngine, mode: int
) -> None:
    key_file = master_key_path(data_dir)
    key_file.chmod(mode)
    with pytest.raises(ConfigError, match=r"readable by others .*`chmod 600 ") as info:
        Faceguard.open(data_dir, engine=engine)
    assert not isinstance(info.value, MasterKeyMissing)
    assert f"mode {mode:o}" in info.value.message


def test_no_master_key_and_no_dev_mode_is_refused(
    tmp_path: Path, engine: DlibEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "faceguard.toml").write_text(TEST_DEPLOYMENT, encoding="utf-8")
    with pytest.raises(MasterKeyMissing) as info:
        Faceguard.open(folder, engine=engine)
    assert info.value.rule == "R14"
    assert str(info.value).startswith("[R14] no master key")
    for how in ("faceguard init", "FACEGUARD_MASTER_KEY", "--dev"):
        assert how in info.value.message
    assert sorted(p.name for p in folder.iterdir()) == ["faceguard.toml"]  # nothing created

    with Faceguard.open(folder, engine=engine, dev=True) as fg:  # dev makes a local key
        assert fg.stats() == Stats(0, {})
    assert stat.S_IMODE(master_key_path(folder).stat().st_mode) == 0o600


def test_master_key_from_the_environment(
    tmp_path: Path, engine: DlibEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    monkeypatch.setenv("FACEGUARD_MASTER_KEY", base64.b64encode(new_master_key()).decode())
    folder = tmp_path / "data"
    Faceguard.init(folder)
    (folder / "faceguard.toml").write_text(TEST_DEPLOYMENT, encoding="utf-8")
    assert not master_key_path(folder).exists()  # the key lives only in the environment
    with Faceguard.open(folder, engine=engine) as fg:
        fg.consent.publish_notice(PURPOSE)
        fg.consent.grant(ALICE[1], PURPOSE, name=ALICE[2], method="click", evidence="k-1")
    with Faceguard.open(folder, engine=engine) as fg:
        assert fg.rights.export(ALICE[1]).identity["name"] == ALICE[2]
        subject = fg.rights.export(ALICE[1]).subject_id

    monkeypatch.setenv("FACEGUARD_MASTER_KEY", base64.b64encode(new_master_key()).decode())
    with Faceguard.open(folder, engine=engine) as fg:  # another key opens nothing
        with pytest.raises(NotFound):
            fg.rights.export(ALICE[1])
        with fg._store.records.connect() as conn, pytest.raises(VaultError):
            fg._store.vault.identity(conn, subject)

    monkeypatch.setenv("FACEGUARD_MASTER_KEY", "c2hvcnQ=")  # 5 bytes
    with pytest.raises(ConfigError, match="must be 32 bytes"):
        Faceguard.open(folder, engine=engine)


# ---- tampering with the record store ----------------------------------------------------


@pytest.mark.parametrize("where", ["nonce", "middle", "tag"])
def test_flipped_byte_in_a_template_is_detected(
    fg: Faceguard, two_people: tuple[str, str], lfw: Path, where: str
) -> None:
    template_id, _subject, _engine, ciphertext = template_rows(fg)[0]
    position = {"nonce": 0, "middle": len(ciphertext) // 2, "tag": len(ciphertext) - 1}[where]
    forged = bytearray(ciphertext)
    forged[position] ^= 0x01
    sql(fg._store.data_dir / "faceguard.db", "UPDATE templates SET ciphertext = ? WHERE id = ?",
        bytes(forged), template_id)

    with fg._store.records.connect() as conn, pytest.raises(VaultError, match="tampered"):
        fg._store.vault.templates(conn, purpose=PURPOSE)
    with pytest.raises(VaultError):
        fg.identify(photo(lfw, BOB, 2), PURPOSE)


def test_swapped_ciphertexts_between_subjects_are_detected(
    fg: Faceguard, two_people: tuple[str, str], lfw: Path
) -> None:
    alice, bob = two_people
    rows = template_rows(fg)
    first = next(r for r in rows if r[1] == alice)
    second = next(r for r in rows if r[1] == bob)
    path = fg._store.data_dir / "faceguard.db"
    sql(path, "UPDATE templates SET ciphertext = ? WHERE id = ?", second[3], first[0])
    sql(path, "UPDATE templates SET ciphertext = ? WHERE id = ?", first[3], second[0])

    for subject in (alice, bob):
        with fg._store.records.connect() as conn, pytest.raises(VaultError):
            fg._store.vault.templates(conn, purpose=PURPOSE, subject_id=subject)
    with pytest.raises(VaultError):
        fg.verify(BOB[1], photo(lfw, BOB, 2), PURPOSE)


def test_swapped_ciphertexts_of_one_subject_are_detected(
    fg: Faceguard, two_people: tuple[str, str]
) -> None:
    """Same subject, same data key: only the associated data (template ID) can tell."""
    alice, _bob = two_people
    first, second = [r for r in template_rows(fg) if r[1] == alice]
    path = fg._store.data_dir / "faceguard.db"
    sql(path, "UPDATE templates SET ciphertext = ? WHERE id = ?", second[3], first[0])
    sql(path, "UPDATE templates SET ciphertext = ? WHERE id = ?", first[3], second[0])
    with fg._store.records.connect() as conn, pytest.raises(VaultError):
        fg._store.vault.templates(conn, purpose=PURPOSE, subject_id=alice)


@pytest.mark.parametrize("column", ["engine", "subject_id"])
def test_relabelled_template_row_is_detected(
    fg: Faceguard, two_people: tuple[str, str], column: str
) -> None:
    alice, bob = two_people
    template_id = next(r[0] for r in template_rows(fg) if r[1] == alice)
    value = {"engine": "dlib-resnet-v1:000000000000", "subject_id": bob}[column]
    sql(fg._store.data_dir / "faceguard.db",
        f"UPDATE templates SET {column} = ? WHERE id = ?", value, template_id)
    with fg._store.records.connect() as conn, pytest.raises(VaultError):
        fg._store.vault.templates(conn, purpose=PURPOSE)


def test_tampered_identity_is_detected(fg: Faceguard) -> None:
    fg.consent.grant(ALICE[1], PURPOSE, name=ALICE[2], method="click", evidence="k-1")
    path = fg._store.data_dir / "faceguard.db"
    [(subject, identity)] = sql(path, "SELECT id, identity_ct FROM subjects")
    forged = bytearray(identity)  # type: ignore[arg-type]
    forged[20] ^= 0x80
    sql(path, "UPDATE subjects SET identity_ct = ? WHERE id = ?", bytes(forged), subject)
    with pytest.raises(VaultError):
        fg.rights.export(ALICE[1])


# ---- engine identity -------------------------------------------------------------------


def test_templates_carry_the_engine_id(fg: Faceguard, two_people: tuple[str, str]) -> None:
    engine_id = fg.engine.engine_id
    assert engine_id.startswith("dlib-resnet-v1:")
    assert {r[2] for r in template_rows(fg)} == {engine_id}
    assert {t["engine"] for t in fg.rights.export(ALICE[1]).templates} == {engine_id}
    [vector, _] = decrypted(fg, two_people[0])
    ours = Template(vector, engine_id)
    assert ours.distance(Template(vector.copy(), engine_id)) == 0.0
    other = Template(vector.copy(), "arcface-r100:0123456789ab")
    with pytest.raises(EngineMismatch, match="cannot be compared"):
        ours.distance(other)
    with pytest.raises(EngineMismatch):
        other.distance(ours)


class RelabelledEngine:
    """The real dlib engine presented under another model identity (a model upgrade)."""

    engine_id = "dlib-resnet-v1:ffffffffffff"

    def __init__(self, inner: DlibEngine) -> None:
        self._inner = inner
        self.dimension = inner.dimension

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self._inner.detect(rgb)

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return self._inner.align(rgb, face)

    def embed(self, chip: np.ndarray) -> np.ndarray:
        return self._inner.embed(chip)


def test_templates_of_another_engine_are_never_compared(
    fg: Faceguard, two_people: tuple[str, str], lfw: Path
) -> None:
    upgraded = Faceguard(Core(fg._store, fg.deployment, RelabelledEngine(fg.engine),
                              fg.calibration))
    probe = photo(lfw, ALICE, 2)
    with pytest.raises(EngineMismatch):
        upgraded.verify(ALICE[1], probe, PURPOSE)
    with pytest.raises(EngineMismatch):
        upgraded.identify(probe, PURPOSE)
    assert fg.verify(ALICE[1], probe, PURPOSE).decision == "match"


# ---- no image is ever written (R9) -------------------------------------------------------


def entropy_sample(jpeg: bytes, size: int = 64) -> bytes:
    """``size`` bytes of compressed image data, right after the JPEG's start-of-scan header."""
    sos = jpeg.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(jpeg[sos + 2 : sos + 4], "big")
    return jpeg[start : start + size]


def files_under(root: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def modified_since(path: Path, moment: float) -> bool:
    """A regular file changed at or after ``moment`` (other processes share the folder)."""
    try:
        return path.is_file() and not path.is_symlink() and path.stat().st_mtime >= moment
    except OSError:
        return False


def read_if_present(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:  # a file of another process, removed meanwhile
        return b""


def test_no_image_bytes_are_written_anywhere(
    fg: Faceguard, lfw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    system_tmp = Path(tempfile.gettempdir())
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    started = time.time() - 1

    image = photo(lfw, ALICE, 1)
    sample = entropy_sample(image)
    assert len(sample) == 64 and sample in image
    fg.consent.grant(ALICE[1], PURPOSE, name=ALICE[2], method="click", evidence="k-1")
    fg.enroll(ALICE[1], [image], PURPOSE)
    assert fg.verify(ALICE[1], photo(lfw, ALICE, 2), PURPOSE).decision == "match"
    fg.close()

    scanned = list(files_under(tmp_path))  # holds the data directory and the scratch dir
    scanned += [p for p in system_tmp.iterdir() if modified_since(p, started)]
    names = {p.name for p in scanned}
    files = set() if os.environ.get("FACEGUARD_DATABASE_URL") else {"faceguard.db", "keys.db"}
    assert files | {"master.key", "faceguard.toml"} <= names
    holding = [p for p in scanned if sample in read_if_present(p)]
    assert holding == []
    assert not holds(stored_bytes(tmp_path / "data"), sample)  # nor the database
