"""The ``faceguard`` command group, its global options and ``init``; the command groups
are registered from their modules. Exit codes are listed in ``cli.common``."""

from __future__ import annotations

from pathlib import Path

import click

from faceguard.cli.audit import audit
from faceguard.cli.backup import backup, restore
from faceguard.cli.common import (
    Context,
    Output,
    facade,
    json_option,
    pass_ctx,
)
from faceguard.cli.consent import consent, notice
from faceguard.cli.faces import (
    calibrate,
    enroll,
    enroll_batch,
    eval_command,
    eval_identify,
    identify,
    verify,
)
from faceguard.cli.governance import assess, check, filing, protection
from faceguard.cli.liveness import eval_pad
from faceguard.cli.options import GlobalOptionsGroup
from faceguard.cli.redact import redact
from faceguard.cli.rights import (
    certificate,
    decommission,
    erase,
    explain,
    export,
    public_key,
    review,
    sweep,
)
from faceguard.cli.serve import keys, serve
from faceguard.errors import (
    FaceguardError,
)


@click.group(cls=GlobalOptionsGroup)
@click.option(
    "--data",
    "data_dir",
    envvar="FACEGUARD_DATA",
    default="faceguard-data",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Data directory (env FACEGUARD_DATA).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Deployment file (default DATA/faceguard.toml).",
)
@click.option("--dev", is_flag=True, help="Development mode: create a local master key if none.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path, config: Path | None, dev: bool) -> None:
    """faceguard: consent-gated face recognition with a tamper-evident record."""
    if dev:
        click.echo("WARNING: development mode; keys are local and not for production", err=True)
    ctx.obj = Context(data_dir, config, dev)


@main.command()
@click.argument("data_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@json_option
@pass_ctx
def init(ctx: Context, data_dir: Path | None, as_json: bool) -> None:
    """Create the data directory (DATA_DIR, else --data), its master key and a starter
    faceguard.toml."""
    out = Output(as_json)
    if data_dir is not None:
        ctx.data_dir = data_dir
    try:
        config = facade().init(ctx.data_dir)
    except FaceguardError as exc:
        out.fail(exc)
    info = {"data_dir": str(ctx.data_dir), "config": str(config)}
    out.emit(info, f"initialised {ctx.data_dir}; edit {config} before going live")


for _command in (
    notice, consent, enroll, verify, identify, eval_command, eval_identify, calibrate,
    enroll_batch, erase,
    export, sweep, explain, review, certificate, public_key, decommission, check, assess, filing,
    protection, serve, keys, redact, eval_pad, audit, backup, restore,
):
    main.add_command(_command)
