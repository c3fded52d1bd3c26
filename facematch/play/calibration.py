"""Calibration: the player's own resting face, so the coach does not count a resting smile or frown
as expression. Pure: the caller passes the time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

CALIBRATION_S = 3.0  # how long the player holds a neutral face
CALIBRATION_MIN_FRAMES = 5  # blendshape readings needed for a baseline
CALIBRATION_TIMEOUT_S = 12.0  # give up (no face seen) after this long


@dataclass(frozen=True)
class Baseline:
    """A player's neutral face: the median of each blendshape, and what the judge read meanwhile."""

    blendshapes: dict[str, float]
    probabilities: dict[str, float]  # mean emotion probabilities over the same frames
    frames: int


def baseline_from(readings: Sequence[tuple[Mapping[str, float], Sequence[float]]],
                  emotions: Sequence[str]) -> Baseline:
    """The baseline of (blendshapes, probabilities) readings of one face holding still; the median resists blinks."""
    if not readings:
        raise ValueError("no face readings to calibrate from")
    names = sorted({name for shapes, _ in readings for name in shapes})
    shapes = {name: float(median(float(r[0].get(name, 0.0)) for r in readings)) for name in names}
    probs = [sum(float(r[1][i]) for r in readings) / len(readings) for i in range(len(emotions))]
    return Baseline(shapes, dict(zip(emotions, probs)), len(readings))


class Calibration:
    """Collects one player's readings while they hold a neutral face; pure (the caller passes the time).

    Done after CALIBRATION_S seconds with at least CALIBRATION_MIN_FRAMES readings; failed when
    CALIBRATION_TIMEOUT_S pass without enough (no face in view).
    """

    def __init__(self, started_at: float, emotions: Sequence[str]):
        self.started_at, self.emotions = started_at, tuple(emotions)
        self.readings: list[tuple[dict[str, float], tuple[float, ...]]] = []

    def add(self, blendshapes: Mapping[str, float], probabilities: Sequence[float], now: float) -> None:
        if not self.done(now) and not self.failed(now):
            self.readings.append((dict(blendshapes), tuple(float(p) for p in probabilities)))

    def progress(self, now: float) -> float:
        """0..1 of the time the player must hold still."""
        return min(max((now - self.started_at) / CALIBRATION_S, 0.0), 1.0)

    def done(self, now: float) -> bool:
        return now - self.started_at >= CALIBRATION_S and len(self.readings) >= CALIBRATION_MIN_FRAMES

    def failed(self, now: float) -> bool:
        return not self.done(now) and now - self.started_at >= CALIBRATION_TIMEOUT_S

    def baseline(self) -> Baseline:
        return baseline_from(self.readings, self.emotions)
