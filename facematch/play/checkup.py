"""Check-ups: feedback-free probes of making faces, scored by the independent judge. No Streamlit here.

A check-up asks for each emotion TRIALS_PER_EMOTION times, TRIAL_S seconds each, after READY_S to
get ready, with nothing shown that could teach: no coach, no probability, no score, no mirror face,
no label in the video. Its scores come from the independent judge (facematch.play.independent),
which the game never trains against, so a rise in them is a rise in how others' eyes would read the
player's faces, not in how well the player pleases our judge. Each trial also stores the coach's
distance from the target's recipe (coach.recipe_distance, from the player's calibrated resting face).

A trial's score: the independent judge's probability of the target, averaged over the best
SCORE_WINDOW_S of the trial (a face held for a moment, not one lucky frame), as 0-100.

Threads: CheckupRecorder.on_frame runs in the analysis thread (via the worker, like
LiveSession.on_frame); everything else in the script thread; they share only the recorder, under
its lock. It keeps, while a trial runs, a small gray copy of the face SAMPLE_EVERY_S (the judge's
input size) and the blendshapes the landmarker measured: in memory only, dropped when scored.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from facematch import EMOTIONS
from facematch.play.classifier import to_gray_size
from facematch.play.coach import recipe_distance
from facematch.play.faces import FrameResult
from facematch.play.history import RoundRecord
from facematch.play.progress import checkups
from facematch.play.rules import shuffle_apart

MODE = "checkup"
TRIALS_PER_EMOTION = 2
READY_S, TRIAL_S = 2.0, 5.0  # ~1 min 40 s for 14 trials
SCORE_WINDOW_S = 1.0
SAMPLE_EVERY_S = 0.2  # faces judged per trial: ~25
BLENDSHAPES_EVERY_S = 0.2


def plan_checkup(rng: random.Random | None = None, per_emotion: int = TRIALS_PER_EMOTION) -> list[str]:
    """Every emotion `per_emotion` times, shuffled, never the same twice in a row."""
    rng = rng or random.Random()
    return shuffle_apart(list(EMOTIONS) * per_emotion, rng)


def checkup_due(rows: Iterable[Mapping], today: date) -> bool:
    """Offered at a player's first session, then at most once a day: due unless one was finished today
    (a check-up counts once all its trials are saved)."""
    for trials in checkups(rows, MODE):
        if len(trials) >= len(EMOTIONS) * TRIALS_PER_EMOTION and any(
                str(r.get("local_date") or "") == today.isoformat() for r in trials):
            return False
    return True


def best_window_mean(samples: Sequence[tuple[float, float]], window_s: float = SCORE_WINDOW_S) -> float:
    """The highest mean of the values within any `window_s` span of (time, value) samples (0 if none)."""
    best, start = 0.0, 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] > window_s:
            start += 1
        values = [v for _, v in samples[start:end + 1]]
        best = max(best, sum(values) / len(values))
    return best


@dataclass(frozen=True)
class TrialTake:
    """What the recorder collected during one trial."""

    times: tuple[float, ...]
    faces: np.ndarray  # (n, S, S) uint8 gray, the independent judge's input size
    blendshapes: tuple[Mapping[str, float], ...]


class CheckupRecorder:
    """The check-up's side of the video: the webcam's `live` object while a check-up runs (no label is
    drawn: `target` is always None). Thread-safe."""

    seats = 1
    target = None  # the video carries no label during a check-up

    def __init__(self, face_size: int):
        self.face_size = face_size
        self._lock = threading.Lock()
        self._recording = False
        self._times: list[float] = []
        self._faces: list[np.ndarray] = []
        self._shapes: list[Mapping[str, float]] = []
        self._shapes_at = float("-inf")
        self.face_seen_at = float("-inf")

    # -- called from the video callback and analysis threads -------------------------------------
    def wants_blendshapes(self, now: float, every_s: float = BLENDSHAPES_EVERY_S) -> bool:
        with self._lock:
            if not self._recording or now - self._shapes_at < every_s - 0.01:
                return False
            self._shapes_at = now
            return True

    def on_frame(self, result: FrameResult, now: float) -> None:
        face = result.primary
        with self._lock:
            if face is None:
                return
            self.face_seen_at = now
            if not self._recording:
                return
            if face.blendshapes is not None:
                self._shapes.append(dict(face.blendshapes))
            if face.image is not None and face.image.size and (
                    not self._times or now - self._times[-1] >= SAMPLE_EVERY_S - 0.01):
                self._times.append(now)
                self._faces.append(to_gray_size(face.image[None], self.face_size)[0])

    # -- called from the script thread -----------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._recording = True
            self._times, self._faces, self._shapes = [], [], []

    @property
    def recording(self) -> bool:
        with self._lock:
            return self._recording

    def take(self) -> TrialTake:
        """Stop recording and hand over what was collected (the recorder keeps nothing of it)."""
        with self._lock:
            self._recording = False
            faces = np.stack(self._faces) if self._faces else np.zeros((0, self.face_size, self.face_size), np.uint8)
            take = TrialTake(tuple(self._times), faces, tuple(self._shapes))
            self._times, self._faces, self._shapes = [], [], []
            return take

    def sees_face(self, now: float, within_s: float = 1.0) -> bool:
        with self._lock:
            return now - self.face_seen_at <= within_s


@dataclass(frozen=True)
class TrialResult:
    target: str
    score: int  # 0-100: the independent judge's best 1-s mean probability of the target
    faces: int  # faces judged
    recipe_distance: float | None  # the closest the coach saw the face come to the recipe; None: no readings


def score_trial(target: str, take: TrialTake, judge, neutral: Mapping[str, float] | None = None) -> TrialResult:
    """A trial's score from what was recorded: `judge` is the independent judge (predict(faces) → (n, 7))."""
    column = EMOTIONS.index(target)
    probs = judge.predict(take.faces) if len(take.faces) else np.zeros((0, len(EMOTIONS)), np.float32)
    score = best_window_mean(list(zip(take.times, probs[:, column].tolist())))
    distances = [recipe_distance(target, shapes, neutral) for shapes in take.blendshapes]
    return TrialResult(target, round(100 * score), len(take.faces), round(min(distances), 4) if distances else None)


