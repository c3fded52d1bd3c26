"""State shared between the WebRTC video callback and the Streamlit script. No Streamlit here.

Threads: `on_frame` runs in streamlit-webrtc's frame-processing thread, everything
else in the Streamlit script thread. They share only this object, and every access
goes through its lock. It keeps the latest result, not a queue: the script draws at
its own pace and never falls behind the video. The round advances on every analysed
frame (in the callback thread), so smoothing and hold times see the full frame rate.
Each browser session owns its own LiveSession (st.session_state): players share nothing.

With several seats (Duel), each seat's face (see vision.assign_seats) advances that seat's
own round state; the round ends for everyone as soon as one seat matches.

The coach: the callback asks `wants_blendshapes` before analysing a frame; a few times a second
(every frame while calibrating) the answer is yes and the frame's faces carry blendshapes,
which feed each seat's RoundCoach (or the Calibration) here, under the same lock.

The best moment: whenever a seat's smoothed probability of the target reaches a new peak, a small
copy of that seat's face is kept (MOMENT_PX high); drive() hands it to the session with the round.
In memory only: nothing of it is written anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

import cv2
import numpy as np

from facematch import EMOTIONS
from facematch.play.calibration import Baseline, Calibration
from facematch.play.coach import CoachView, RoundCoach
from facematch.play.faces import FrameResult, assign_seats
from facematch.play.rules import RoundRules, RoundState, advance, expire, new_round

COACH_EVERY_S = 0.2  # blendshapes 5 times a second: the landmarker costs ~2.5 frame steps
MOMENT_PX = 120  # the best moment's height in pixels: enough to see the face, small in memory
_SLACK_S = 0.01  # frame times jitter: at 15 fps every 3rd frame is "0.2 s" later, give or take


@dataclass(frozen=True)
class CalibrationStatus:
    progress: float  # 0..1 of the hold time
    readings: int
    done: bool
    failed: bool


@dataclass(frozen=True)
class LiveSnapshot:
    result: FrameResult | None  # latest analysed frame, None before the first
    frames: int  # frames analysed so far
    rounds: tuple[RoundState, ...] | None  # one per seat; None between rounds
    coach: tuple[CoachView, ...] | None = None  # one per seat, with the rounds; None when the coach is off
    calibration: CalibrationStatus | None = None  # while a neutral-face calibration runs
    best: tuple[np.ndarray | None, ...] | None = None  # per seat, the face at the round's peak so far (BGR)

    @property
    def round(self) -> RoundState | None:
        """The first seat's round (the only one outside Duel)."""
        return self.rounds[0] if self.rounds else None

    @property
    def finished(self) -> bool:
        return bool(self.rounds) and self.rounds[0].finished


