"""Game rules as pure functions: smoothing, matching, scoring, sessions. No Streamlit here.

A round asks for one target emotion. Every analysed frame gives the target's
probability p (0 when no face is seen). The game smooths p over time with an
exponential moving average whose time constant is `smoothing_s`, so one noisy frame
moves the smoothed value only a little whatever the frame rate. The round is
matched once the smoothed value has stayed at or above `threshold` for `hold_s`
seconds without a break; it ends then, or when `duration_s` runs out.

Score of a round (0-100):
- matched: 50 + 30 · speed + 20 · peak, where speed = 1 - (time when the player first
  reached the threshold, for good) / duration and peak is the highest smoothed
  probability of the round;
- not matched: up to 49, in proportion to how close the peak came to the threshold.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from facematch import EMOTIONS
from facematch.config import round_seconds

EMOJI = {"angry": "😠", "disgust": "🤢", "fear": "😨", "happy": "😄",
         "sad": "😢", "surprise": "😮", "neutral": "😐"}
TIPS = {
    "angry": "Lower and pull your eyebrows together, glare, press your lips tight.",
    "disgust": "Wrinkle your nose and raise your upper lip, as if something smells bad.",
    "fear": "Raise your eyebrows and pull them together, open your eyes wide, stretch your lips back.",
    "happy": "Smile with your whole face: lift your cheeks until your eyes crinkle.",
    "sad": "Raise the inner ends of your eyebrows, pull the corners of your mouth down.",
    "surprise": "Raise your eyebrows high, open your eyes wide and drop your jaw.",
    "neutral": "Relax every muscle in your face and look straight at the camera.",
}


@dataclass(frozen=True)
class RoundRules:
    duration_s: float = 10.0
    threshold: float = 0.5
    hold_s: float = 0.5
    smoothing_s: float = 0.3
    ceiling: float = 1.0  # the match must also stay at or below this (a slight face: levels' "control it")

    def __post_init__(self):
        if self.duration_s <= 0:
            raise ValueError("duration_s must be positive")
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        if not self.threshold < self.ceiling <= 1 and self.ceiling != 1:
            raise ValueError("ceiling must be above the threshold and at most 1")
        if self.hold_s < 0 or self.smoothing_s < 0:
            raise ValueError("hold_s and smoothing_s must not be negative")


@dataclass(frozen=True)
class RoundState:
    target: int  # index into EMOTIONS
    started_at: float  # monotonic seconds
    last_t: float | None = None
    smoothed: float = 0.0
    above_since: float | None = None  # when the smoothed value last rose to the threshold
    peak: float = 0.0
    frames: int = 0
    face_frames: int = 0
    time_to_match: float | None = None  # seconds from the start; set when matched
    finished: bool = False

    @property
    def matched(self) -> bool:
        return self.time_to_match is not None

    @property
    def target_name(self) -> str:
        return EMOTIONS[self.target]

    def remaining(self, rules: RoundRules, now: float) -> float:
        return max(0.0, rules.duration_s - (now - self.started_at))


def default_rules() -> RoundRules:
    """The rules a new player starts with: RoundRules' defaults, the round length from FACEMATCH_ROUND_SECONDS."""
    seconds = round_seconds()
    return RoundRules(duration_s=seconds) if seconds and seconds > 0 else RoundRules()


def new_round(target: int | str, started_at: float) -> RoundState:
    index = EMOTIONS.index(target) if isinstance(target, str) else int(target)
    if not 0 <= index < len(EMOTIONS):
        raise ValueError(f"target must be one of {EMOTIONS}, got {target!r}")
    return RoundState(target=index, started_at=started_at)


def smooth(previous: float, value: float, dt: float, time_constant: float) -> float:
    """Exponential moving average for irregular frame times: weight 1 - exp(-dt / tau)."""
    if time_constant <= 0:
        return value
    alpha = 1.0 - math.exp(-max(dt, 0.0) / time_constant)
    return previous + alpha * (value - previous)


