"""House rule 6, nothing happens at import time: ``import faceguard``, ``faceguard --help``,
``faceguard check`` and ``faceguard audit verify`` load no library the call does not need.

Each case runs in a fresh interpreter that prints, as it exits, which of the heavy modules
are in ``sys.modules``; a data directory made like the CLI tests' (``init`` + an approved
assessment) serves the commands that open one (on SQLite and on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEST_DEPLOYMENT, go_live
from faceguard import Faceguard

#: What none of the four calls needs: face engines and their image library, the web stack,
#: templates and PDF, the Chinese calendar (only a filing deadline needs it).
NEVER = ("cv2", "dlib", "_dlib_pybind11", "onnxruntime", "fastapi", "starlette", "uvicorn",
         "chinese_calendar", "jinja2", "fpdf", "PIL")
#: What ``import faceguard`` and ``--help`` do not need either: the database, arrays, models.
NOT_FOR_HELP = (*NEVER, "numpy", "sqlalchemy", "pydantic", "cryptography", "psycopg",
                "faceguard.api", "faceguard.store")

_REPORTER = """
import atexit, json, sys
def _report():
    sys.stdout.flush()
    sys.stderr.write("\\nLOADED " + json.dumps(sorted(sys.modules)) + "\\n")
atexit.register(_report)
sys.argv = ["faceguard", *sys.argv[1:]]
"""


def loaded(code: str, *args: str, expect: int = 0) -> set[str]:
    """The modules loaded after running ``code`` (with ``args``) in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONSTARTUP")}
    done = subprocess.run([sys.executable, "-c", _REPORTER + code, *args],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == expect, done.stdout + done.stderr
    return set(json.loads(done.stderr.rsplit("LOADED ", 1)[1]))


def _tops(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in NEVER} | {
        m for m in modules if m.split(".")[0] in NOT_FOR_HELP or m in NOT_FOR_HELP}


def test_import_faceguard_loads_nothing_heavy() -> None:
    mods = loaded("import faceguard")
    assert not {m for m in NOT_FOR_HELP if m in mods}, sorted(_tops(mods))[:20]


def test_a_public_name_loads_its_module_on_first_use() -> None:
    mods = loaded("import faceguard; faceguard.NotFound; print(faceguard.Faceguard.__name__)")
    assert "faceguard.errors" in mods and "faceguard.api.faceguard" in mods
    import faceguard

    for name in faceguard.__all__:
        assert getattr(faceguard, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        faceguard.Nope  # noqa: B018
    assert set(faceguard.__all__) <= set(dir(faceguard))


def test_help_loads_nothing_heavy() -> None:
    mods = loaded("from faceguard.cli.main import main; main()", "--help")
    assert not {m for m in NOT_FOR_HELP if m in mods}, sorted(_tops(mods))[:20]
    mods = loaded("from faceguard.cli.main import main; main()", "redact", "--help")
    assert not {m for m in NOT_FOR_HELP if m in mods}, sorted(_tops(mods))[:20]


def test_the_redact_styles_written_out_for_help_are_the_real_ones() -> None:
    from faceguard.cli.redact import STYLES as WRITTEN
    from faceguard.redact import STYLES

    assert tuple(WRITTEN) == tuple(STYLES)


@pytest.fixture()
def live_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    data = tmp_path / "data"
    Faceguard.init(data)
    go_live(data, TEST_DEPLOYMENT)
    return data


def test_check_and_audit_verify_load_no_engine_web_or_calendar(live_data: Path) -> None:
    cli = "from faceguard.cli.main import main; main()"
    for args in (("check", "--json"), ("audit", "verify", "--json")):
        mods = loaded(cli, "--data", str(live_data), *args)
        heavy = sorted(m for m in mods if m.split(".")[0] in NEVER)
        assert not heavy, f"faceguard {' '.join(args)} loaded {heavy[:10]}"
        # it did do its work: the store was opened
        assert "faceguard.store.core" in mods and "sqlalchemy" in mods
