"""Batch enrollment from a manifest: both cores, P6 provenance, per-row report, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from faceguard import Faceguard
from faceguard.api.batch import COLUMNS
from faceguard.cli.main import main

PEOPLE = ["Colin_Powell", "Tony_Blair", "Gerhard_Schroeder", "Hugo_Chavez"]


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def row(name: str, **changes: str) -> dict[str, str]:
    base = {"subject": name, "name": name.replace("_", " "),
            "image": f"lfw/lfw/{name}/{name}_0001.jpg", "purpose": "attendance",
            "consent_method": "written", "consent_evidence": f"form/{name}",
            "provenance": "photographed at HR on 2026-11-02"}
    return {**base, **changes}


def report_rows(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="") as handle:
        return [(r["line"], r["status"], r["rule"]) for r in csv.DictReader(handle)]


def test_manifest_enrolls_reports_and_resumes(
    data_dir: Path, faces: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "staff.csv"
    write_manifest(manifest, [
        row(PEOPLE[0]),
        row(PEOPLE[1], provenance=""),                          # P6: no provenance
        row(PEOPLE[2], image="face_recognition/examples/two_people.jpg"),  # two faces
        row(PEOPLE[3]),
        row("Nobody", image="lfw/lfw/Nobody/missing.jpg"),      # unreadable file
    ])
    with Faceguard.open(data_dir) as fg:
        fg.consent.publish_notice("attendance")
    report = tmp_path / "report.csv"
    args = ["--data", str(data_dir), "enroll-batch", str(manifest), "--root", str(faces),
            "--report", str(report), "--workers", "2", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    summary = json.loads(result.stdout)
    assert (summary["enrolled"], summary["failed"], summary["skipped"]) == (2, 3, 0)
    assert report_rows(report) == [("2", "ok", ""), ("3", "error", "P6"), ("4", "error", ""),
                                   ("5", "ok", ""), ("6", "error", "")]
    with report.open() as handle:
        kept = [(r["type"], r["message"]) for r in csv.DictReader(handle)]
    # each refusal keeps its type beside its rule
    assert [t for t, _ in kept] == ["", "PolicyError", "TooManyFaces", "", "ConfigError"]
    assert "2 faces were found" in kept[2][1] and "cannot read" in kept[4][1]

    # fix the P6 row and rerun: only the failed rows are tried again
    write_manifest(manifest, [
        row(PEOPLE[0]), row(PEOPLE[1]),
        row(PEOPLE[2], image="face_recognition/examples/two_people.jpg"), row(PEOPLE[3]),
        row("Nobody", image="lfw/lfw/Nobody/missing.jpg"),
    ])
    result = CliRunner().invoke(main, args)
    summary = json.loads(result.stdout)
    assert (summary["enrolled"], summary["failed"], summary["skipped"]) == (1, 2, 2)
    assert report_rows(report)[1] == ("3", "ok", "")

    with Faceguard.open(data_dir) as fg:
        assert fg.governance.people_enrolled() == 3
        consent = fg.rights.export(PEOPLE[1]).consents[0]
        assert consent["evidence_ref"] == f"form/{PEOPLE[1]}; provenance: photographed at HR " \
                                          "on 2026-11-02"
        probe = (faces / "lfw/lfw" / PEOPLE[3] / f"{PEOPLE[3]}_0002.jpg").read_bytes()
        assert fg.identify(probe, "attendance").external_id == PEOPLE[3]
