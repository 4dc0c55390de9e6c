"""Batch enrollment from a manifest, on both cores, with a resumable per-row report.

The manifest is CSV with the columns ``subject`` (external ID), ``name``, ``image`` (path,
relative to ``--root``), ``purpose``, ``consent_method`` (click | signature | written),
``consent_evidence`` and ``provenance`` (where the photo and the consent come from). The EU
AI Act forbids face databases built by untargeted scraping (P6): a row without provenance or
consent evidence is refused with P6 and nothing is enrolled for it. Images are decoded and
embedded in worker processes; consents and templates are written by the caller's
``Faceguard`` one row at a time, each row all-or-nothing. The report (CSV: line, subject,
status, rule, type, message: the refusal's rule ID and its error type) is rewritten after
every row; a second run with the same report skips
the rows already ``ok``.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceguard.engine.pipeline import Extraction
from faceguard.errors import ConfigError, FaceguardError, PolicyError

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard

COLUMNS = ("subject", "name", "image", "purpose", "consent_method", "consent_evidence",
           "provenance")
REPORT_COLUMNS = ("line", "subject", "status", "rule", "type", "message")

_WORKER: dict[str, Any] = {}


@dataclass(frozen=True)
class ManifestRow:
    line: int
    subject: str
    name: str
    image: str
    purpose: str
    consent_method: str
    consent_evidence: str
    provenance: str


@dataclass(frozen=True)
class BatchReport:
    """Counts of one run; the per-row detail is in the report file."""

    rows: int
    enrolled: int
    failed: int
    skipped: int
    report: Path


def read_manifest(path: Path) -> list[ManifestRow]:
    """Read and check the manifest's columns (``ConfigError`` naming the missing ones)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{path}: missing columns {', '.join(missing)}")
            return [
                ManifestRow(line, *(str(row[c] or "").strip() for c in COLUMNS))
                for line, row in enumerate(reader, start=2)
            ]
    except FileNotFoundError as exc:
        raise ConfigError(f"manifest {path} not found") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"manifest {path} is not UTF-8 text") from exc


def _done_lines(report: Path) -> set[int]:
    if not report.exists():
        return set()
    with report.open(newline="", encoding="utf-8") as handle:
        return {int(r["line"]) for r in csv.DictReader(handle) if r.get("status") == "ok"}


def _extract_file(path: str) -> Extraction | FaceguardError:
    """Worker: one image file to an enrollment extraction, or the refusal (it crosses the
    process boundary with its rule and type)."""
    from faceguard.engine.fast_resnet import FastDlibEngine
    from faceguard.engine.pipeline import extract
    from faceguard.engine.quality import ENROLL_GATE

    engine = _WORKER.setdefault("engine", FastDlibEngine())
    try:
        data = Path(path).read_bytes()
        return extract(engine, data, single_face=True, gate=ENROLL_GATE)
    except OSError as exc:
        return ConfigError(f"cannot read {path}: {exc.strerror}")
    except FaceguardError as exc:
        return exc


def _extractions(paths: list[str], workers: int) -> Iterator[Extraction | FaceguardError]:
    if workers <= 1:
        yield from (_extract_file(p) for p in paths)
        return
    context = multiprocessing.get_context("spawn")  # never fork a process that ran dlib
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_extract_file, paths, chunksize=4)


def _row_problem(row: ManifestRow) -> PolicyError | None:
    if not row.provenance or not row.consent_evidence:
        return PolicyError(
            "bulk import needs the provenance of the photo and the consent evidence for "
            "every person (no untargeted scraping)", rule="P6")
    return None


def enroll_manifest(
    fg: Faceguard,
    manifest: Path,
    root: Path,
    report: Path,
    *,
    workers: int = 2,
    actor: str = "batch",
    progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """Enroll every row of ``manifest`` not already ``ok`` in ``report``."""
    rows = read_manifest(manifest)
    done = _done_lines(report)
    todo = [r for r in rows if r.line not in done]
    results: dict[int, tuple[str, str, str, str, str]] = {}
    if report.exists():
        with report.open(newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                results[int(r["line"])] = (r["subject"], r["status"], r["rule"],
                                           r.get("type") or "", r["message"])
    enrolled = failed = 0
    for row, extraction in zip(todo, _extractions([str(root / r.image) for r in todo], workers),
                               strict=True):
        try:
            problem = _row_problem(row)
            if problem is not None:
                raise problem
            if isinstance(extraction, FaceguardError):
                extraction.add_context(row.image)
                raise extraction
            _grant_if_needed(fg, row, actor)
            fg.enroll(row.subject, [extraction], row.purpose, actor=actor)
            results[row.line] = (row.subject, "ok", "", "", "")
            enrolled += 1
        except FaceguardError as exc:
            results[row.line] = (row.subject, "error", exc.rule or "", type(exc).__name__,
                                 exc.message)
            failed += 1
        _write_report(report, results)
        if progress is not None:
            progress(1)
    _write_report(report, results)
    return BatchReport(len(rows), enrolled, failed, len(rows) - len(todo), report)


def _grant_if_needed(fg: Faceguard, row: ManifestRow, actor: str) -> None:
    if row.purpose not in fg.consent.active_purposes(row.subject):
        fg.consent.grant(
            row.subject, row.purpose, name=row.name or row.subject, method=row.consent_method,
            evidence=f"{row.consent_evidence}; provenance: {row.provenance}", actor=actor,
        )


def _write_report(report: Path, results: dict[int, tuple[str, str, str, str, str]]) -> None:
    tmp = report.with_name(report.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for line in sorted(results):
            writer.writerow((line, *results[line]))
    tmp.replace(report)
