"""``faceguard backup DEST`` and ``faceguard restore SRC``: thin shells over
``Faceguard.rights.backup`` and ``Faceguard.tools.restore`` (see faceguard.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from faceguard.cli.common import Context, Output, facade, json_option, pass_ctx
from faceguard.errors import ConfigError, FaceguardError


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path, dir_okay=True, file_okay=False))
@json_option
@pass_ctx
def backup(ctx: Context, dest: Path, as_json: bool) -> None:
    """Copy the record store and the key store (with the erasure ledger) into DEST while
    the service runs. Keep DEST/records and DEST/keys apart; the master key is not copied."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.backup(dest, actor="cli")
    out.emit(result, (
        f"backup {result.backup_id}: {result.audit_seq} events, {result.erasures} ledger "
        f"entries\n  record store copy: {result.records}\n  key store copy:    {result.keys}\n"
        "Keep the key store copy apart from the record store copy (different media and "
        "places).\nThe master key is not in the backup: keep it safe in a third place; "
        "without it neither copy can be read."))


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, path_type=Path, file_okay=False))
@click.option("--records-only", is_flag=True, help="Put back the record store copy only.")
@click.option("--keys-only", is_flag=True, help="Put back the key store copy only.")
@json_option
@pass_ctx
def restore(ctx: Context, src: Path, records_only: bool, keys_only: bool,
            as_json: bool) -> None:
    """Put a backup back (stop the service first: refused while the data is open), then
    erase again everyone erased since (the erasure ledger is kept, never restored)."""
    out = Output(as_json)
    if records_only and keys_only:
        out.fail(ConfigError("--records-only and --keys-only exclude each other"))
    try:
        result = facade().tools.restore(ctx.data_dir, src, records=not keys_only,
                                   keys=not records_only, actor="cli")
    except FaceguardError as exc:
        out.fail(exc)
    text = (f"restored {' and '.join(result.parts)} from backup {result.backup_id} "
            f"({result.backup_created_at}); erasures re-applied: {result.recovery.reapplied}, "
            f"interrupted erasures completed: {result.recovery.completed}, "
            f"withdrawals re-applied: {result.recovery.withdrawals_reapplied}")
    if result.unreadable:
        text += (f"\nwarning: {result.unreadable} people have no data key in the restored "
                 "key store; their data cannot be read")
    if result.orphan_keys:
        text += (f"\n{result.orphan_keys} data keys belong to nobody in the restored record "
                 "store; `faceguard sweep` destroys them")
    out.emit(result, text)
