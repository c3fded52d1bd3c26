"""What every page shares: the models, the analysis worker and the store, loaded once per server
process; and each browser session's own objects (st.session_state)."""

from __future__ import annotations

import logging
import threading
import time

import streamlit as st

from facematch.config import retention_days, stats_file
from facematch.errors import FacematchError
from facematch.play.history import HistoryStore, open_store
from facematch.play.vision import FrameAnalyzer
from facematch.play.worker import AnalysisWorker, shared_interval

PANEL_REFRESH_S = 0.2  # the live panel redraws 5 times a second (1-2 players; less often with more)


# -- shared resources: loaded lazily, once per server process --------------------------------
# No cached function shows its own spinner: a spinner is an element only on the run that loads, so
# the elements after it (the WebRTC component among them) would move on the next run, remount and
# drop the stream of a START clicked right after the page loaded. load_analyzer_or_stop says it in
# a slot that every run has.
@st.cache_resource(show_spinner=False)
def get_analyzer():
    # One analyzer for all sessions: detector and classifier each serialise their calls with a
    # lock, and one frame step takes a few ms, so sharing costs less than a model per player.
    return FrameAnalyzer()


@st.cache_resource(show_spinner=False)
def get_worker():
    # One analysis thread for every player's video (facematch/play/worker.py): callbacks hand over
    # frames, the worker batches the faces of all players into one classifier call. Its thread
    # starts with the first player's frame and ends once the last player has left.
    return AnalysisWorker(get_analyzer(), stats_path=stats_file())


def panel_pause() -> float:
    """How long the live panel waits between redraws. Each redraw is a Streamlit message that every
    player's browser renders; measured with 8 players on this 2-core machine, redrawing at 5 Hz cut
    the returned video to 5-6 fps and at 1 Hz it kept 9 (scripts/load_test.py), so it slows down
    as players join while the label drawn into the video itself stays per frame."""
    return shared_interval(PANEL_REFRESH_S, get_worker().active_players())


log = logging.getLogger(__name__)
RETENTION_EVERY_S = 3600
_retention = {"last": None}  # when this server process last applied FACEMATCH_RETENTION_DAYS (monotonic s)


@st.cache_resource(show_spinner=False)
def _open_store() -> HistoryStore:
    # One per server process: with PostgreSQL it holds the connection pool every session shares.
    return open_store()


def get_store() -> HistoryStore:
    """The history; with FACEMATCH_RETENTION_DAYS set, older rows are deleted at the first use and hourly after."""
    store = _open_store()
    days, now = retention_days(), time.monotonic()
    if days and (_retention["last"] is None or now - _retention["last"] >= RETENTION_EVERY_S):
        _retention["last"] = now
        try:
            removed = store.purge_older_than(days)
        except FacematchError as exc:
            log.warning("Retention not applied: %s", exc)
        else:
            log.info("Retention: %d rows older than %d days deleted", removed, days)
    return store


def per_browser(key: str, make):
    """This browser session's object under `key` (st.session_state), made on first use only."""
    if key not in st.session_state:
        st.session_state[key] = make()
    return st.session_state[key]


_loaded = threading.Event()  # set once this server process has its models


def load_analyzer_or_stop():
    """The shared analyzer; its first load (a few seconds) is announced in a slot every run of the page has."""
    slot = st.empty()
    if not _loaded.is_set():
        slot.info("⏳ Loading the face detector and the emotion model…")
    try:
        analyzer = get_analyzer()
    except FacematchError as exc:
        slot.error(f"**Facematch cannot start its models.** {exc}")
        st.stop()
    _loaded.set()
    slot.empty()
    return analyzer