class LiveSession:
    def __init__(self, rules: RoundRules, seats: int = 1, coach: bool = True):
        if seats < 1:
            raise ValueError("seats must be at least 1")
        self._lock = threading.Lock()
        self._rules = rules
        self.seats = seats
        self._result: FrameResult | None = None
        self._frames = 0
        self._rounds: tuple[RoundState, ...] | None = None
        self._coach_on = coach
        self._coaches: tuple[RoundCoach, ...] | None = None
        self._neutral: list[dict[str, float] | None] = [None] * seats
        self._calibration: Calibration | None = None
        self._blendshapes_at = float("-inf")
        self._best: list[np.ndarray | None] = [None] * seats

    # -- called from the video callback thread ---------------------------------
    def wants_blendshapes(self, now: float, every_s: float = COACH_EVERY_S) -> bool:
        """Should the frame arriving at `now` be measured for the coach? (Says yes at most every `every_s`.)"""
        with self._lock:
            if self._calibration is not None:
                return True
            if not self._coach_on or self._rounds is None or self._rounds[0].finished:
                return False
            if now - self._blendshapes_at < every_s - _SLACK_S:
                return False
            self._blendshapes_at = now
            return True

    def on_frame(self, result: FrameResult, now: float) -> None:
        with self._lock:
            self._result = result
            self._frames += 1
            if self._calibration is not None:
                face = result.primary
                if face is not None and face.blendshapes is not None:
                    self._calibration.add(face.blendshapes, face.probs, now)
                return
            if self._rounds is None or self._rounds[0].finished:
                return
            faces = assign_seats(result, self.seats)
            if self._coaches is not None:
                for coach, face in zip(self._coaches, faces):
                    if face is not None and face.blendshapes is not None:
                        coach.update(face.blendshapes, now)
            rounds = tuple(advance(state, self._rules, now, None if face is None else face.probs)
                           for state, face in zip(self._rounds, faces))
            for seat, (before, after, face) in enumerate(zip(self._rounds, rounds, faces)):
                if face is not None and face.image is not None and face.image.size and (
                        after.peak > before.peak or self._best[seat] is None):
                    self._best[seat] = thumbnail(face.image)
            if any(r.finished for r in rounds):  # a match (or the timer) ends the round for every seat
                rounds = tuple(replace(r, finished=True) for r in rounds)
            self._rounds = rounds

    @property
    def target(self) -> str | None:
        with self._lock:
            active = self._rounds is not None and not self._rounds[0].finished
            return self._rounds[0].target_name if active else None

    # -- called from the script thread -----------------------------------------
    @property
    def rules(self) -> RoundRules:
        return self._rules

    def set_rules(self, rules: RoundRules) -> None:
        with self._lock:
            self._rules = rules

    def set_coach(self, on: bool) -> None:
        with self._lock:
            self._coach_on = on

    def set_neutral(self, seat: int, blendshapes: Mapping[str, float] | None) -> None:
        """The seat's resting face (calibration); the coach measures from it from the next round on."""
        with self._lock:
            self._neutral[seat] = dict(blendshapes) if blendshapes else None

    def start_round(self, target: int | str, now: float) -> None:
        with self._lock:
            self._rounds = (new_round(target, now),) * self.seats
            self._best = [None] * self.seats
            name = self._rounds[0].target_name
            self._coaches = tuple(RoundCoach(name, self._neutral[seat]) for seat in range(self.seats))

    def stop_round(self) -> None:
        with self._lock:
            self._rounds = None
            self._coaches = None

    def start_calibration(self, now: float) -> None:
        """Pause the round and collect the first seat's neutral face (see coach.Calibration)."""
        with self._lock:
            self._rounds, self._coaches = None, None
            self._calibration = Calibration(now, EMOTIONS)

    def finish_calibration(self, now: float) -> Baseline | None:
        """The baseline once the calibration is done (it then ends); None while it runs or after it failed."""
        with self._lock:
            calibration = self._calibration
            if calibration is None or not (calibration.done(now) or calibration.failed(now)):
                return None
            self._calibration = None
            return calibration.baseline() if calibration.done(now) else None

    def snapshot(self, now: float) -> LiveSnapshot:
        with self._lock:
            if self._rounds is not None:
                self._rounds = tuple(expire(r, self._rules, now) for r in self._rounds)
            coach = None
            if self._coach_on and self._coaches is not None:
                coach = tuple(c.view() for c in self._coaches)
            calibration = None
            if self._calibration is not None:
                c = self._calibration
                calibration = CalibrationStatus(c.progress(now), len(c.readings), c.done(now), c.failed(now))
            best = tuple(self._best) if self._rounds is not None else None
            return LiveSnapshot(self._result, self._frames, self._rounds, coach, calibration, best)


def thumbnail(face: np.ndarray) -> np.ndarray:
    """A small copy (MOMENT_PX high) of a face crop, so the frame it came from is not kept alive."""
    height, width = face.shape[:2]
    scale = MOMENT_PX / max(1, height)
    size = (max(1, round(width * scale)), MOMENT_PX)
    return cv2.resize(face, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def drive(session, live: LiveSession, now: float) -> list:
    """One tick of the page loop: start the session's current round, or score a finished one and start the next.

    Returns the RoundRecords of a round that finished (to be saved), else []. The round itself
    advances in the video thread (on_frame); this only moves between rounds.
    """
    snap = live.snapshot(now)
    records = []
    if snap.calibration is not None:
        return records  # the round waits while the player calibrates
    if snap.rounds is not None and snap.round.target_name != session.current_target:
        live.stop_round()  # a round of another session (or of one that is over): not scored here
    elif snap.rounds is not None and snap.finished:
        held_back = [None] * len(snap.rounds)
        if snap.coach is not None:
            held_back = [view.held_back[0] if view.held_back else None for view in snap.coach]
        records = session.finish_round(snap.rounds, live.rules, held_back=held_back, best=snap.best)
        live.stop_round()
    if live.snapshot(now).rounds is None and not session.over:
        live.start_round(session.current_target, now)
    return records
