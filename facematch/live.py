"""State shared between the WebRTC video callback and the Streamlit script. No Streamlit here.

Threads: `on_frame` runs in streamlit-webrtc's frame-processing thread, everything
else in the Streamlit script thread. They share only this object, and every access
goes through its lock. It keeps the latest result, not a queue: the script draws at
its own pace and never falls behind the video. The round advances on every analysed
frame (in the callback thread), so smoothing and hold times see the full frame rate.
Each browser session owns its own LiveSession (st.session_state): players share nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from facematch.game import RoundRules, RoundState, advance, expire, new_round
from facematch.vision import FrameResult


@dataclass(frozen=True)
class LiveSnapshot:
    result: FrameResult | None  # latest analysed frame, None before the first
    result_at: float  # monotonic time of that frame
    frames: int  # frames analysed so far
    round: RoundState | None


class LiveSession:
    def __init__(self, rules: RoundRules):
        self._lock = threading.Lock()
        self._rules = rules
        self._result: FrameResult | None = None
        self._result_at = 0.0
        self._frames = 0
        self._round: RoundState | None = None

    # -- called from the video callback thread ---------------------------------
    def on_frame(self, result: FrameResult, now: float) -> None:
        with self._lock:
            self._result, self._result_at = result, now
            self._frames += 1
            if self._round is not None and not self._round.finished:
                face = result.primary
                self._round = advance(self._round, self._rules, now, None if face is None else face.probs)

    @property
    def target(self) -> str | None:
        with self._lock:
            active = self._round is not None and not self._round.finished
            return self._round.target_name if active else None

    # -- called from the script thread -----------------------------------------
    @property
    def rules(self) -> RoundRules:
        return self._rules

    def set_rules(self, rules: RoundRules) -> None:
        with self._lock:
            self._rules = rules

    def start_round(self, target: int | str, now: float) -> None:
        with self._lock:
            self._round = new_round(target, now)

    def stop_round(self) -> None:
        with self._lock:
            self._round = None

    def snapshot(self, now: float) -> LiveSnapshot:
        with self._lock:
            if self._round is not None:
                self._round = expire(self._round, self._rules, now)
            return LiveSnapshot(self._result, self._result_at, self._frames, self._round)
