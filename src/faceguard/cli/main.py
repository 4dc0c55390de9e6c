"""The ``faceguard`` command: a thin shell over ``Faceguard``.

Exit codes: 0 success (verify/identify: a match); 1 a negative decision (no-match, unknown)
or a failed audit verification; 2 usage or configuration error (including a missing master
key); 3 refused by a rule (the rule ID is printed); 4 bad image or no usable face;
5 not found; 6 encrypted data could not be opened.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from faceguard.api.faceguard import Faceguard
from faceguard.cli.common import (
    EXIT_NEGATIVE,
    IMAGE_SUFFIXES,
    Context,
    Output,
    json_option,
    pass_ctx,
)
from faceguard.errors import (
    ConfigError,
    FaceguardError,
)


@click.group()
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
@json_option
@pass_ctx
def init(ctx: Context, as_json: bool) -> None:
    """Create the data directory, its master key and a starter faceguard.toml."""
    out = Output(as_json)
    try:
        config = Faceguard.init(ctx.data_dir)
    except FaceguardError as exc:
        out.fail(exc)
    info = {"data_dir": str(ctx.data_dir), "config": str(config)}
    out.emit(info, f"initialised {ctx.data_dir}; edit {config} before going live")


@main.command()
@click.option("--purpose", required=True)
@click.option("--field", "fields", multiple=True, metavar="NAME=TEXT",
              help="Override a notice field (controller, contact, purpose, method, retention, "
                   "necessity, impact, rights).")
@json_option
@pass_ctx
def notice(ctx: Context, purpose: str, fields: tuple[str, ...], as_json: bool) -> None:
    """Publish the next version of a purpose's notice (R2)."""
    out = Output(as_json)
    overrides = {}
    for item in fields:
        name, sep, text = item.partition("=")
        if not sep:
            out.fail(ConfigError(f"--field must be NAME=TEXT, got {item!r}"))
        overrides[name] = text
    with ctx.open(out) as fg:
        result = fg.publish_notice(purpose, overrides, actor="cli")
    out.emit(result, f"notice {purpose} v{result.version} published ({result.sha256[:12]})")


@main.group()
def consent() -> None:
    """Grant or withdraw a consent."""


@consent.command("grant")
@click.option("--subject", "external_id", required=True, help="The person's external ID.")
@click.option("--name", required=True)
@click.option("--purpose", required=True)
@click.option("--method", type=click.Choice(["click", "signature", "written"]), required=True)
@click.option("--evidence", required=True, help="Reference to the consent evidence.")
@click.option("--under-14", "minor", is_flag=True, help="The person is under 14 (R5).")
@click.option("--guardian-name", default="")
@click.option("--guardian-relationship", default="")
@click.option("--guardian-evidence", default="")
@json_option
@pass_ctx
def consent_grant(
    ctx: Context, external_id: str, name: str, purpose: str, method: str, evidence: str,
    minor: bool, guardian_name: str, guardian_relationship: str, guardian_evidence: str,
    as_json: bool,
) -> None:
    """Record a separate consent for one purpose."""
    from faceguard import Guardian

    out = Output(as_json)
    guardian = None
    if guardian_name or guardian_relationship or guardian_evidence:
        guardian = Guardian(guardian_name, guardian_relationship, guardian_evidence)
    with ctx.open(out) as fg:
        result = fg.grant_consent(
            external_id, purpose, name=name, method=method, evidence=evidence,
            minor=minor, guardian=guardian, actor="cli",
        )
    out.emit(result, f"consent recorded: {purpose} (notice v{result.notice_version})")


