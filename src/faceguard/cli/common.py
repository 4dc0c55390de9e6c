"""What every command group shares: exit codes, the JSON-or-text output, the context of
the global options (``--data``, ``--config``, ``--dev``) and the option decorators.

Exit codes: 0 success (verify/identify: a match); 1 a negative decision (no-match, unknown)
or a failed audit verification; 2 usage or configuration error (including a missing master
key); 3 refused by a rule (the rule ID is printed); 4 bad image or no usable face;
5 not found; 6 encrypted data could not be opened.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from faceguard.errors import (
    FaceError,
    FaceguardError,
    ImageError,
    NotFound,
    PolicyError,
    VaultError,
)
from faceguard.fixes import fix_for
from faceguard.results import plain

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard

EXIT_NEGATIVE, EXIT_CONFIG, EXIT_POLICY, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_VAULT = 1, 2, 3, 4, 5, 6
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def facade() -> type[Faceguard]:
    """The ``Faceguard`` class, imported when a command runs: ``faceguard --help`` and the
    group's set-up load no engine, database or image library."""
    from faceguard.api.faceguard import Faceguard

    return Faceguard


def _exit_code(exc: FaceguardError) -> int:
    if isinstance(exc, PolicyError):
        return EXIT_POLICY
    if isinstance(exc, (ImageError, FaceError)):
        return EXIT_INPUT
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, VaultError):
        return EXIT_VAULT
    return EXIT_CONFIG


class Output:
    """Prints either JSON or short human text."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, value: Any, text: str) -> None:
        if self.as_json:
            text = json.dumps(plain(value), indent=2, ensure_ascii=False)
        click.echo(text)

    def fail(self, exc: FaceguardError) -> NoReturn:
        code = _exit_code(exc)
        context = click.get_current_context(silent=True)
        purpose = context.params.get("purpose") if context is not None else None
        fix = fix_for(exc, "cli", purpose if isinstance(purpose, str) else None)
        if self.as_json:
            body = {"error": type(exc).__name__, "rule": exc.rule, "message": exc.message,
                    "fix": fix}
            click.echo(json.dumps(body, ensure_ascii=False))
        else:
            click.echo(f"error: {exc}" + (f"\nfix: {fix}" if fix else ""), err=True)
        sys.exit(code)


@dataclasses.dataclass
class Context:
    data_dir: Path
    config: Path | None
    dev: bool

    @contextmanager
    def open(self, out: Output) -> Iterator[Faceguard]:
        try:
            fg = facade().open(self.data_dir, config=self.config, dev=self.dev)
        except FaceguardError as exc:
            out.fail(exc)
        try:
            yield fg
        except FaceguardError as exc:
            out.fail(exc)
        finally:
            fg.close()


_Fn = TypeVar("_Fn", bound=Callable[..., Any])
json_option: Callable[[_Fn], _Fn] = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON.")
pass_ctx: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(
    Context)
#: ``--config`` on a command: another deployment file than the global one.
config_option = click.option(
    "--config", "command_config", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Deployment file (overrides the global --config).",
)
