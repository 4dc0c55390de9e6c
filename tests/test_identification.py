"""1:N decisions by FPIR (R17): thresholds from the calibration and the people enrolled,
fused templates, the doubtful band; on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TEST_DEPLOYMENT, go_live, images_of, people_with
from faceguard import ConfigError, Faceguard, PolicyError
from faceguard.cli.main import main
from faceguard.engine.calibration import load_calibration, load_calibration_file
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.scores import GRID, fuse, measure_tables, threshold_for_fpir, unit
from faceguard.index.decision import IdentificationRule, decide, gallery_thresholds
from faceguard.index.partition import Partition
from faceguard.index.people import PersonHit, people_of
from faceguard.policy import DeploymentFacts, IdentificationOutlook, check_deployment
from faceguard.policy.deployment import parse_deployment

RULE = IdentificationRule(fpir=0.01, doubt_fpir=0.05, on_doubt="needs-review")


def test_the_automatic_threshold_tightens_as_the_gallery_grows() -> None:
    tables = load_calibration(*_ids()).tables
    limits = [gallery_thresholds(tables, {1: n}, RULE) for n in (10, 100, 1000)]
    autos = [lim.automatic for lim in limits]
    assert all(a is not None for a in autos)
    assert autos[0] > autos[1] > autos[2]  # type: ignore[operator]
    for lim in limits:
        assert lim.expected_fpir <= RULE.fpir + 1e-12
        assert lim.doubtful is not None and lim.doubtful >= lim.automatic  # type: ignore[operator]
    # the FNIR paid for the same FPIR grows with the gallery
    assert limits[0].expected_fnir < limits[2].expected_fnir
    # counted in people: three pictures each is a better (looser, fewer misses) gallery of
    # the same size, not three times the gallery
    three = gallery_thresholds(tables, {3: 1000}, RULE)
    assert three.automatic is not None and three.expected_fnir < limits[2].expected_fnir


def test_beyond_what_the_calibration_measured_nothing_is_automatic() -> None:
    tables = load_calibration(*_ids()).tables
    assert threshold_for_fpir(tables, {1: 10_000_000}, 1e-4) is None
    limits = gallery_thresholds(tables, {1: 10_000_000}, IdentificationRule(1e-4, 1e-4,
                                                                           "needs-review"))
    assert limits.automatic is None and limits.expected_fnir == 1.0
    assert decide([PersonHit("a", 0.0, 1)], limits) != "match"


def test_two_people_within_the_automatic_threshold_is_doubtful() -> None:
    tables = load_calibration(*_ids()).tables
    limits = gallery_thresholds(tables, {1: 100}, RULE)
    assert limits.automatic is not None
    near = limits.automatic / 2
    assert decide([PersonHit("a", near, 1)], limits) == "match"
    assert decide([PersonHit("a", near, 1), PersonHit("b", near * 1.1, 1)], limits) == "doubtful"
    assert decide([PersonHit("a", limits.automatic * 1.0001, 1)], limits) in (
        "doubtful", "unknown")
    assert decide([], limits) == "unknown"


def test_a_person_is_scored_by_the_fused_template_of_their_pictures() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(3, 64)), rng.normal(size=(1, 64))
    partition = Partition(64, "test")
    partition.add_many(["a", "a", "a", "b"], ["t1", "t2", "t3", "t4"],
                       np.vstack([a, b]).astype(np.float32))
    people = people_of(partition)
    assert len(people) == 2 and people.composition() == {1: 1, 3: 1}
    hit = people.search(fuse(a), k=1)[0]
    assert (hit.subject_id, hit.pictures) == ("a", 3) and hit.distance < 1e-3
    partition.remove_templates({"t1"})  # the view follows the partition
    assert people.composition() == {1: 1, 2: 1}
    expected = float(np.linalg.norm(unit(fuse(a[1:])) - unit(fuse(a))))
    assert people.search(fuse(a), k=1)[0].distance == pytest.approx(expected, abs=1e-5)


def test_score_tables_from_labelled_templates_are_ordered() -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(40, 16))
    vectors = np.repeat(centres, 5, axis=0) + 0.6 * rng.normal(size=(200, 16))
    tables = measure_tables(vectors, np.repeat(np.arange(40), 5))
    assert set(tables) == {1, 2, 3}
    for table in tables.values():
        few, many = table.fpir_grid(1), table.fpir_grid(30)
        assert np.all(np.diff(few) >= 0) and np.all(many >= few) and many[-1] > few[0]
    assert tables[3].fnmr(0.8) <= tables[1].fnmr(0.8)
    # the shipped tables: genuine comparisons sit nearer than impostors, and fusing three
    # pictures misses fewer people where 5% of strangers would be named by one person
    shipped = load_calibration(*_ids()).tables
    at = GRID[int(np.argmax(shipped[1].fpir_grid(1) > 0.05))]
    assert shipped[3].fnmr(at) < shipped[1].fnmr(at) < 0.05


def test_calibration_from_a_labelled_folder_is_a_file_the_engine_loads(
        tmp_path: Path, lfw: Path, data_dir: Path, engine: DlibEngine) -> None:
    """``faceguard calibrate`` on a few LFW people: the file loads, and identification runs
    on its tables."""
    root = tmp_path / "people"
    for folder in people_with(lfw, 4, 12):
        (root / folder.name).mkdir(parents=True)
        for picture in images_of(folder)[:4]:
            (root / folder.name / picture.name).symlink_to(picture)
    out = tmp_path / "calibration.json"
    result = CliRunner().invoke(main, ["calibrate", str(root), "--out", str(out), "--workers",
                                       "1", "--json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert (made["people"], made["pictures"]) == (12, 48)
    loaded = load_calibration_file(out, engine.engine_id)
    assert set(loaded.tables) == {1, 2, 3}
    assert loaded.tables[1].probes == 48 - made["pictures_without_face"]
    with pytest.raises(ConfigError):
        load_calibration_file(out, "onnx:other")
    with Faceguard.open(data_dir, engine=engine, calibration=out) as fg:
        assert fg.calibration.tables is not None
        assert fg.calibration.tables[3] == loaded.tables[3]


def _ids() -> tuple[str, str]:
    engine = DlibEngine()
    return engine.engine_id.split(":")[0], engine.engine_id


def test_check_reports_the_expected_rates_and_warns_naming_remedies() -> None:
    deployment = parse_deployment(TEST_DEPLOYMENT)
    fine = IdentificationOutlook("access-control", 900, 3.0, True, True, 0.0099, 0.12, 0.12)
    poor = IdentificationOutlook("attendance", 900, 1.0, True, True, 0.0099, 0.45, 0.2)
    result = check_deployment(deployment, DeploymentFacts(identification=(fine, poor)))
    r17 = [w for w in result.warnings if w.rule == "R17"]
    assert [w.kind for w in r17] == ["REPORT", "REPORT", "WARN"]
    assert "FNIR 12.0%" in r17[0].detail and "'purposes.access-control.fpir'" in r17[0].detail
    assert "attendance" in r17[2].detail
    for remedy in ("more pictures per person", "card or PIN", "stronger engine"):
        assert remedy in r17[2].detail


# ---- through the library, on real faces -------------------------------------------------


def _people(lfw: Path, engine: DlibEngine, count: int) -> list[tuple[str, list[bytes], bytes]]:
    """People with two single-face enrollment pictures and a probe."""
    from faceguard.engine.imaging import decode_image

    out = []
    for folder in people_with(lfw, 4, count + 4):
        files = images_of(folder)
        single = [f for f in files[:-1]
                  if len(engine.detect(decode_image(f.read_bytes()))) == 1]
        if len(single) >= 2:
            out.append((folder.name, [single[0].read_bytes(), single[1].read_bytes()],
                        files[-1].read_bytes()))
        if len(out) == count:
            break
    assert len(out) == count
    return out


def _gallery(data_dir: Path, engine: DlibEngine, lfw: Path, purpose_keys: str,
             count: int = 3) -> tuple[Faceguard, list[tuple[str, list[bytes], bytes]]]:
    deployment = TEST_DEPLOYMENT.replace("retention_days = 30\n",
                                         "retention_days = 30\n" + purpose_keys)
    go_live(data_dir, deployment, engine)
    fg = Faceguard.open(data_dir, engine=engine)
    fg.consent.publish_notice("attendance")
    cast = _people(lfw, engine, count)
    for name, pictures, _ in cast:
        fg.consent.grant(name, "attendance", name="x", method="click", evidence="e")
        fg.enroll(name, pictures, "attendance")
    return fg, cast


def test_a_doubtful_answer_goes_to_review(data_dir: Path, engine: DlibEngine,
                                          lfw: Path) -> None:
    """An FPIR the calibration cannot vouch for makes nothing automatic: the person's own
    face, within the doubtful band, goes to a person with the candidates (R17)."""
    fg, cast = _gallery(data_dir, engine, lfw, "fpir = 1e-12\ndoubt_fpir = 0.5\n")
    with fg:
        name, _, probe = cast[0]
        result = fg.identify(probe, "attendance")
        assert result.decision == "needs-review" and result.external_id is None
        assert result.candidates[0] == name
        assert result.reason is not None and result.reason.startswith("R17")
        event = fg._store.audit.events(operation="face.identified", newest_first=True,
                                        limit=1)[0]
        assert (event.outcome, event.rules) == ("needs-review", ("R1", "R3", "R17"))
        assert event.detail["people"] == 3 and event.detail["decided"] == "doubtful"


def test_a_doubtful_answer_may_be_declared_unknown(data_dir: Path, engine: DlibEngine,
                                                   lfw: Path) -> None:
    fg, cast = _gallery(data_dir, engine, lfw,
                        'fpir = 1e-12\ndoubt_fpir = 0.5\non_doubt = "unknown"\n')
    with fg:
        result = fg.identify(cast[0][2], "attendance")
        assert result.decision == "unknown" and result.candidates == ()
        event = fg._store.audit.events(operation="face.identified", newest_first=True,
                                        limit=1)[0]
        assert (event.outcome, event.rules) == ("unknown", ("R1", "R3", "R17"))


def test_the_gallery_counted_in_people_matches_automatically(
        data_dir: Path, engine: DlibEngine, lfw: Path) -> None:
    """Two pictures each, default FPIR 1%: the members match, the check reports the
    expected rates for the three people enrolled (not six templates)."""
    fg, cast = _gallery(data_dir, engine, lfw, "")
    with fg:
        assert [fg.identify(probe, "attendance").external_id for _, _, probe in cast] == [
            name for name, _, _ in cast]
        report = [w.detail for w in fg.governance.check().warnings
                  if w.rule == "R17" and "'attendance'" in w.detail]
        assert len(report) == 1 and "3 people enrolled (2.0 pictures each" in report[0]


def test_a_doubt_band_below_the_fpir_is_refused() -> None:
    bad = TEST_DEPLOYMENT.replace("retention_days = 30\n",
                                  "retention_days = 30\nfpir = 0.05\ndoubt_fpir = 0.01\n")
    with pytest.raises(Exception, match="doubt_fpir"):
        parse_deployment(bad)


def test_an_engine_without_tables_cannot_identify() -> None:
    from faceguard.engine.calibration import Calibration
    from faceguard.index.decision import identification_thresholds

    shipped = load_calibration(*_ids())
    bare = Calibration(shipped.engine, shipped.points, {})
    with pytest.raises(PolicyError) as err:
        identification_thresholds(bare, {1: 3}, RULE)
    assert err.value.rule == "R17"


def test_eval_identify_reports_the_issue_keys_and_draws_the_det(
        tmp_path: Path, lfw: Path) -> None:
    """``faceguard eval-identify`` on a few LFW people: the figures the issue lists, through
    the product's pipeline, and the DET curve as a PNG."""
    root = tmp_path / "people"
    members = people_with(lfw, 3, 5)
    for person in members:
        (root / person.name).mkdir(parents=True)
        for picture in images_of(person)[:3]:
            (root / person.name / picture.name).symlink_to(picture)
    singles = [p for p in sorted(lfw.iterdir()) if len(images_of(p)) == 1][:3]
    for person in singles:
        (root / person.name).mkdir()
        (root / person.name / images_of(person)[0].name).symlink_to(images_of(person)[0])
    plot = tmp_path / "det.png"
    result = CliRunner().invoke(main, ["--data", str(tmp_path / "none"), "eval-identify",
                                       str(root), "--workers", "1", "--plot", str(plot),
                                       "--face", "centre", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"gallery", "mated", "strangers", "fpir", "fnir", "rank1", "needs_review",
            "fnir_at_fpir"} <= set(report)
    assert (report["gallery"], report["mated"], report["strangers"]) == (5, 10, 3)
    assert set(report["fnir_at_fpir"]) == {"0.01", "0.001"}
    assert 0 <= report["fpir"] <= 1 and report["rank1"] >= 0.8
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_distractors_enlarge_the_gallery_and_leave_the_strangers_apart(tmp_path: Path) -> None:
    """``eval-identify --distractors N``: N single-picture people enrolled with no probe, drawn
    the same way every run, and never searched as strangers."""
    from faceguard.index.evaluation import split_folder

    for name, count in [("a", 3), ("b", 2), ("c", 4)] + [(f"s{n}", 1) for n in range(6)]:
        (tmp_path / name).mkdir()
        for k in range(count):
            (tmp_path / name / f"{name}_{k}.jpg").write_bytes(b"")
    plain = split_folder(tmp_path, 1)
    assert sorted(plain.gallery) == ["a", "b", "c"] and len(plain.strangers) == 6
    split = split_folder(tmp_path, 1, distractors=4)
    drawn = set(split.gallery) - {"a", "b", "c"}
    assert len(split.gallery) == 7 and len(drawn) == 4
    assert all(len(split.gallery[name]) == 1 for name in drawn)
    assert {p.parent.name for p in split.strangers} == {f"s{n}" for n in range(6)} - drawn
    assert split.mated == plain.mated
    assert split_folder(tmp_path, 1, distractors=4) == split
    with pytest.raises(ConfigError, match="only 6 people with a single picture"):
        split_folder(tmp_path, 1, distractors=6)
