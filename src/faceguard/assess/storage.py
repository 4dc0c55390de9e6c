"""The assessment file format: TOML written here (no writer in the standard library) and
read back with ``tomllib``, validated with pydantic so a malformed file is a ``ConfigError``
naming the key.

::

    format = 1
    deployment = "..."            controller = "..."
    drafted_on = "2025-06-01"     deployment_sha256 = "<64 hex>"
    [approval]                    (absent until approved)
    by = "..."  at = "<ISO 8601 with offset>"  content_sha256 = "..."
    deployment_sha256 = "..."  keep_until = "2028-06-01"
    [[sections]]                  (one per section key, each key exactly once)
    key = "..."  title = "..."  sources = ["..."]  needs_human = true
    prefilled = \"\"\"...\"\"\"  dpo = \"\"\"...\"\"\"
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faceguard.errors import ConfigError

FORMAT = 1
_HEX64 = r"^[0-9a-f]{64}$"

HEADER = """\
# faceguard impact assessment (R10; FRM 9; PIPL 55, 56; GDPR 35).
# Replace every "TO BE COMPLETED BY THE DPO: ..." text (the dpo = \"\"\"...\"\"\" fields) with
# your assessment, then run: faceguard assess --approve --by "YOUR NAME".
# Editing this file after approval requires approving it again.
"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _SectionFile(_Strict):
    key: str
    title: str = Field(min_length=1)
    sources: list[str]
    needs_human: bool
    prefilled: str
    dpo: str = ""


class _ApprovalFile(_Strict):
    by: str = Field(min_length=1)
    at: str
    content_sha256: str = Field(pattern=_HEX64)
    deployment_sha256: str = Field(pattern=_HEX64)
    keep_until: str


class _AssessmentFile(_Strict):
    format: int
    deployment: str
    controller: str
    drafted_on: str
    deployment_sha256: str = Field(pattern=_HEX64)
    approval: _ApprovalFile | None = None
    sections: list[_SectionFile]


def _string(text: str, *, multiline: bool = False) -> str:
    """A TOML basic string. ``multiline`` (prose the DPO edits): a multi-line string with the
    quotes on lines of their own, so whole lines can be replaced; ``_unwrap`` drops the
    newline before the closing quotes. Otherwise one line, newlines escaped."""
    wrap = multiline and bool(text)
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n" if wrap else "\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    body = "".join(out)
    return f'"""\n{body}\n"""' if wrap else f'"{body}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the assessment file")


#: Keys written as multi-line strings whenever they hold text.
_PROSE = ("prefilled", "dpo")


def _table(lines: list[str], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in _PROSE and isinstance(value, str):
            lines.append(f"{key} = {_string(value, multiline=True)}")
        elif value is not None:
            lines.append(f"{key} = {_value(value)}")


def dump_toml(data: dict[str, Any]) -> str:
    """The assessment dict (JSON-like: strings, ints, bools, lists) as a TOML document."""
    lines = [HEADER, f"format = {FORMAT}"]
    _table(lines, {k: v for k, v in data.items() if k not in ("approval", "sections")})
    if data.get("approval") is not None:
        lines += ["", "[approval]"]
        _table(lines, data["approval"])
    for section in data["sections"]:
        lines += ["", "[[sections]]"]
        _table(lines, section)
    return "\n".join(lines) + "\n"


def _unwrap(text: str) -> str:
    """Inverse of the multi-line layout of ``_string``: one final newline dropped."""
    return text[:-1] if text.endswith("\n") else text


def _date(text: str, key: str, source: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: key '{key}': not a date (YYYY-MM-DD): {text!r}") from exc


def _moment(text: str, key: str, source: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: key '{key}': not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"{source}: key '{key}': the time needs a UTC offset: {text!r}")
    return moment


def parse_assessment_toml(text: str, *, source: str, keys: Sequence[str]) -> dict[str, Any]:
    """Validate an assessment file; plain values with dates parsed, sources as tuples."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    try:
        model = _AssessmentFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            elif err["type"] == "missing":
                problems.append(f"missing key '{key}'")
            else:
                problems.append(f"key '{key}': {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc
    if model.format != FORMAT:
        raise ConfigError(f"{source}: key 'format': unsupported version {model.format}")
    found = [s.key for s in model.sections]
    duplicates = sorted({k for k in found if found.count(k) > 1})
    missing = [k for k in keys if k not in found]
    unknown = [k for k in found if k not in keys]
    if duplicates or missing or unknown:
        parts = [f"{label}: {', '.join(items)}" for label, items in (
            ("missing sections", missing), ("unknown sections", unknown),
            ("duplicate sections", duplicates)) if items]
        raise ConfigError(f"{source}: " + "; ".join(parts))
    approval = None
    if model.approval is not None:
        a = model.approval
        approval = {
            "by": a.by, "at": _moment(a.at, "approval.at", source),
            "content_sha256": a.content_sha256, "deployment_sha256": a.deployment_sha256,
            "keep_until": _date(a.keep_until, "approval.keep_until", source),
        }
    return {
        "deployment": model.deployment,
        "controller": model.controller,
        "drafted_on": _date(model.drafted_on, "drafted_on", source),
        "deployment_sha256": model.deployment_sha256,
        "approval": approval,
        "sections": [
            {**s.model_dump(), "sources": tuple(s.sources), "prefilled": _unwrap(s.prefilled),
             "dpo": _unwrap(s.dpo)} for s in model.sections
        ],
    }
