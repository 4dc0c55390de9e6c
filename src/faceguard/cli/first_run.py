"""What ``faceguard serve`` prints at start: where the data is, the deployment check, the
addresses, and for a trial (``serve --dev`` in an empty folder) why it is a trial, the keys
of the roles a newcomer needs and three commands that reach a first match."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from faceguard.fixes import fix_text

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard
    from faceguard.api.trial import TrialKeys

LOUD = "!" * 78
PHOTO = "photo.jpg"


def first_commands(base: str, keys: TrialKeys, photo: str = PHOTO) -> list[str]:
    """Consent (operator), enroll (operator), identify (terminal): copy-paste curl lines."""
    from faceguard.policy.trial import TRIAL_PURPOSE

    operator, terminal = keys.secrets["operator"], keys.secrets["terminal"]
    consent = json.dumps({"external_id": "me", "name": "Me", "purpose": TRIAL_PURPOSE,
                          "method": "click", "evidence": "trial: typed by the operator"})
    faces = f"{base}/api/v1/purposes/{TRIAL_PURPOSE}"
    return [
        f"curl -sS -H 'Authorization: Bearer {operator}' -H 'Content-Type: application/json' "
        f"-d {shlex.quote(consent)} {base}/api/v1/consents",
        f"curl -sS -H 'Authorization: Bearer {operator}' -F external_id=me "
        f"-F image=@{photo} {faces}/enrollments",
        f"curl -sS -H 'Authorization: Bearer {terminal}' -F image=@{photo} "
        f"{faces}/identifications",
    ]


def print_trial(fg: Faceguard, data_dir: Path, base: str, keys: TrialKeys) -> None:
    """The trial banner: what it is, why it is not lawful under cn, keys and commands."""
    from faceguard.policy.trial import TRIAL_PURPOSE, TRIAL_REASONS

    lines = [LOUD, "TRIAL deployment (faceguard serve --dev): try it on photos, never on "
             "real people.", "Not lawful in production under the cn pack, because:"]
    lines += [f"  {rule:4s} {reason}" for rule, reason in TRIAL_REASONS]
    lines += [f"Going live: see the comments at the top of {fg.tools.config_file(data_dir)}.", LOUD]
    click.secho("\n".join(lines), fg="yellow", bold=True)
    if not keys.secrets:
        click.echo("\nThe trial's API keys were printed when it was made. New ones: "
                   "faceguard keys create --role operator|terminal|admin "
                   f"[--purpose {TRIAL_PURPOSE}]\n")
        return
    click.echo("\nAPI keys, shown only now (log in with any of them at /-/login):")
    for role, secret in keys.secrets.items():
        use = {"operator": "consents and enrollments, the kiosk, the pages /enroll and /try",
               "terminal": f"verify and identify ({TRIAL_PURPOSE})",
               "admin": "keys, notices, the assessment (/assessment), erasure"}[role]
        click.echo(f"  {role:9s} {secret}   ({use})")
    click.echo(f"\nA first match: put a photo of one face at ./{PHOTO}, then run")
    for command in first_commands(base, keys):
        click.echo(f"\n  {command}")
    click.echo("")


def data_line(data_dir: Path, made: bool) -> str:
    """Where the data is kept, and that it stays: ``serve --dev`` makes ``faceguard-data``
    in the folder it is run from unless told otherwise (``--data``)."""
    where = data_dir.resolve()
    if made:
        return (f"Data: {where} (made now: keys, database, processing record, deployment "
                "file). It stays there after the service stops: delete that folder to start "
                "over, or give --data DIR to keep it elsewhere.")
    return (f"Data: {where} (it stays there after the service stops: delete that folder to "
            "start over).")


def print_check(fg: Faceguard) -> None:
    result = fg.governance.check()
    trial = " (TRIAL)" if fg.deployment.deployment.trial else ""
    if result.passed:
        click.echo(f"deployment check: PASS{trial}")
        return
    click.echo("deployment check: FAIL (faces are refused until it passes; "
               "`faceguard check` says what to change):")
    for v in result.violations:
        click.echo(f"  {v.rule:4s} {v.detail}")
    if any(v.rule == "R10" for v in result.violations):
        click.echo(f"  fix R10: {fix_text('assessment', 'cli')}")
