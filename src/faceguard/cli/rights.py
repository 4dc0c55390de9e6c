"""``faceguard`` commands: rights and deletion (R16-R18)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from faceguard.cli.common import (
    EXIT_NEGATIVE,
    Context,
    Output,
    facade,
    json_option,
    pass_ctx,
)
from faceguard.errors import (
    ConfigError,
    FaceguardError,
)


@click.command()
@click.option("--subject", "external_id", required=True)
@click.option("--reason", default="request", show_default=True)
@json_option
@pass_ctx
def erase(ctx: Context, external_id: str, reason: str, as_json: bool) -> None:
    """Erase a person: templates deleted, key destroyed, signed certificate."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        cert = fg.rights.erase(external_id, reason=reason, actor="cli")
    out.emit(cert, f"erased; certificate {cert.certificate_id}")


@click.command()
@click.option("--subject", "external_id", required=True)
@json_option
@pass_ctx
def export(ctx: Context, external_id: str, as_json: bool) -> None:
    """Everything held about a person (no template bytes), as JSON."""
    out = Output(True)
    with ctx.open(out) as fg:
        result = fg.rights.export(external_id, actor="cli")
    out.emit(result, "")


@click.command()
@json_option
@pass_ctx
def sweep(ctx: Context, as_json: bool) -> None:
    """Erase every template past its purpose's retention (R8)."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.sweep(actor="cli")
    out.emit(result, f"{result.templates_deleted} expired templates erased, "
                     f"{len(result.certificates)} people erased")


@click.command()
@click.argument("decision", type=int)
@json_option
@pass_ctx
def explain(ctx: Context, decision: int, as_json: bool) -> None:
    """Explain recorded decision DECISION (its audit sequence number); never the score."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.explain(decision, actor="cli")
    out.emit(result, result.text)


@click.group()
def review() -> None:
    """Human review of automated decisions (R17)."""


@review.command("request")
@click.argument("decision", type=int)
@click.option("--reason", required=True)
@json_option
@pass_ctx
def review_request(ctx: Context, decision: int, reason: str, as_json: bool) -> None:
    """Ask for a human review of decision DECISION."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.request_review(decision, reason, actor="cli")
    out.emit(result, f"review {result.id} opened for decision {decision}")


@review.command("answer")
@click.argument("review_id", type=int)
@click.option("--answer", required=True)
@click.option("--by", required=True, help="Who reviewed.")
@json_option
@pass_ctx
def review_answer(ctx: Context, review_id: int, answer: str, by: str, as_json: bool) -> None:
    """Record the answer to review REVIEW_ID."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.answer_review(review_id, answer, by=by)
    out.emit(result, f"review {review_id} answered")


@review.command("list")
@click.option("--status", type=click.Choice(["open", "answered"]), default=None)
@json_option
@pass_ctx
def review_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """List review requests."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.reviews(status)
    out.emit(result, "\n".join(f"{r.id} {r.status} decision {r.decision_seq}: {r.reason}"
                               for r in result) or "no review requests")


@click.group()
def certificate() -> None:
    """Deletion certificates (R18)."""


@certificate.command("show")
@click.argument("certificate_id")
@pass_ctx
def certificate_show(ctx: Context, certificate_id: str) -> None:
    """Print a stored certificate as JSON."""
    out = Output(True)
    with ctx.open(out) as fg:
        result = fg.audit.certificate(certificate_id)
    out.emit(result, "")


@certificate.command("verify")
@click.argument("cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", required=True, help="The operator's public key (hex).")
@json_option
def certificate_verify(cert_file: Path, public_key: str, as_json: bool) -> None:
    """Check a certificate file's signature; needs only the public key. Exit 0 valid, 1 not."""
    out = Output(as_json)
    try:
        data = json.loads(cert_file.read_text(encoding="utf-8"))
        valid = facade().tools.verify_certificate(data, public_key)
    except json.JSONDecodeError:
        out.fail(ConfigError(f"{cert_file} is not JSON"))
    except FaceguardError as exc:
        out.fail(exc)
    out.emit({"valid": valid}, "valid" if valid else "INVALID: signature does not match")
    sys.exit(0 if valid else EXIT_NEGATIVE)


@click.command("public-key")
@pass_ctx
def public_key(ctx: Context) -> None:
    """Print the public key that verifies certificates and audit checkpoints."""
    out = Output(False)
    with ctx.open(out) as fg:
        key = fg.audit.public_key_hex
    out.emit(key, key)


@click.command()
@click.option("--yes-erase-everyone", "confirm", is_flag=True, required=True,
              help="Required: confirms that every person is to be erased.")
@json_option
@pass_ctx
def decommission(ctx: Context, confirm: bool, as_json: bool) -> None:
    """The service ends: erase every person and print the signed summary certificate."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.rights.decommission(confirm=confirm, actor="cli")
    out.emit(result, f"{result.people_erased} people erased; certificate "
                     f"{result.summary.certificate_id}")
