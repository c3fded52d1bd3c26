"""Native libraries stay quiet unless asked.

LiteRT and MediaPipe write INFO and WARNING lines straight to file descriptor 2 from C++ (model
loaded, accelerators registered, `DestroyAccelerator` at exit), past Python's logging and past
every environment variable they document. `quiet()` puts a filter between fd 2 and the terminal: a
pipe whose reader thread passes every line on except those native chatter lines, so a player's
terminal and a command's output carry only what Facematch and its errors say. FACEMATCH_LOG=debug
(or `--verbose`) leaves fd 2 alone.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

from facematch.config import log_level

# Lines native code writes on its own: glog/absl's "I0000 …"/"W0000 …" (errors, E and F, pass),
# TFLite's and LiteRT's "INFO: …", and absl's note that logging started before InitGoogle().
CHATTER = re.compile(rb"^(?:[IW]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\]|INFO: |"
                     rb"WARNING: (?:Logging before InitGoogle|All log messages before absl::InitializeLog))")
_installed = False


def quiet(verbose: bool = False) -> None:
    """Filter native chatter out of fd 2 for the rest of the process (once; a no-op when asked to speak)."""
    global _installed
    if _installed or verbose or log_level() == "DEBUG":
        return
    _installed = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow itself (the pipeline) does read this
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe, os.fdopen(terminal, "wb", buffering=0) as out:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out.write(b"".join(line + b"\n" for line in lines if not CHATTER.match(line)))
            if pending and not CHATTER.match(pending):
                out.write(pending)

    reader = threading.Thread(target=forward, name="facematch-native-logs", daemon=True)
    reader.start()
    restored = []

    def restore() -> None:
        """Give fd 2 back to the terminal, after the reader has passed on everything written so far.

        Registered with threading's exit hooks, which run in reverse order: MediaPipe's tasks, made
        later, close first (that is when LiteRT says DestroyAccelerator), then this."""
        if restored:
            return
        restored.append(True)
        sys.stderr.flush()
        saved = os.dup(terminal) if reader.is_alive() else None
        if saved is None:
            return
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees its end and stops
        os.close(saved)
        reader.join(timeout=2)

    getattr(threading, "_register_atexit", atexit.register)(restore)
    atexit.register(restore)  # where threading's hooks are gone (or never ran), at the very end
