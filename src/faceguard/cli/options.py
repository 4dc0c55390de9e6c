"""Global options anywhere on the line: ``faceguard --json verify ...`` and ``faceguard
verify ... --data DIR`` mean what they say.

Click reads a group's options only before its command and a command's only after it. The
group class here moves the global options (``--data``, ``--config``, ``--dev``) found after
the command to the front, unless that command has an option of the same name itself, and
moves ``--json`` found before the command to its end (every command that prints has one).
"""

from __future__ import annotations

import click

#: Global options that take a value, and those that do not.
VALUED = ("--data", "--config")
FLAGS = ("--dev",)
JSON = "--json"


def _leaf(group: click.Group, ctx: click.Context, words: list[str]) -> click.Command | None:
    """The command ``words`` name (through nested groups), or None."""
    command: click.Command | None = group
    for word in words:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        command = command.get_command(ctx, word)
        if command is None:
            return None
    return None if command is group else command


def _option_names(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
    return names


def _split_leading(args: list[str]) -> tuple[list[str], list[str]]:
    """The global options before the command, and the rest."""
    i = 0
    while i < len(args):
        word = args[i]
        if word in VALUED and i + 1 < len(args):
            i += 2
        elif word.split("=", 1)[0] in VALUED or word in FLAGS or word == JSON:
            i += 1
        else:
            break
    return args[:i], args[i:]


def hoist(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """``args`` with the global options moved where click reads them."""
    leading, rest = _split_leading(args)
    wants_json = JSON in leading
    leading = [w for w in leading if w != JSON]
    leaf = _leaf(group, ctx, rest)
    if leaf is None:
        return args
    own = _option_names(leaf)
    moved: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            kept += rest[i:]
            break
        name = word.split("=", 1)[0]
        if name in VALUED and name not in own:
            if "=" in word:
                moved.append(word)
                i += 1
                continue
            if i + 1 < len(rest):
                moved += rest[i:i + 2]
                i += 2
                continue
        if word in FLAGS and word not in own:
            moved.append(word)
            i += 1
            continue
        kept.append(word)
        i += 1
    if wants_json:
        if JSON not in own:
            raise click.UsageError(f"`{leaf.name}` has no --json output", ctx)
        if "--" in kept:
            at = kept.index("--")
            kept = [*kept[:at], JSON, *kept[at:]]
        else:
            kept.append(JSON)
    return [*leading, *moved, *kept]


class GlobalOptionsGroup(click.Group):
    """A click group whose global options may stand before or after the command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist(self, ctx, list(args)))
