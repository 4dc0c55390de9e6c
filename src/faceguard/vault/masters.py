"""The master keys a rotation knows, in the key store's ``master_keys`` (R14).

Until the first rotation the table is empty and the master key is also the deployment's
root (see ``keys.Keyring``). A rotation records the old key as ``current`` and the new one as
``next`` (each with the root sealed under it), re-wraps every data key, then retires the old
one and makes the new one ``current``. Every process wraps a new data key under the key this
table names (``wrapping_key``), read in the transaction that stores the wrapped key, so that
no key is wrapped under a master key the rotation has already passed over.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from faceguard import db
from faceguard.errors import ConfigError, VaultError
from faceguard.vault.keys import Keyring, fingerprint

_M = db.master_keys.c


def open_keyring(keys: Engine, master_key: bytes,
                 reload: Callable[[], list[bytes]] | None = None) -> Keyring:
    """The keyring of the store whose key store is ``keys``, opened with ``master_key``:
    its root comes from the key's row (after a rotation). ``ConfigError`` (R14) for a
    retired key or one the deployment never had."""
    found = fingerprint(master_key)
    with keys.connect() as conn:
        rows = {r.fingerprint: r for r in conn.execute(sa.select(db.master_keys))}
    if not rows:
        return Keyring(master_key, reload=reload)
    row = rows.get(found)
    current = next((f for f, r in rows.items() if r.state == "current"), "?")
    if row is None:
        raise ConfigError(f"the master key {found} is not this deployment's (its current key "
                          f"is {current}); use the key file the last rotation wrote",
                          rule="R14")
    if row.state == "retired":
        raise ConfigError(f"the master key {found} was retired by a rotation at "
                          f"{row.retired_at}; use the current key ({current})", rule="R14")
    try:
        root = Keyring(master_key).open_root(bytes(row.sealed_root))
    except VaultError as exc:
        raise ConfigError(f"the root sealed under master key {found} does not open",
                          rule="R14") from exc
    keyring = Keyring(master_key, root=root, reload=reload)
    keyring.refresh()  # a rotation under way: its other key too
    return keyring


def wrapping_key(conn: Connection) -> str | None:
    """The fingerprint new data keys must be wrapped under (``None``: no rotation ever ran,
    the process's own key). On PostgreSQL the row is locked for share until the caller's
    transaction ends, so that a rotation cannot move on between this read and its insert."""
    query = sa.select(_M.fingerprint, _M.state).where(_M.state.in_(("current", "next")))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    states = {state: fp for fp, state in conn.execute(query)}
    return states.get("next") or states.get("current")


def use_wrapping_key(conn: Connection, keyring: Keyring) -> None:
    """Make ``keyring`` wrap under the key ``wrapping_key`` names; ``VaultError`` if this
    process cannot load that key."""
    wanted = wrapping_key(conn)
    if wanted is not None and wanted != keyring.fingerprint and not keyring.use(wanted):
        raise VaultError(f"new data keys are wrapped under master key {wanted}, which this "
                         "process cannot load; put the rotated key file in place")
