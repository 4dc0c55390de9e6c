"""Master-key rotation while the service serves (R14): ``faceguard keys rotate-master``.

1. A new master key is written beside the current key file as ``master.key.next`` (0600); an
   interrupted rotation finds it there and resumes with it.
2. The key store records both (``vault.masters``): the old as ``current``, the new as
   ``next``, each with the deployment's root sealed under it. From then on every process
   wraps new data keys under the new key (it reads the table in the transaction that stores
   the key), and unwraps with either: a process that meets a key it cannot open reloads the
   key files.
3. Every data key is re-wrapped under the new key, in batches, each row replaced only if it
   is still the one read (an erasure or another writer meanwhile wins). Passes repeat until
   one finds nothing left under the old key.
4. In one transaction of the key store the old key is retired and the new one made current;
   a last pass re-wraps any key written before that transaction; the new key file replaces
   the old one (the old key is gone from the disk); the rotation is recorded.

Workers running meanwhile keep answering: they hold the old key, accept the new one when
they meet it, and switch to it for wrapping as the table says. The master key must be in a
file for this (``FACEGUARD_MASTER_KEY`` in the environment cannot be changed under a running
process): a deployment that keeps it in the environment rotates with the service stopped,
by running the command, then putting the printed key in the environment. Several machines
each hold a copy of the key file: copy ``master.key.next`` to each before step 3's end.
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from faceguard import db
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError
from faceguard.files import fsync_path
from faceguard.results import MasterRotation
from faceguard.store.core import NEXT_SUFFIX, Store, key_file
from faceguard.timeutil import iso, utc_now
from faceguard.vault.keys import (
    ENV_KEY,
    Keyring,
    new_master_key,
    read_key_file,
    write_key_file,
)

BATCH = 500
_M = db.master_keys.c
_K = db.subject_keys.c


def rotate_master(store: Store, *, actor: str) -> MasterRotation:
    """Re-wrap every data key of ``store`` under a new master key (see the docstring)."""
    if os.environ.get(ENV_KEY):
        raise ConfigError(f"the master key is in {ENV_KEY}, which running processes cannot "
                          "see change: keep it in a key file (FACEGUARD_MASTER_KEY_FILE) to "
                          "rotate it while serving", rule="R14")
    path = key_file(store.data_dir)
    old_key = read_key_file(path)
    nxt = path.with_name(path.name + NEXT_SUFFIX)
    if not nxt.exists():
        write_key_file(nxt, new_master_key())
        fsync_path(nxt.parent)
    new_key = read_key_file(nxt)
    old = store.keyring
    root = _root(store, old_key)
    new = Keyring(new_key, root=root)
    now = iso(utc_now())
    with store.keys.begin() as conn:
        known = {r.fingerprint: r.state for r in conn.execute(
            sa.select(_M.fingerprint, _M.state))}
        if old.fingerprint not in known:
            conn.execute(db.master_keys.insert().values(
                fingerprint=old.fingerprint, sealed_root=Keyring(old_key).seal_root(root),
                state="current", created_at=now))
        if new.fingerprint not in known:
            conn.execute(db.master_keys.insert().values(
                fingerprint=new.fingerprint, sealed_root=new.seal_root(root), state="next",
                created_at=now))
    old.accept(new_key)
    rewrapped, passes = _rewrap(store, new)
    with store.keys.begin() as conn:
        query = sa.select(_M.fingerprint).where(_M.state.in_(("current", "next")))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        conn.execute(query).all()
        conn.execute(db.master_keys.update().where(_M.fingerprint == old.fingerprint)
                     .values(state="retired", retired_at=iso(utc_now())))
        conn.execute(db.master_keys.update().where(_M.fingerprint == new.fingerprint)
                     .values(state="current"))
    rewrapped += _rewrap(store, new)[0]  # keys written before the states changed
    os.replace(nxt, path)
    fsync_path(path.parent)
    old_fp = old.fingerprint
    old.use(new.fingerprint)
    with store.write() as conn:
        seq = store.audit.append(
            conn, actor=actor, operation=Op.KEYS_MASTER_ROTATED, outcome="ok", rules=["R14"],
            detail={"old": old_fp, "new": new.fingerprint, "rewrapped": rewrapped,
                    "passes": passes})
    return MasterRotation(old_fp, new.fingerprint, rewrapped, passes, seq)


def _root(store: Store, old_key: bytes) -> bytes:
    """The deployment's root: sealed under the old key after an earlier rotation, else the
    old key itself."""
    probe = Keyring(old_key)
    with store.keys.connect() as conn:
        sealed = conn.execute(sa.select(_M.sealed_root)
                              .where(_M.fingerprint == probe.fingerprint)).scalar()
    return old_key if sealed is None else probe.open_root(bytes(sealed))


def _rewrap(store: Store, new: Keyring) -> tuple[int, int]:
    """Passes over the key store until one finds nothing left under the old key: (keys
    re-wrapped, passes)."""
    rewrapped = passes = 0
    while True:
        done, left = _pass(store, new)
        rewrapped, passes = rewrapped + done, passes + 1
        if not done and not left:
            return rewrapped, passes


def _pass(store: Store, new: Keyring) -> tuple[int, int]:
    """One pass over the key store: (keys re-wrapped, keys found under the old key but
    changed meanwhile, to look at again)."""
    done = left = 0
    after = ""
    while True:
        with store.keys.connect() as conn:
            rows = conn.execute(sa.select(_K.subject_id, _K.wrapped_key)
                                .where(_K.subject_id > after).order_by(_K.subject_id)
                                .limit(BATCH)).all()
        if not rows:
            return done, left
        after = rows[-1].subject_id
        with store.keys.begin() as conn:
            for subject, blob in rows:
                blob = bytes(blob)
                if _opens(new, subject, blob):
                    continue
                key = store.keyring.unwrap(subject, blob)
                changed = conn.execute(
                    db.subject_keys.update()
                    .where(_K.subject_id == subject, _K.wrapped_key == blob)
                    .values(wrapped_key=new.wrap(subject, key))).rowcount
                if changed:
                    done += 1
                else:
                    left += 1


def _opens(keyring: Keyring, subject: str, blob: bytes) -> bool:
    """Whether ``blob`` is wrapped under ``keyring``'s current master key."""
    try:
        keyring.unwrap(subject, blob)
    except Exception:
        return False
    return True
