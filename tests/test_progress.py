"""The progress bars' time left (issue 15: "off by 10x"), on a controlled clock.

The two shapes of the long commands: an evaluation whose cache holds most pictures (counted
at once, then the rest extracted after the workers start), and one without a cache (workers
and models take seconds to start before the first picture is done). Click's own estimate is
run on the same clock to show the error it makes; ``Rate`` is within a few per cent.
"""

from __future__ import annotations

import io

import click
import pytest

from faceguard.cli.progress import Rate, progress_bar


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _click_eta(monkeypatch: pytest.MonkeyPatch, clock: Clock, total: int,
               steps: list[tuple[float, int]]) -> float:
    """Click's own estimate after ``steps`` (seconds to wait, items then done)."""
    import click._termui_impl as impl

    monkeypatch.setattr(impl.time, "time", clock)
    with click.progressbar(length=total, file=io.StringIO()) as bar:
        for wait, n in steps:
            clock.now += wait
            bar.update(n)
        eta: float = bar.eta
    return eta


def _steps_with_cache() -> list[tuple[float, int]]:
    # 9,000 of 10,000 pictures in the cache; 10 s to start the workers; then 10 a second
    return [(0.0, 9000), (10.0, 1)] + [(0.1, 1)] * 299


def _steps_cold() -> list[tuple[float, int]]:
    # no cache; 10 s to start the workers and load the models; then 10 a second
    return [(10.0, 1)] + [(0.1, 1)] * 99


def _rate(steps: list[tuple[float, int]], total: int, clock: Clock) -> Rate:
    rate = Rate(total, clock=clock)
    for wait, n in steps:
        clock.now += wait
        rate.add(n)
    return rate


def test_a_cache_hit_at_the_start_does_not_make_the_work_look_fast(
        monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _steps_with_cache()
    truth = (10_000 - 9_300) * 0.1  # 700 left, 0.1 s each
    rate = _rate(steps, 10_000, Clock())
    left = rate.remaining()
    assert left is not None and abs(left - truth) / truth < 0.02, left
    assert rate.text() == "time left: 0:01:10"
    click_left = _click_eta(monkeypatch, Clock(), 10_000, steps)
    assert click_left < truth / 10  # what the issue saw: click says 1/10 or less


def test_the_start_up_before_the_first_item_does_not_make_it_look_slow(
        monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _steps_cold()
    truth = (1_000 - 100) * 0.1
    left = _rate(steps, 1_000, Clock()).remaining()
    assert left is not None and abs(left - truth) / truth < 0.02, left
    click_left = _click_eta(monkeypatch, Clock(), 1_000, steps)
    assert click_left > 1.5 * truth  # click spreads the 10 s start over the first items


def test_the_estimate_follows_a_change_of_pace() -> None:
    clock = Clock()
    rate = Rate(2_000, clock=clock)
    for _ in range(300):  # 30 s at 10 a second
        clock.now += 0.1
        rate.add(1)
    for _ in range(200):  # then 40 s at 5 a second: the window (30 s) holds only these
        clock.now += 0.2
        rate.add(1)
    left = rate.remaining()
    assert left is not None and abs(left - 1_500 * 0.2) / (1_500 * 0.2) < 0.02, left


def test_nothing_is_claimed_before_a_rate_is_measured() -> None:
    clock = Clock()
    rate = Rate(10, clock=clock)
    assert rate.remaining() is None and rate.text() == "time left: measuring"
    rate.add(5)  # one update: a starting point only
    assert rate.remaining() is None
    clock.now += 1.0
    rate.add(1)  # the second update is the new starting point
    assert rate.remaining() is None
    clock.now += 1.0
    rate.add(2)
    assert rate.remaining() == pytest.approx(1.0)  # 2 left at 2 a second


def test_the_bar_counts_what_the_callback_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(3, "testing") as update:
        for _ in range(3):
            update(1)
    assert "testing" in capsys.readouterr().err