@dataclass
class CheckupSession:
    """One check-up: READY_S to get ready for each emotion, TRIAL_S to show it, then the next. Pure:
    the page passes the time; `tick` says when to start recording and when a trial is to be scored."""

    player: str
    trials: list[str]
    judge_id: str
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    results: list[TrialResult] = field(default_factory=list)
    started_at: float | None = None  # the current trial's get-ready moment

    @property
    def over(self) -> bool:
        return len(self.results) >= len(self.trials)

    @property
    def current(self) -> str | None:
        return None if self.over else self.trials[len(self.results)]

    def phase(self, now: float) -> tuple[str, float]:
        """("ready" | "show" | "score" | "over", seconds left in that phase)."""
        if self.over:
            return "over", 0.0
        if self.started_at is None:
            self.started_at = now
        elapsed = now - self.started_at
        if elapsed < READY_S:
            return "ready", READY_S - elapsed
        if elapsed < READY_S + TRIAL_S:
            return "show", READY_S + TRIAL_S - elapsed
        return "score", 0.0

    def finish_trial(self, result: TrialResult) -> RoundRecord:
        """Keep a scored trial and move on; returns the row to save."""
        index = len(self.results)
        self.results.append(result)
        self.started_at = None
        return RoundRecord(player=self.player, session_id=self.session_id, round_index=index, target=result.target,
                           score=result.score, matched=result.score >= 50, time_to_match=None,
                           peak_probability=result.score / 100, model_id=self.judge_id, mode=MODE, level=1,
                           recipe_distance=result.recipe_distance)

    def by_emotion(self) -> dict[str, float]:
        """The mean score of each emotion's trials so far."""
        scores: dict[str, list[int]] = {}
        for r in self.results:
            scores.setdefault(r.target, []).append(r.score)
        return {e: sum(v) / len(v) for e, v in scores.items()}
