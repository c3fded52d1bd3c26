"""State shared between the WebRTC video callback and the Streamlit script. No Streamlit here.

Threads: `on_frame` runs in streamlit-webrtc's frame-processing thread, everything
else in the Streamlit script thread. They share only this object, and every access
goes through its lock. It keeps the latest result, not a queue: the script draws at
its own pace and never falls behind the video. The round advances on every analysed
frame (in the callback thread), so smoothing and hold times see the full frame rate.
Each browser session owns its own LiveSession (st.session_state): players share nothing.

With several seats (Duel), each seat's face (see vision.assign_seats) advances that seat's
own round state; the round ends for everyone as soon as one seat matches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from facematch.play.rules import RoundRules, RoundState, advance, expire, new_round
from facematch.play.vision import FrameResult, assign_seats


@dataclass(frozen=True)
class LiveSnapshot:
    result: FrameResult | None  # latest analysed frame, None before the first
    frames: int  # frames analysed so far
    rounds: tuple[RoundState, ...] | None  # one per seat; None between rounds

    @property
    def round(self) -> RoundState | None:
        """The first seat's round (the only one outside Duel)."""
        return self.rounds[0] if self.rounds else None

    @property
    def finished(self) -> bool:
        return bool(self.rounds) and self.rounds[0].finished


class LiveSession:
    def __init__(self, rules: RoundRules, seats: int = 1):
        if seats < 1:
            raise ValueError("seats must be at least 1")
        self._lock = threading.Lock()
        self._rules = rules
        self.seats = seats
        self._result: FrameResult | None = None
        self._frames = 0
        self._rounds: tuple[RoundState, ...] | None = None

    # -- called from the video callback thread ---------------------------------
    def on_frame(self, result: FrameResult, now: float) -> None:
        with self._lock:
            self._result = result
            self._frames += 1
            if self._rounds is None or self._rounds[0].finished:
                return
            faces = assign_seats(result, self.seats)
            rounds = tuple(advance(state, self._rules, now, None if face is None else face.probs)
                           for state, face in zip(self._rounds, faces))
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

    def start_round(self, target: int | str, now: float) -> None:
        with self._lock:
            self._rounds = (new_round(target, now),) * self.seats

    def stop_round(self) -> None:
        with self._lock:
            self._rounds = None

    def snapshot(self, now: float) -> LiveSnapshot:
        with self._lock:
            if self._rounds is not None:
                self._rounds = tuple(expire(r, self._rules, now) for r in self._rounds)
            return LiveSnapshot(self._result, self._frames, self._rounds)


def drive(session, live: LiveSession, now: float) -> list:
    """One tick of the page loop: start the session's current round, or score a finished one and start the next.

    Returns the RoundRecords of a round that finished (to be saved), else []. The round itself
    advances in the video thread (on_frame); this only moves between rounds.
    """
    snap = live.snapshot(now)
    records = []
    if snap.rounds is not None and snap.round.target_name != session.current_target:
        live.stop_round()  # a round of another session (or of one that is over): not scored here
    elif snap.rounds is not None and snap.finished:
        records = session.finish_round(snap.rounds, live.rules)
        live.stop_round()
    if live.snapshot(now).rounds is None and not session.over:
        live.start_round(session.current_target, now)
    return records
