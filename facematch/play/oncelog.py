"""A log for code that runs on every video frame: each kind of error once, then only counted."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("facematch.play")


class OnceLog:
    """Logs each kind of error once (with its traceback), then only counts it.

    The video callback must never raise (that kills the stream) and runs 15-30 times a second:
    a failing frame is passed through untouched, and a per-frame log line would drown the log.
    """

    def __init__(self, where: str):
        self.where = where
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def exception(self, exc: BaseException) -> None:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            first = self.counts[kind] == 1
        if first:
            log.error("%s failed (%s); later errors of this kind are counted, not logged", self.where, kind,
                      exc_info=exc)
