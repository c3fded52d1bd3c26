"""One analysis thread for every player's video: callbacks hand over their newest frame and never
wait long for the judge. No Streamlit here.

The serving pattern of inference servers, on one machine:
- each player (a key) has one slot holding only their newest frame not yet analysed; a frame
  that is still waiting when a newer one arrives is dropped (stale), never queued;
- the worker thread takes every waiting slot at once, finds the faces frame by frame, classifies
  the faces of all those players in one batch (FrameAnalyzer.analyze_many), and publishes each
  player's own result to that player's slot and `on_result` (LiveSession.on_frame);
- a video callback waits up to `wait_s` for the result of its own frame: with few players it comes
  in time and the frame goes back annotated with its own analysis (as when the callback analysed
  it itself); under load it goes back at once with the player's latest result, so the video keeps
  its frame rate while each player's analyses per second degrade evenly (every waiting player is
  served once per worker cycle: nobody starves);
- with two or more players the thread works at most a share of the time (ANALYSIS_SHARE), resting
  after each cycle: the rest is the video's.

Threads: `analyze()` runs in each player's streamlit-webrtc callback thread, `_run` in the worker
thread; they share only the slots, under one condition variable. `on_result` runs in the worker
thread and must be thread-safe (LiveSession is lock-guarded).

Lifecycle: the first frame handed over starts the worker thread (or `start()`, or `with worker:`);
it ends by itself once the last player has been gone for IDLE_FORGET_S, and the next player starts
a new one; `stop()` ends it at once and joins it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from facematch.play.faces import FrameResult
from facematch.play.frames import I420Frame
from facematch.play.litert import usable_cores
from facematch.play.vision import FrameAnalyzer

WAIT_S = 0.05  # how long a video callback waits for its own frame's analysis (a frame step is ~5 ms)
IDLE_FORGET_S = 30.0  # a player whose video stopped this long ago is forgotten
ACTIVE_S = 2.0  # a player who handed over a frame this recently counts as playing
# The analysis thread's share of the time of each core the app may use, while two or more players play:
# after a cycle of d seconds it rests so that it works at most ANALYSIS_SHARE × cores of the time (all of it,
# at 3 cores and more). The rest is the video's: receiving, decoding, encoding and sending each player's
# video costs ~0.08 core per player (the echo app, docs/operations.md), Streamlit more. A lone player's every
# frame is analysed, as before (there is no one else's video to keep going). Wall time, not the thread's own
# CPU: that misses the judge's other LiteRT threads and MediaPipe's graph threads, and on a full machine
# made both the video shown and the analyses worse (tried: docs/operations.md).
ANALYSIS_SHARE = 0.4
# The live judge's extra views, if its spec plays any (the mirror image cost +1.6 ms per face), are
# for 1-2 players; with more, one pass per face: measured with 8 players, 2 views cut the video sent
# from 14.4 to 12.8 fps and the analyses from 5.4 to 3.9 per player per second.
MIRROR_MAX_PLAYERS = 2
STATS_EVERY_S = 1.0  # how often the stats file (FACEMATCH_STATS_FILE, for scripts/load_test.py) is rewritten


def shared_interval(every_s: float, players: int) -> float:
    """How often to do per-player extras (the coach's landmarker, the live panel's redraws) when
    `players` share the machine: every `every_s` for 1-2 players, then stretched in proportion, so
    8 players do them a quarter as often. The video and its per-frame label are not stretched."""
    return every_s * max(1.0, players / 2)


@dataclass
class _Slot:
    frame: np.ndarray | I420Frame | None = None  # newest frame not yet taken by the worker
    frame_seq: int = 0  # sequence number of the newest frame handed in
    blendshapes: bool = False
    on_result: Callable[[FrameResult, float], None] | None = None
    submitted_at: float = 0.0
    result: FrameResult | None = None  # latest published result
    result_seq: int = 0  # the frame it belongs to
    seen_at: float = 0.0
    analysed: int = 0
    dropped: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=300))


@dataclass(frozen=True)
class _Taken:
    """A frame the worker took out of a player's slot, with what it needs to publish the result."""

    key: Hashable
    frame: np.ndarray | I420Frame
    seq: int
    blendshapes: bool
    on_result: Callable[[FrameResult, float], None] | None
    submitted_at: float


@dataclass(frozen=True)
class PlayerStats:
    analysed: int  # frames analysed
    dropped: int  # frames replaced by a newer one before the worker took them
    latency_ms_p50: float  # hand-over to published result


