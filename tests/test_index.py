"""The exact index agrees with brute force, removes at once, and batches probes."""

from __future__ import annotations

import numpy as np
import pytest

from faceguard.index.partition import Partition


def gallery(n: int, seed: int = 0) -> tuple[Partition, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0, 0.1, (n, 128)).astype(np.float32)
    part = Partition(128, "test-engine")
    part.add_many([f"s{i // 2}" for i in range(n)], [f"t{i}" for i in range(n)], vectors)
    return part, vectors


def test_nearest_match_brute_force() -> None:
    part, vectors = gallery(1000)
    rng = np.random.default_rng(1)
    for probe in rng.normal(0, 0.1, (20, 128)).astype(np.float32):
        brute = np.sqrt(((vectors - probe) ** 2).sum(1))
        best = part.search(probe, k=1)[0]
        assert best.template_id == f"t{int(np.argmin(brute))}"
        assert best.distance == pytest.approx(float(brute.min()), abs=1e-4)


def test_one_candidate_per_subject_in_distance_order() -> None:
    part, vectors = gallery(200)
    found = part.search(vectors[10], k=5)
    assert found[0].subject_id == "s5" and found[0].distance == pytest.approx(0, abs=1e-3)
    assert len({c.subject_id for c in found}) == 5
    assert [c.distance for c in found] == sorted(c.distance for c in found)


def test_batched_probes_equal_single_probes() -> None:
    part, vectors = gallery(500)
    probes = vectors[:17] + 0.01
    batch = part.search_many(probes, k=3)
    single = [part.search(p, k=3) for p in probes]
    assert [[c.template_id for c in r] for r in batch] == [[c.template_id for c in r]
                                                           for r in single]
    for b, s in zip(batch, single, strict=True):
        assert [c.distance for c in b] == pytest.approx([c.distance for c in s], abs=1e-4)
    # within a threshold: the batch picks each probe's hits from one comparison
    limit = float(np.median([r[1].distance for r in single]))
    near = part.search_many(probes, k=3, max_distance=limit)
    assert [[c.template_id for c in r] for r in near] == [
        [c.template_id for c in part.search(p, k=3, max_distance=limit)] for p in probes]
    assert all(c.distance <= limit for r in near for c in r)
    assert any(len(r) < 3 for r in near) and any(len(r) >= 2 for r in near)


def test_removed_subjects_are_never_returned_even_after_compaction() -> None:
    part, vectors = gallery(100)
    assert part.remove_subject("s3") == 2
    assert all(c.subject_id != "s3" for c in part.search(vectors[6], k=50))
    for s in range(0, 40):
        part.remove_subject(f"s{s}")
    assert len(part) == 20
    found = part.search(vectors[99], k=50)
    assert {c.subject_id for c in found} == {f"s{i}" for i in range(40, 50)}
    assert found[0].template_id == "t99"
    assert part.remove_templates({"t99"}) == 1
    after = part.search(vectors[99], k=50)
    assert "t99" not in {c.template_id for c in after}
    assert [c.template_id for c in after if c.subject_id == "s49"] == ["t98"]


def test_removed_rows_stay_out_within_a_threshold_and_in_batches() -> None:
    part, vectors = gallery(300)
    part.remove_templates({"t7"})
    # t7 is the probe itself (distance 0); its subject's other template t6 is further away
    near = part.search(vectors[7], k=3, max_distance=10.0)
    assert "t7" not in {c.template_id for c in near}
    assert part.search_many(vectors[7:8], k=3, max_distance=0.01) == [[]]
    for s in range(150):
        part.remove_subject(f"s{s}")
    assert len(part) == 0
    assert part.search(vectors[0], k=5) == [] and part.search_many(vectors[:2]) == [[], []]


def test_empty_partition_and_bad_shapes() -> None:
    part = Partition(128, "e")
    assert part.search(np.zeros(128, np.float32)) == []
    with pytest.raises(ValueError, match=r"\(n, 128\)"):
        part.add_many(["s"], ["t"], np.zeros((1, 64), np.float32))


def test_binary_first_stage_agrees_with_exact_search_and_skips_removed() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.05, 0.1, (20_000, 128)).astype(np.float32)
    part = Partition(128, "e")
    part.add_many([f"s{i}" for i in range(len(base))], [f"t{i}" for i in range(len(base))],
                  base)
    probes = base[:200] + rng.normal(0, 0.02, (200, 128)).astype(np.float32)
    exact = [part.search(p, k=1)[0].template_id for p in probes]
    fast = [part.search_binary(p, k=1, shortlist=300)[0].template_id for p in probes]
    assert exact == fast
    part.remove_subject("s0")
    assert part.search_binary(probes[0], k=1, shortlist=300)[0].subject_id != "s0"


def test_adding_nothing_leaves_an_empty_partition() -> None:
    part = Partition(128, "e")
    part.add_many([], [], np.zeros((0, 128), np.float32))
    assert len(part) == 0 and part.search_binary(np.zeros(128, np.float32)) == []


def test_ids_of_any_length_come_back_whole() -> None:
    """IDs are kept as fixed-width bytes; a longer ID than any before widens the column."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(0, 0.1, (4, 128)).astype(np.float32)
    part = Partition(128, "e")
    part.add_many(["a", "b"], ["t1", "t2"], vectors[:2])
    long_subject, long_template = "s_" + "9f" * 16, "t_" + "0e" * 16 + "\u00e9"
    part.add_many([long_subject, "b"], [long_template, "t3"], vectors[2:])
    found = part.search(vectors[2], k=1)[0]
    assert (found.subject_id, found.template_id) == (long_subject, long_template)
    assert part.search(vectors[0], k=1)[0].template_id == "t1"
    assert part.remove_subject(long_subject) == 1 and part.remove_subject("b") == 2
    assert part.remove_templates({"t1", "never-added"}) == 1
    assert len(part) == 0
