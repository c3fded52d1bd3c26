"""Is the player getting better? First check-up against the latest, per emotion, with a bootstrap
confidence interval. Pure (numpy only); the History page's Progress view and the study export use it.

The interval resamples the trials of each check-up independently (percentile bootstrap, BOOTSTRAP_DRAWS
draws, a fixed seed so the page shows the same numbers on every visit). With 2 trials per emotion per
check-up an interval is wide, and the sentence says so: no claim beyond what the numbers show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from facematch import EMOTIONS

BOOTSTRAP_DRAWS = 2000
# Below this many trials on either side a percentile bootstrap is unreliable (two equal trials give an
# interval of width 0): no verdict, however large the change. A check-up has 2 trials per emotion, so
# one emotion's row never claims a change; the row of all emotions (14 trials a side) can.
MIN_TRIALS = 5
LEVEL = 0.95
ALL = "all emotions"


def bootstrap_interval(first: Sequence[float], latest: Sequence[float], draws: int = BOOTSTRAP_DRAWS,
                       level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of mean(latest) - mean(first), each sample resampled on its own."""
    a, b = np.asarray(first, float), np.asarray(latest, float)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both samples need at least one value")
    rng = np.random.default_rng(seed)
    diffs = (rng.choice(b, (draws, len(b))).mean(1) - rng.choice(a, (draws, len(a))).mean(1))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Change:
    emotion: str  # an emotion, or ALL
    first: float  # mean score at the first check-up
    latest: float
    low: float  # the interval of latest - first
    high: float
    first_n: int  # trials behind each mean
    latest_n: int

    @property
    def change(self) -> float:
        return self.latest - self.first

    @property
    def enough(self) -> bool:
        return min(self.first_n, self.latest_n) >= MIN_TRIALS

    @property
    def distinguishable(self) -> bool:
        return self.enough and (self.low > 0 or self.high < 0)

    def sentence(self) -> str:
        if not self.enough:
            return (f"{self.change:+.0f} points from {self.first_n} and {self.latest_n} trials: too few to tell a "
                    f"change from noise (at least {MIN_TRIALS} a side; see all emotions together).")
        span = (f"{LEVEL:.0%} interval {self.low:+.0f} to {self.high:+.0f}, "
                f"{self.first_n} and {self.latest_n} trials")
        if self.low > 0:
            return f"Up {self.change:.0f} points ({span}): more than chance alone would give."
        if self.high < 0:
            return f"Down {-self.change:.0f} points ({span}): more than chance alone would give."
        return (f"{self.change:+.0f} points, but the interval includes no change ({span}): "
                "not distinguishable from noise yet.")


def checkups(rows: Iterable[Mapping], mode: str = "checkup") -> list[list[Mapping]]:
    """The player's check-ups (rows grouped by session), oldest first."""
    sessions: dict[str, list[Mapping]] = {}
    for row in rows:
        if row["mode"] == mode:
            sessions.setdefault(row["session_id"], []).append(row)
    return sorted(sessions.values(), key=lambda trials: min(str(r["played_at"]) for r in trials))


def compare(first: Sequence[Mapping], latest: Sequence[Mapping], seed: int = 0) -> list[Change]:
    """Per emotion present in both check-ups, then ALL (every trial pooled)."""
    out = []
    for emotion in (*EMOTIONS, ALL):
        a = [float(r["score"]) for r in first if emotion in (ALL, r["target"])]
        b = [float(r["score"]) for r in latest if emotion in (ALL, r["target"])]
        if a and b:
            low, high = bootstrap_interval(a, b, seed=seed)
            out.append(Change(emotion, float(np.mean(a)), float(np.mean(b)), low, high, len(a), len(b)))
    return out


def first_vs_latest(rows: Iterable[Mapping], seed: int = 0) -> list[Change]:
    """The first check-up against the latest; [] with fewer than two check-ups."""
    sessions = checkups(rows)
    return compare(sessions[0], sessions[-1], seed) if len(sessions) >= 2 else []
