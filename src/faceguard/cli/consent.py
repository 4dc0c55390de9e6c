"""``faceguard`` commands: notices and consents (R2-R5)."""

from __future__ import annotations

import click

from faceguard.cli.common import (
    Context,
    Output,
    json_option,
    pass_ctx,
)
from faceguard.errors import (
    ConfigError,
)


@click.command()
@click.option("--purpose", required=True)
@click.option("--field", "fields", multiple=True, metavar="NAME=TEXT",
              help="Override a notice field (controller, contact, purpose, method, retention, "
                   "necessity, impact, rights).")
@click.option("--zh-field", "zh_fields", multiple=True, metavar="NAME=TEXT",
              help="Override a field of the Chinese (zh-CN) notice.")
@json_option
@pass_ctx
def notice(ctx: Context, purpose: str, fields: tuple[str, ...], zh_fields: tuple[str, ...],
           as_json: bool) -> None:
    """Publish the next version of a purpose's notice (R2), in English and Chinese."""
    out = Output(as_json)

    def overrides(items: tuple[str, ...], option: str) -> dict[str, str]:
        found = {}
        for item in items:
            name, sep, text = item.partition("=")
            if not sep:
                out.fail(ConfigError(f"{option} must be NAME=TEXT, got {item!r}"))
            found[name] = text
        return found

    english, chinese = overrides(fields, "--field"), overrides(zh_fields, "--zh-field")
    with ctx.open(out) as fg:
        result = fg.consent.publish_notice(purpose, english, actor="cli",
                                           translations={"zh-CN": chinese})
    out.emit(result, f"notice {purpose} v{result.version} published ({result.sha256[:12]})")


@click.group()
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
@click.option("--language", type=click.Choice(["zh-CN", "en"]), default=None,
              help="The language of the notice the person read (default: the "
                   "deployment's, deployment.language).")
@json_option
@pass_ctx
def consent_grant(
    ctx: Context, external_id: str, name: str, purpose: str, method: str, evidence: str,
    minor: bool, guardian_name: str, guardian_relationship: str, guardian_evidence: str,
    language: str | None, as_json: bool,
) -> None:
    """Record a separate consent for one purpose."""
    from faceguard import Guardian

    out = Output(as_json)
    guardian = None
    if guardian_name or guardian_relationship or guardian_evidence:
        guardian = Guardian(guardian_name, guardian_relationship, guardian_evidence)
    with ctx.open(out) as fg:
        result = fg.consent.grant(
            external_id, purpose, name=name, method=method, evidence=evidence,
            minor=minor, guardian=guardian, actor="cli", language=language,
        )
    out.emit(result, f"consent recorded: {purpose} (notice v{result.notice_version}, read "
                     f"in {result.language})")


@consent.command("withdraw")
@click.option("--subject", "external_id", required=True)
@click.option("--purpose", required=True)
@json_option
@pass_ctx
def consent_withdraw(ctx: Context, external_id: str, purpose: str, as_json: bool) -> None:
    """Withdraw a consent; the face leaves that purpose at once."""
    out = Output(as_json)
    with ctx.open(out) as fg:
        result = fg.consent.withdraw(external_id, purpose, actor="cli")
    erased = (
        f" and the person was erased (no purpose left); certificate "
        f"{result.certificate.certificate_id}"
        if result.certificate
        else ""
    )
    out.emit(result, f"withdrawn: {len(result.templates_deleted)} templates deleted{erased}")
