"""``faceguard eval`` on a small slice of the LFW pairs (the full run is in PERFORMANCE.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceguard.cli.main import main
from faceguard.engine.evaluation import _best_threshold, read_pairs


def _slice(faces: Path, out: Path) -> None:
    with (faces / "pairs.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["subset"] == "lfw_official"]
    chosen = []
    for fold in ("1", "2"):
        for label in ("genuine", "impostor"):
            chosen += [r for r in rows if r["fold"] == fold and r["label"] == label][:8]
    # a genuine pair with an image without a face: a failure to enrol, counted as non-match
    chosen.append({**chosen[0], "file_b": "mtcnn/tests/images/no-faces.jpg"})
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file_a", "file_b", "label", "fold"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chosen)


def test_eval_reports_accuracy_rates_and_failures(faces: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    _slice(faces, pairs)
    result = CliRunner().invoke(
        main, ["eval", str(pairs), "--root", str(faces), "--workers", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["pairs"], report["genuine"], report["impostor"]) == (33, 17, 16)
    assert report["failures_to_enrol"] == 1
    assert report["failed_images"] == ["mtcnn/tests/images/no-faces.jpg"]
    assert len(report["fold_accuracies"]) == 2
    assert report["accuracy_method"] == "threshold chosen on the other folds"
    # the no-face genuine pair is always an error; the 32 LFW pairs are easy
    assert 0.9 <= report["accuracy"] <= 32 / 33 + 1e-9
    names = [p["name"] for p in report["operating_points"]]
    assert names == ["convenience", "access-control", "high-security", "payment"]
    access = report["operating_points"][1]
    assert access["fmr"] == 0.0 and access["fnmr"] >= 1 / 17
    assert report["images_per_second"] > 0


def test_best_threshold_maximises_accuracy() -> None:
    import numpy as np

    dist = np.array([0.1, 0.2, 0.3, 0.7, 0.8, np.inf])
    genuine = np.array([True, True, False, False, False, True])
    assert _best_threshold(dist, genuine) == 0.2


def test_pairs_file_errors_name_the_problem(tmp_path: Path) -> None:
    from faceguard import ConfigError

    bad = tmp_path / "bad.csv"
    bad.write_text("file_a,file_b\na.jpg,b.jpg\n")
    with pytest.raises(ConfigError, match="missing columns label"):
        read_pairs(bad)
    bad.write_text("file_a,file_b,label\na.jpg,b.jpg,same\n")
    with pytest.raises(ConfigError, match=":2: label must be genuine or impostor"):
        read_pairs(bad)
