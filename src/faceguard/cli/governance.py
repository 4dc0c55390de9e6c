"""``faceguard`` commands: the deployment's check and its documents (R10, R15, R24)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from faceguard import i18n
from faceguard.cli.common import (
    EXIT_NEGATIVE,
    Context,
    Output,
    config_option,
    facade,
    json_option,
    pass_ctx,
)
from faceguard.errors import (
    FaceguardError,
)
from faceguard.fixes import fix_text
from faceguard.i18n import Language

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard


def _with_config(ctx: Context, command_config: Path | None) -> Context:
    return dataclasses.replace(ctx, config=command_config) if command_config else ctx


@click.command()
@config_option
@json_option
@pass_ctx
def check(ctx: Context, command_config: Path | None, as_json: bool) -> None:
    """Judge the deployment against its packs. Exit 0 pass, 1 fail, 2 malformed file."""
    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    config = ctx.config or facade().tools.config_file(ctx.data_dir)
    try:
        deployment = facade().tools.load_deployment_file(config)
    except FaceguardError as exc:
        out.fail(exc)
    try:
        with facade().open(ctx.data_dir, config=config, dev=ctx.dev) as fg:
            result = fg.governance.check()
    except FaceguardError:
        # no data directory or key yet: judge the file alone (nobody enrolled)
        result = facade().tools.check_file(deployment, config)
    trial = " (TRIAL deployment: not for real people)" if deployment.deployment.trial else ""
    lines = [f"{result.status.upper()}: {deployment.deployment.name}{trial}"]
    lines += [f"  {f.kind:6s} {f.rule:4s} {f.detail}" for f in result.violations]
    if any(f.rule == "R10" for f in result.violations):
        lines.append(f"  fix R10: {fix_text('assessment', 'cli')}")
    lines += [f"  {f.kind:6s} {f.rule:4s} {f.detail}" for f in result.warnings]
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(lines))
    sys.exit(0 if result.passed else EXIT_NEGATIVE)


def _write_report(kind: str, obj: Any, html: Path | None, pdf: Path | None,
                  fg: Faceguard, language: Language) -> list[str]:
    return facade().tools.render_report(kind, obj, html=html, pdf=pdf,
                                        trial=fg.deployment.deployment.trial,
                                        language=language,
                                        packs=fg.deployment.deployment.packs)


#: ``--language`` of the document commands: the deployment's language by default.
language_option = click.option(
    "--language", type=click.Choice(["zh-CN", "en"]), default=None,
    help="The language of the HTML/PDF and of the generated texts (default: the "
         "deployment's, deployment.language; zh-CN under the cn packs).")


def _language(fg: Faceguard, chosen: str | None) -> Language:
    return "zh-CN" if chosen == "zh-CN" else "en" if chosen == "en" else fg.language()


@click.command()
@click.option("--init", "mode", flag_value="init", help="Draft the assessment (prefilled).")
@click.option("--approve", "mode", flag_value="approve", help="Approve it (needs --by).")
@click.option("--show", "mode", flag_value="show", default=True, help="Show its state.")
@click.option("--by", default="", help="Who approves (the DPO).")
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@language_option
@config_option
@json_option
@pass_ctx
def assess(
    ctx: Context, mode: str, by: str, html: Path | None, pdf: Path | None,
    language: str | None, command_config: Path | None, as_json: bool,
) -> None:
    """The impact assessment (R10): --init drafts it, --approve --by NAME approves it."""
    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    with ctx.open(out) as fg:
        if mode == "init":
            path, assessment = fg.governance.draft_assessment(actor="cli")
            text = (f"drafted {path}; sections for the DPO to complete: "
                    f"{', '.join(assessment.pending) or 'none'}")
        elif mode == "approve":
            assessment = fg.governance.approve_assessment(by, actor="cli")
            approval = assessment.approval
            assert approval is not None
            text = f"approved by {approval.by}; keep until {approval.keep_until}"
        else:
            assessment = fg.governance.assessment()
            text = fg.governance.facts().assessment.detail
        written = _write_report("assessment", assessment, html, pdf, fg,
                                _language(fg, language))
    out.emit({"assessment": assessment.to_dict(), "written": written},
             "\n".join([text, *[f"wrote {w}" for w in written]]))


@click.command()
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the packet's JSON to this file.")
@language_option
@config_option
@pass_ctx
def filing(ctx: Context, html: Path | None, pdf: Path | None, json_out: Path | None,
           language: str | None, command_config: Path | None) -> None:
    """The filing packet for the cyberspace authority (R15), as JSON, HTML and PDF, in the
    deployment's language (or --language)."""
    ctx = _with_config(ctx, command_config)
    out = Output(True)
    with ctx.open(out) as fg:
        chosen = _language(fg, language)
        with i18n.use(chosen):
            packet = fg.governance.filing(actor="cli")
        _write_report("filing", packet, html, pdf, fg, chosen)
    if json_out is not None:
        json_out.write_text(packet.to_json(), encoding="utf-8")
    click.echo(packet.to_json())


@click.command()
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--pdf", type=click.Path(path_type=Path, dir_okay=False), default=None)
@language_option
@config_option
@json_option
@pass_ctx
def protection(ctx: Context, html: Path | None, pdf: Path | None, language: str | None,
               command_config: Path | None, as_json: bool) -> None:
    """Controls faceguard provides at the declared protection level, and what to add (R24),
    in the deployment's language (or --language)."""
    ctx = _with_config(ctx, command_config)
    out = Output(as_json)
    with ctx.open(out) as fg:
        chosen = _language(fg, language)
        with i18n.use(chosen):
            report = fg.governance.protection()
        _write_report("protection", report, html, pdf, fg, chosen)
    lines = [f"level {report.level}: {len(report.controls)} controls"]
    lines += [f"  warning: {w}" for w in report.warnings]
    out.emit(report, "\n".join(lines))