class AnalysisWorker:
    def __init__(self, analyzer: FrameAnalyzer, wait_s: float = WAIT_S, max_batch: int = 16,
                 max_rate: float | None = None, stats_path: str | None = None, share: float | None = None):
        self.analyzer, self.wait_s, self.max_batch = analyzer, wait_s, max_batch
        self.max_rate = max_rate  # analyses per second, all players together (None: only the time share)
        cores = usable_cores()
        self.share = min(1.0, share if share is not None else ANALYSIS_SHARE * cores)
        self.stats_path = stats_path
        self._slots: dict[Hashable, _Slot] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._served = False  # whether the running thread has had a player (it ends when they have all left)
        self._stats_at = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> AnalysisWorker:
        """Start the worker thread (if it is not running)."""
        with self._changed:
            self._stopping = False
            self._start_locked()
        return self

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="facematch-analysis", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the worker thread and wait for it; frames handed over later start it again."""
        with self._changed:
            self._stopping = True
            thread = self._thread
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self._changed:
            self._stopping = False

    @property
    def running(self) -> bool:
        with self._changed:
            return self._thread is not None

    def __enter__(self) -> AnalysisWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- called from the video callback threads ---------------------------------------------------
    def analyze(self, key: Hashable, image: np.ndarray | I420Frame, blendshapes: bool = False,
                on_result: Callable[[FrameResult, float], None] | None = None,
                wait_s: float | None = None) -> FrameResult | None:
        """Hand over the player's newest frame (a BGR array or an I420Frame); returns the freshest
        result for this player: this frame's if it is ready within `wait_s`, else the latest one
        (None before the first)."""
        now = time.monotonic()
        deadline = now + (self.wait_s if wait_s is None else wait_s)
        with self._changed:
            self._start_locked()
            self._served = True
            slot = self._slots.setdefault(key, _Slot())
            if slot.frame is not None:
                slot.dropped += 1  # the previous frame was never taken: stale now
            slot.frame_seq += 1
            seq = slot.frame_seq
            slot.frame, slot.blendshapes, slot.on_result = image, blendshapes, on_result
            slot.submitted_at = slot.seen_at = now
            self._changed.notify_all()
            while slot.result_seq < seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return slot.result

    def active_players(self) -> int:
        """Players whose video handed over a frame in the last ACTIVE_S seconds."""
        cutoff = time.monotonic() - ACTIVE_S
        with self._changed:
            return sum(1 for s in self._slots.values() if s.seen_at >= cutoff)

    def stats(self) -> dict[Hashable, PlayerStats]:
        with self._changed:
            return self._stats_locked()

    def _stats_locked(self) -> dict[Hashable, PlayerStats]:
        return {key: PlayerStats(s.analysed, s.dropped, float(np.median(s.latencies_ms)) if s.latencies_ms else 0.0)
                for key, s in self._slots.items()}

    # -- the worker thread ---------------------------------------------------------------------------
    def _take(self) -> list[_Taken] | None:
        """Wait for frames and take them (oldest hand-over first, so a cut at max_batch is fair);
        None when the thread should end: stop() was called, or every player it served has left."""
        with self._changed:
            while not self._stopping and not any(s.frame is not None for s in self._slots.values()):
                self._forget_idle()
                self._write_stats_locked()
                if self._served and not self._slots:
                    break
                self._changed.wait(STATS_EVERY_S)
            if self._stopping or (self._served and not self._slots):
                self._thread, self._served = None, False  # the next frame handed over starts a new thread
                return None
            waiting = sorted((s.submitted_at, key) for key, s in self._slots.items() if s.frame is not None)
            batch = []
            for _, key in waiting[: self.max_batch]:
                slot = self._slots[key]
                batch.append(_Taken(key, slot.frame, slot.frame_seq, slot.blendshapes, slot.on_result,
                                    slot.submitted_at))
                slot.frame = None
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            cycle_started = time.monotonic()
            # Outside the lock: callbacks keep handing over frames while the batch is analysed.
            # Beyond MIRROR_MAX_PLAYERS the judge plays one pass per face.
            players = self.active_players()
            views = None if players <= MIRROR_MAX_PLAYERS else "none"
            results = [result for _, result in self.analyzer.results(
                [t.frame for t in batch], [t.blendshapes for t in batch], views)]
            done = time.monotonic()
            for taken, result in zip(batch, results):
                if taken.on_result is not None:
                    try:
                        taken.on_result(result, done)
                    except Exception as exc:  # a broken consumer must not stop every player's analysis
                        self.analyzer.errors.exception(exc)
            with self._changed:
                for taken, result in zip(batch, results):
                    slot = self._slots.get(taken.key)
                    if slot is None:
                        continue
                    slot.result, slot.result_seq = result, taken.seq
                    slot.analysed += 1
                    slot.latencies_ms.append((done - taken.submitted_at) * 1000)
                self._write_stats_locked()
                self._changed.notify_all()
            # Stay within the budget: with two or more players the thread works at most `share` of the
            # time, and a cycle of k analyses takes at least k / max_rate seconds. Frames handed over
            # meanwhile replace each other, so each player's newest one is analysed next.
            worked = time.monotonic() - cycle_started
            least = worked / self.share if players >= 2 else worked
            if self.max_rate is not None:
                least = max(least, len(batch) / self.max_rate)
            if least > worked:
                time.sleep(least - worked)

    def _forget_idle(self) -> None:
        cutoff = time.monotonic() - IDLE_FORGET_S
        for key in [k for k, s in self._slots.items() if s.seen_at < cutoff and s.frame is None]:
            del self._slots[key]

    def _write_stats_locked(self) -> None:
        """Every player's stats as JSON to stats_path, atomically, at most every STATS_EVERY_S."""
        now = time.monotonic()
        if self.stats_path is None or now - self._stats_at < STATS_EVERY_S:
            return
        self._stats_at = now
        data = {str(id(key)): vars(s) for key, s in self._stats_locked().items()}
        partial = f"{self.stats_path}.partial"
        with open(partial, "w") as f:
            json.dump({"time": time.time(), "players": data}, f)
        os.replace(partial, self.stats_path)
