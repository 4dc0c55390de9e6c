"""Progress bars whose time left comes from the rate the work is going at now.

Click's own estimate divides the time since the bar appeared by the items done, and
multiplies by the items left. Two things the long commands do make that wrong by an order of
magnitude: items found in a cache (``--cache``) are counted at once at the start, so the
work looks ten or a hundred times faster than it is; and the seconds spent starting worker
processes and loading models before the first item is done are spread over the few items
done so far, so the work looks several times slower than it is, for minutes.

``Rate`` measures instead: the items done over the time they took, within the last
``window`` seconds, from the second update on. The first update (a cache's hits counted at
once, or the first item after the start-up) and the time before the second (the start-up
after a cache's hits) are not measured. The bar is click's, with this estimate in place of
its own.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

#: How far back the rate looks: long enough to smooth the bursts of a pool's chunks, short
#: enough to follow a change of pace (a slower second half of a data set).
WINDOW_SECONDS = 30.0


class Rate:
    """Items done over time; ``remaining`` is the time left at the measured rate."""

    def __init__(self, total: int, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._updates = 0

    def add(self, n: int) -> None:
        """``n`` more items are done now."""
        self.done += n
        now = self._clock()
        self._updates += 1
        if self._updates == 2:  # measure from here: see the module's documentation
            self._samples.clear()
        self._samples.append((now, self.done))
        # keep one sample at or before the window's start, to measure across all of it
        while len(self._samples) > 2 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()

    def per_second(self) -> float | None:
        """Items a second over the window, or ``None`` before there is a span to measure."""
        if len(self._samples) < 2:
            return None
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        if end <= start or last <= first:
            return None
        return (last - first) / (end - start)

    def remaining(self) -> float | None:
        """Seconds left at the measured rate (``None``: not measured yet)."""
        rate = self.per_second()
        if rate is None:
            return None
        return max(self.total - self.done, 0) / rate

    def text(self) -> str:
        left = self.remaining()
        if left is None:
            return "time left: measuring"
        minutes, seconds = divmod(int(round(left)), 60)
        hours, minutes = divmod(minutes, 60)
        return f"time left: {hours:d}:{minutes:02d}:{seconds:02d}"


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A bar on standard error for ``total`` items; yields the callback that counts them."""
    rate = Rate(total)
    def shown(_item: int | None) -> str:
        return rate.text()

    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=False,
                           item_show_func=shown) as bar:
        def update(n: int) -> None:
            rate.add(n)
            bar.update(n)

        yield update
