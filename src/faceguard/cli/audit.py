"""``faceguard audit verify`` and ``faceguard audit head``: the processing record (R11).

Registered on the main group with ``main.add_command(audit)``; thin shells over
``Faceguard.audit.verify`` and ``Faceguard.audit.head``. Exit codes: 0 intact (or a head
printed), 1 tampered, 2 an unreadable receipt file or an empty record (no head yet).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from faceguard.cli.common import EXIT_NEGATIVE, Context, Output, facade, json_option, pass_ctx
from faceguard.errors import FaceguardError


def _audit() -> None:
    """The processing record."""


# Typed explicitly: mypy cannot infer a decorated group's type across the import cycle.
audit: click.Group = click.group("audit")(_audit)


@audit.command("verify")
@click.option("--receipt", "receipt_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A receipt kept by an auditor (`audit head --json`), or a receipts file; "
                   "repeatable.")
@json_option
@pass_ctx
def audit_verify(ctx: Context, receipt_files: tuple[Path, ...], as_json: bool) -> None:
    """Check the hash chain and signatures, the data directory's receipts and any kept
    elsewhere, the checkpoints, deletion certificates and consents. Exit 0 intact, 1
    tampered."""
    out = Output(as_json)
    try:
        kept = [r for path in receipt_files for r in facade().tools.load_receipts(path)]
    except FaceguardError as exc:
        out.fail(exc)
    with ctx.open(out) as fg:
        report = fg.audit.verify(kept)
    if report.ok:
        lines = [f"intact: {report.events} events, {report.checkpoints} signed checkpoints, "
                 f"{report.receipts} receipts"]
    else:
        lines = [f"TAMPERED at event {report.first_bad_seq}: {report.problem}"]
        lines += [f"  also: {f.problem}" for f in report.findings if f.problem != report.problem]
    lines += [f"  note: {note}" for note in report.notes]
    out.emit(report, "\n".join(lines))
    sys.exit(0 if report.ok else EXIT_NEGATIVE)


@audit.command("head")
@json_option
@pass_ctx
def audit_head(ctx: Context, as_json: bool) -> None:
    """Print the record's current signed head as a receipt for an auditor to keep (also
    added to the data directory's receipts file). Check it later with `audit verify
    --receipt FILE`."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        receipt = fg.audit.head()
    out.emit(receipt.to_json(), "\n".join([
        f"seq        {receipt.seq}",
        f"hash       {receipt.hash}",
        f"time       {receipt.time}",
        f"signature  {receipt.signature}",
        f"key id     {receipt.key_id}",
        "(keep `faceguard audit head --json` output to check with `audit verify --receipt`)",
    ]))
