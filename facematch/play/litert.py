"""One LiteRT interpreter, safe to share between threads: the runtime of both judges. No TensorFlow."""

from __future__ import annotations

import os
import threading

import numpy as np

_CHUNK = 64  # images per interpreter call


class LiteRTNetwork:
    """A LiteRT flatbuffer with a dynamic batch dimension, run in chunks under a lock.

    A LiteRT interpreter must not be invoked from two threads at once, so calls hold a lock. One
    instance is shared by all sessions of the app: a call is a few milliseconds, far below the
    frame interval, so the lock costs little. ValueError or RuntimeError if it cannot be loaded.
    """

    def __init__(self, content: bytes, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        # Calls are serialised by the lock, so each call may use every core this process may run on (a
        # server pinned to one core with taskset: one thread, not threads taking turns on it).
        threads = num_threads or min(4, usable_cores())
        self._interpreter = Interpreter(model_content=content, num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape"][1:])

    @property
    def outputs(self) -> int:
        return int(self._output["shape"][-1])

    def run(self, x: np.ndarray) -> np.ndarray:
        outputs = []
        with self._lock:
            for start in range(0, len(x), _CHUNK):
                chunk = np.ascontiguousarray(x[start:start + _CHUNK])
                if len(chunk) != self._batch:
                    self._interpreter.resize_tensor_input(self._input["index"], chunk.shape)
                    self._interpreter.allocate_tensors()
                    self._batch = len(chunk)
                self._interpreter.set_tensor(self._input["index"], chunk)
                self._interpreter.invoke()
                outputs.append(self._interpreter.get_tensor(self._output["index"]).copy())
        return np.concatenate(outputs)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
