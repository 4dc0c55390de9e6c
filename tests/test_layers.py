"""The folders are the design: import-linter's contracts in pyproject.toml hold (shells ->
api -> domain -> db; engine and policy know nothing of each other; the shared kernel imports
no package; the shells never touch storage), and a wrong import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint(package_parent: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if package_parent is not None:  # analyse this copy of the package instead
        env["PYTHONPATH"] = str(package_parent)
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml"),
                           "--no-cache"], capture_output=True, text=True, env=env,
                          cwd=package_parent or REPO, timeout=300)


def test_the_contracts_hold() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_a_wrong_import_breaks_them(tmp_path: Path) -> None:
    """The record store's schema reaching up into the api: named, and the run fails."""
    shutil.copytree(REPO / "src" / "faceguard", tmp_path / "faceguard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    schema = tmp_path / "faceguard" / "db" / "__init__.py"
    schema.write_text(schema.read_text() + "\n\ndef _wrong() -> None:\n"
                      "    from faceguard.api.faceguard import Faceguard  # noqa: F401\n")
    engine = tmp_path / "faceguard" / "engine" / "imaging.py"
    engine.write_text(engine.read_text() + "\n\nfrom faceguard.policy import packs  # noqa\n")
    page = tmp_path / "faceguard" / "service" / "pages.py"
    page.write_text(page.read_text() + "\n\nimport sqlalchemy  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "faceguard.db is not allowed to import faceguard.api" in done.stdout
    assert "faceguard.engine is not allowed to import faceguard.policy" in done.stdout
    assert "faceguard.service is not allowed to import sqlalchemy" in done.stdout