def advance(state: RoundState, rules: RoundRules, now: float, probs: Sequence[float] | None) -> RoundState:
    """The round after one analysed frame at time `now`; probs is None when no face was seen."""
    if state.finished:
        return state
    if now - state.started_at >= rules.duration_s:
        return replace(state, finished=True)
    p = 0.0 if probs is None else float(probs[state.target])
    if not math.isfinite(p):
        p = 0.0
    p = min(max(p, 0.0), 1.0)
    # The smoothed value starts at 0 when the round starts, so even a first frame cannot jump it.
    since = state.last_t if state.last_t is not None else state.started_at
    smoothed = smooth(state.smoothed, p, now - since, rules.smoothing_s)
    in_band = rules.threshold <= smoothed <= rules.ceiling
    above_since = (state.above_since if state.above_since is not None else now) if in_band else None
    state = replace(state, last_t=now, smoothed=smoothed, above_since=above_since,
                    peak=max(state.peak, smoothed), frames=state.frames + 1,
                    face_frames=state.face_frames + (probs is not None))
    if above_since is not None and now - above_since >= rules.hold_s:
        return replace(state, time_to_match=above_since - state.started_at, finished=True)
    return state


def expire(state: RoundState, rules: RoundRules, now: float) -> RoundState:
    """End the round if its time is up, even when no frame arrives (camera stalled)."""
    if not state.finished and now - state.started_at >= rules.duration_s:
        return replace(state, finished=True)
    return state


def round_score(state: RoundState, rules: RoundRules) -> int:
    if state.matched:
        speed = 1.0 - min(max(state.time_to_match / rules.duration_s, 0.0), 1.0)
        return round(50 + 30 * speed + 20 * state.peak)
    return round(49 * min(state.peak / rules.threshold, 1.0))


def snapshot_round(target: int | str, probs: Sequence[float] | None, rules: RoundRules, now: float = 0.0):
    """Score one still photo (no webcam stream): matched if the target reaches the threshold.

    There is no time to measure, so speed counts as 0.5 (half the speed bonus).
    """
    state = new_round(target, now)
    p = 0.0 if probs is None else min(max(float(probs[state.target]), 0.0), 1.0)
    if not math.isfinite(p):
        p = 0.0
    matched = p >= rules.threshold
    state = replace(state, last_t=now, smoothed=p, peak=p, frames=1, face_frames=int(probs is not None),
                    time_to_match=rules.duration_s / 2 if matched else None, finished=True)
    return state, round_score(state, rules)


def session_targets(seed: int | None = None, emotions: Sequence[str] = EMOTIONS) -> list[int]:
    """Each emotion once, shuffled (a fixed seed gives a fixed order)."""
    targets = [EMOTIONS.index(e) for e in emotions]
    random.Random(seed).shuffle(targets)
    return targets


def shuffle_apart(items: Sequence, rng: random.Random, tries: int = 200) -> list:
    """The items shuffled so that no item follows an equal one (reshuffled up to `tries` times; with
    several kinds of item, as the emotions are, that is found within a few)."""
    out = list(items)
    for _ in range(tries):
        rng.shuffle(out)
        if all(a != b for a, b in zip(out, out[1:])):
            break
    return out


@dataclass(frozen=True)
class SessionSummary:
    rounds: int
    matched: int
    total: int
    best_emotion: str | None
    worst_emotion: str | None

    @property
    def average(self) -> float:
        return self.total / self.rounds if self.rounds else 0.0


def summarize_session(results: Sequence[tuple[str, int, bool]]) -> SessionSummary:
    """results: (emotion, score, matched) per finished round."""
    if not results:
        return SessionSummary(0, 0, 0, None, None)
    ranked = sorted(results, key=lambda r: r[1])
    return SessionSummary(rounds=len(results), matched=sum(bool(r[2]) for r in results),
                          total=sum(r[1] for r in results), best_emotion=ranked[-1][0], worst_emotion=ranked[0][0])