@consent.command("withdraw")
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@json_option
@pass_ctx
def consent_withdraw(ctx: Context, external_id: str, purpose: str, as_json: bool) -> None:
    """Withdraw a consent; the face leaves that purpose at once."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.withdraw_consent(external_id, purpose, actor="cli")
    erased = (
        f" and the person was erased (no purpose left); certificate "
        f"{result.certificate.certificate_id}"
        if result.certificate
        else ""
    )
    out.emit(result, f"withdrawn: {len(result.templates_deleted)} templates deleted{erased}")


def _image_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(path)
    return files


def _read(path: Path, out: Output) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        out.fail(ConfigError(f"cannot read {path}: {exc.strerror}"))


@main.command()
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@click.option("--replace", is_flag=True,
              help="Correction (R16): replace the person's templates for this purpose.")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
@pass_ctx
def enroll(
    ctx: Context, external_id: str, purpose: str, replace: bool, images: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Enroll image files (or folders of images) of one consenting person."""
    out = Output(as_json)
    files = _image_files(images)
    if not files:
        out.fail(ConfigError("no image files given (.jpg, .jpeg, .png, .webp)"))
    data = [_read(path, out) for path in files]
    with (
        ctx.open(out) as fg,
        click.progressbar(length=len(files), label="enrolling", file=sys.stderr) as bar,
    ):
        result = fg.enroll(external_id, data, purpose, actor="cli", progress=bar.update,
                           replace=replace)
    out.emit(result, f"enrolled {len(result.template_ids)} templates for {purpose}")


@main.command()
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@click.option("--show-score", is_flag=True, help="Admin/evaluation only: print the distance.")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def verify(
    ctx: Context, external_id: str, purpose: str, show_score: bool, image: Path, as_json: bool
) -> None:
    """1:1: is the person in IMAGE the given subject? Exit 0 match, 1 no-match."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.verify(external_id, _read(image, out), purpose, actor="cli",
                           reveal_score=show_score)
    out.emit(result, result.decision)
    sys.exit(0 if result.decision == "match" else EXIT_NEGATIVE)


@main.command()
@click.option("--purpose", required=True)
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def identify(ctx: Context, purpose: str, image: Path, as_json: bool) -> None:
    """1:N: who is in IMAGE? Exit 0 with the subject, 1 when unknown."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.identify(_read(image, out), purpose, actor="cli")
    text = result.external_id or result.decision
    if result.decision == "needs-review":
        text = f"needs-review: {', '.join(result.candidates)} ({result.reason})"
    out.emit(result, text)
    sys.exit(0 if result.decision == "match" else EXIT_NEGATIVE)


@main.command()
@click.option("--subject", "external_id", required=True)
@click.option("--reason", default="request", show_default=True)
@json_option
@pass_ctx
def erase(ctx: Context, external_id: str, reason: str, as_json: bool) -> None:
    """Erase a person: templates deleted, key destroyed, signed certificate."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        cert = fg.erase(external_id, reason=reason, actor="cli")
    out.emit(cert, f"erased; certificate {cert.certificate_id}")


@main.command()
@click.option("--subject", "external_id", required=True)
@json_option
@pass_ctx
def export(ctx: Context, external_id: str, as_json: bool) -> None:
    """Everything held about a person (no template bytes), as JSON."""
    out = Output(True)
    with ctx.open(out) as fg:
        result = fg.export(external_id, actor="cli")
    out.emit(result, "")


@main.command()
@json_option
@pass_ctx
def sweep(ctx: Context, as_json: bool) -> None:
    """Erase every template past its purpose's retention (R8)."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.sweep(actor="cli")
    out.emit(result, f"{result.templates_deleted} expired templates erased, "
                     f"{len(result.certificates)} people erased")


@main.command("eval")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False,
                                                       path_type=Path))
