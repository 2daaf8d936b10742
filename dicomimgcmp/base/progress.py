"""A stage's progress: a bar on a terminal, and a line in the log every 5%."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tqdm import tqdm

from dicomimgcmp.base.log import log


class StageProgress:
    """One stage's progress: a tqdm bar with counts and rate on a terminal, and a log line each time another 5%
    is done, with the estimated time left (when the total is known)."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.start, self.next_step = time.monotonic(), 1
        self._bar = tqdm(total=total, desc=label, unit="item", disable=None, leave=False)

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def set_total(self, total: int) -> None:
        """The total, once it is known (the index stage's, when the walk ends)."""
        self.total = self._bar.total = total
        self._bar.refresh()
        self.update(0)

    def update(self, n: int) -> None:
        self._bar.update(n)
        self.done += n  # its own count: a disabled bar (no terminal) counts nothing
        done, total = self.done, self.total
        if not total or not done or done * 20 < self.next_step * total:
            return
        self.next_step = done * 20 // total + 1
        elapsed = time.monotonic() - self.start
        left = elapsed * (total - done) / done
        log.info("%s: %d of %d (%d%%), %s elapsed, about %s left", self.label, done, total, 100 * done // total,
                 tqdm.format_interval(elapsed), tqdm.format_interval(left))


@dataclass
class Progress:
    """How far a run got (what an interrupted run reports)."""

    stage: str = "starting"
    done: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        finished = "; ".join(self.done) if self.done else "nothing"
        return f"stopped while {self.stage}; finished: {finished}"


class StageClock:
    """Wall time of each stage, for the log (the benchmark reads it)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = self._start = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = now - self._last
        self._last = now

    def __str__(self) -> str:
        total = self._last - self._start
        return " ".join(f"{k}={v:.3f}s" for k, v in self.laps.items()) + f" total={total:.3f}s"
