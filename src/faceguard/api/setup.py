"""Making a data directory: its master key and a starter deployment file (``faceguard init``,
``Faceguard.open(dev=True)``, a trial's first start)."""

from __future__ import annotations

import os
from pathlib import Path

from faceguard.policy.deployment import STARTER_TOML
from faceguard.rights.recovery import open_store
from faceguard.store.core import CONFIG_FILE, master_key_path
from faceguard.vault.keys import load_master_key, new_master_key, write_key_file


def init_data_dir(data_dir: Path) -> Path:
    """Create a data directory: master key (0600), both stores, a starter faceguard.toml.

    Returns the path of the deployment file. Refuses to overwrite an existing key.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = master_key_path(data_dir)
    if not os.environ.get("FACEGUARD_MASTER_KEY"):
        write_key_file(key_path, new_master_key())
    config = data_dir / CONFIG_FILE
    if not config.exists():
        config.write_text(STARTER_TOML, encoding="utf-8")
    open_store(data_dir, load_master_key(key_path)).close()
    return config


def ensure_dev_key(data_dir: Path) -> None:
    """A local master key for development, where neither ``FACEGUARD_MASTER_KEY`` nor a key
    file gives one."""
    key_path = master_key_path(data_dir)
    if not os.environ.get("FACEGUARD_MASTER_KEY") and not key_path.exists():
        write_key_file(key_path, new_master_key())