@click.option("--subset", default=None, help="Only rows whose subset column equals this.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@json_option
def eval_command(
    pairs: Path, root: Path, subset: str | None, workers: int, as_json: bool
) -> None:
    """Accuracy, FMR/FNMR at each operating point, failures to enrol, images per second."""
    out = Output(as_json)
    try:
        rows = Faceguard.read_pairs(pairs, subset)
        images = len({p.file_a for p in rows} | {p.file_b for p in rows})
        with click.progressbar(length=images, label="embedding", file=sys.stderr) as bar:
            update: Callable[[int], None] = bar.update
            report = Faceguard.evaluate(rows, root, workers=workers, progress=update)
    except FaceguardError as exc:
        out.fail(exc)
    lines = [
        f"{report.pairs} pairs ({report.genuine} genuine, {report.impostor} impostor), "
        f"{report.images} images, {report.failures_to_enrol} failures to enrol",
        f"accuracy {report.accuracy:.4f} ({report.accuracy_method})",
    ]
    lines += [
        f"  {p['name']:15s} FMR target {p['fmr_target']:g}: FMR {p['fmr']:.4g} "
        f"FNMR {p['fnmr']:.4g}"
        for p in report.operating_points
    ]
    lines.append(f"{report.images_per_second:.1f} images/s with {workers} workers")
    out.emit(report, "\n".join(lines))


@main.command()
@click.argument("decision", type=int)
@json_option
@pass_ctx
def explain(ctx: Context, decision: int, as_json: bool) -> None:
    """Explain recorded decision DECISION (its audit sequence number); never the score."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.explain(decision, actor="cli")
    out.emit(result, result.text)


@main.group()
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
        result = fg.request_review(decision, reason, actor="cli")
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
        result = fg.answer_review(review_id, answer, by=by)
    out.emit(result, f"review {review_id} answered")


@review.command("list")
@click.option("--status", type=click.Choice(["open", "answered"]), default=None)
@json_option
@pass_ctx
def review_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """List review requests."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.reviews(status)
    out.emit(result, "\n".join(f"{r.id} {r.status} decision {r.decision_seq}: {r.reason}"
                               for r in result) or "no review requests")


@main.group()
def certificate() -> None:
    """Deletion certificates (R18)."""


@certificate.command("show")
@click.argument("certificate_id")
@pass_ctx
def certificate_show(ctx: Context, certificate_id: str) -> None:
    """Print a stored certificate as JSON."""
    out = Output(True)
    with ctx.open(out) as fg:
        result = fg.certificate(certificate_id)
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
        valid = Faceguard.verify_certificate(data, public_key)
    except json.JSONDecodeError:
        out.fail(ConfigError(f"{cert_file} is not JSON"))
    except FaceguardError as exc:
        out.fail(exc)
    out.emit({"valid": valid}, "valid" if valid else "INVALID: signature does not match")
    sys.exit(0 if valid else EXIT_NEGATIVE)


@main.command("public-key")
@pass_ctx
def public_key(ctx: Context) -> None:
    """Print the public key that verifies certificates and audit checkpoints."""
    out = Output(False)
    with ctx.open(out) as fg:
        key = fg.public_key_hex
    out.emit(key, key)


@main.command()
@click.option("--yes-erase-everyone", "confirm", is_flag=True, required=True,
              help="Required: confirms that every person is to be erased.")
@json_option
@pass_ctx
def decommission(ctx: Context, confirm: bool, as_json: bool) -> None:
    """The service ends: erase every person and print the signed summary certificate."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.decommission(confirm=confirm, actor="cli")
    out.emit(result, f"{result.people_erased} people erased; certificate "
                     f"{result.summary.certificate_id}")


config_option = click.option(
    "--config", "command_config", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Deployment file (overrides the global --config).",
)


def _with_config(ctx: Context, command_config: Path | None) -> Context:
    return dataclasses.replace(ctx, config=command_config) if command_config else ctx


@main.command()
@config_option
@json_option
@pass_ctx
def check(ctx: Context, command_config: Path | None, as_json: bool) -> None:
    """Judge the deployment against its packs. Exit 0 pass, 1 fail, 2 malformed file."""
    from faceguard.assess import assessment_state
    from faceguard.policy import DeploymentFacts, check_deployment
    from faceguard.policy.deployment import load_deployment

    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    config = ctx.config or ctx.data_dir / "faceguard.toml"
    try:
        deployment = load_deployment(config)
    except FaceguardError as exc:
        out.fail(exc)
    try:
        with Faceguard.open(ctx.data_dir, config=config, dev=ctx.dev) as fg:
            result = fg.check()
    except FaceguardError:
        # no data directory or key yet: judge the file alone (nobody enrolled)
        facts = DeploymentFacts(assessment=assessment_state(deployment, config.resolve().parent))
        result = check_deployment(deployment, facts)
    lines = [f"{result.status.upper()}: {deployment.deployment.name}"]
    lines += [f"  {f.kind:6s} {f.rule:4s} {f.detail}" for f in result.violations]
    lines += [f"  {f.kind:6s} {f.rule:4s} {f.detail}" for f in result.warnings]
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(lines))
    sys.exit(0 if result.passed else EXIT_NEGATIVE)


def _write_report(kind: str, obj: Any, html: Path | None, pdf: Path | None) -> list[str]:
    from faceguard.assess import render_html, render_pdf

    written = []
    if html is not None:
        html.write_text(render_html(kind, obj), encoding="utf-8")
        written.append(str(html))
    if pdf is not None:
        pdf.write_bytes(render_pdf(kind, obj))
        written.append(str(pdf))
    return written


@main.command()
@click.option("--init", "mode", flag_value="init", help="Draft the assessment (prefilled).")
@click.option("--approve", "mode", flag_value="approve", help="Approve it (needs --by).")
@click.option("--show", "mode", flag_value="show", default=True, help="Show its state.")
@click.option("--by", default="", help="Who approves (the DPO).")
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@config_option
@json_option
@pass_ctx
def assess(
    ctx: Context, mode: str, by: str, html: Path | None, pdf: Path | None,
    command_config: Path | None, as_json: bool,
) -> None:
    """The impact assessment (R10): --init drafts it, --approve --by NAME approves it."""
    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    with ctx.open(out) as fg:
        if mode == "init":
            path, assessment = fg.draft_assessment(actor="cli")
            text = (f"drafted {path}; sections for the DPO to complete: "
                    f"{', '.join(assessment.pending) or 'none'}")
        elif mode == "approve":
            assessment = fg.approve_assessment(by, actor="cli")
            approval = assessment.approval
            assert approval is not None
            text = f"approved by {approval.by}; keep until {approval.keep_until}"
        else:
            assessment = fg.assessment()
            text = fg.facts().assessment.detail
        written = _write_report("assessment", assessment, html, pdf)
    out.emit({"assessment": assessment.to_dict(), "written": written},
             "\n".join([text, *[f"wrote {w}" for w in written]]))


@main.command()
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the packet's JSON to this file.")
@config_option
@pass_ctx
def filing(ctx: Context, html: Path | None, pdf: Path | None, json_out: Path | None,
           command_config: Path | None) -> None:
    """The filing packet for the cyberspace authority (R15), as JSON, HTML and PDF."""
    ctx = _with_config(ctx, command_config)
    out = Output(True)
    with ctx.open(out) as fg:
        packet = fg.filing(actor="cli")
        _write_report("filing", packet, html, pdf)
    if json_out is not None:
        json_out.write_text(packet.to_json(), encoding="utf-8")
    click.echo(packet.to_json())


@main.command()
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@config_option
@json_option
@pass_ctx
def protection(ctx: Context, html: Path | None, pdf: Path | None,
               command_config: Path | None, as_json: bool) -> None:
    """Controls faceguard provides at the declared protection level, and what to add (R24)."""
    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    with ctx.open(out) as fg:
        report = fg.protection()
        _write_report("protection", report, html, pdf)
    lines = [f"level {report.level}: {len(report.controls)} controls"]
    lines += [f"  warning: {w}" for w in report.warnings]
    out.emit(report, "\n".join(lines))


@main.command("enroll-batch")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False,
                                                       path_type=Path),
              help="Folder the manifest's image paths are relative to.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Per-row report (CSV); default MANIFEST.report.csv. Rerun to resume.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@json_option
@pass_ctx
def enroll_batch(ctx: Context, manifest: Path, root: Path, report: Path | None, workers: int,
                 as_json: bool) -> None:
    """Enroll a manifest (subject, name, image, purpose, consent_method, consent_evidence,
    provenance) on both cores; rows already ok in the report are skipped."""
    out = Output(as_json)
    report = report or manifest.with_suffix(".report.csv")
    try:
        rows = len(Faceguard.read_manifest(manifest))
    except FaceguardError as exc:
        out.fail(exc)
    with (
        ctx.open(out) as fg,
        click.progressbar(length=rows, label="enrolling", file=sys.stderr) as bar,
    ):
        result = fg.enroll_batch(manifest, root, report, workers=workers, actor="cli",
                                 progress=bar.update)
    out.emit(result, f"{result.enrolled} enrolled, {result.failed} failed, "
                     f"{result.skipped} already done; report: {result.report}")
    sys.exit(0 if result.failed == 0 else EXIT_NEGATIVE)


from faceguard.cli.serve import keys, serve  # noqa: E402

main.add_command(serve)
main.add_command(keys)

from faceguard.cli.redact import redact  # noqa: E402

main.add_command(redact)

from faceguard.cli.liveness import eval_pad  # noqa: E402

main.add_command(eval_pad)

from faceguard.cli.audit import audit  # noqa: E402

main.add_command(audit)

from faceguard.cli.backup import backup, restore  # noqa: E402

main.add_command(backup)
main.add_command(restore)
