"""Writing outputs all or nothing: a hidden temporary file beside the destination, renamed
over it only when complete, removed on any failure. No partial output is ever left."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from faceguard.redact.errors import OutputError


def check_destination(dst: Path, *, overwrite: bool) -> None:
    """Refuse a destination that exists (unless ``overwrite``), is a folder, or whose folder
    does not exist."""
    if dst.is_dir():
        raise OutputError(f"{dst} is a folder; give a file name for the redacted output")
    if dst.exists() and not overwrite:
        raise OutputError(f"{dst} already exists; choose another name or allow overwriting")
    if not dst.parent.is_dir():
        raise OutputError(f"the output folder {dst.parent} does not exist")


@contextmanager
def atomic_output(dst: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path in ``dst``'s folder with the same suffix (encoders choose the
    format by it); on success it replaces ``dst`` atomically, on failure it is removed."""
    check_destination(dst, overwrite=overwrite)
    temporary = dst.parent / f".{dst.stem}.{secrets.token_hex(4)}.partial{dst.suffix}"
    try:
        temporary.open("xb").close()
    except OSError as exc:
        raise OutputError(f"cannot write in {dst.parent}: {exc.strerror}") from exc
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    try:
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        if dst.exists() and not overwrite:
            raise OutputError(f"{dst} appeared while redacting; not overwritten")
        os.replace(temporary, dst)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {dst}: {exc.strerror}") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(dst: Path, text: str) -> None:
    """Write a text file (a report) all or nothing, replacing any existing file."""
    with atomic_output(dst, overwrite=True) as temporary:
        temporary.write_text(text, encoding="utf-8")

