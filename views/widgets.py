"""What every play mode draws or shares: cached models and store, texts, the probability chart,
the live panel and the webcam streamer. Game logic lives in facematch.play, not here."""

from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st

from facematch import EMOTIONS
from facematch.config import ice_servers, stats_file
from facematch.errors import FacematchError
from facematch.play.coach import Baseline, CoachView, Gauge
from facematch.play.history import HistoryStore, RoundRecord, StoredBaseline, open_store
from facematch.play.rules import EMOJI, TIPS
from facematch.play.session import PlaySession

# Plain words in the video component when the camera cannot be used.
CAMERA_MESSAGES = {
    "device_not_available": "No camera found. Connect one and press START again, "
                            "or choose Snapshot (no camera) mode in the sidebar.",
    "device_access_denied": "Camera access was denied. Allow the camera for this page in your browser's "
                            "address bar and press START again, or choose Snapshot (no camera) mode.",
    "media_api_not_available": "This browser cannot use a camera on this page (it needs HTTPS or localhost). "
                               "Choose Snapshot (no camera) mode in the sidebar.",
}
PANEL_REFRESH_S = 0.2  # the live panel redraws 5 times a second (1-2 players; less often with more)


# -- shared resources: loaded lazily, once per server process --------------------------------
@st.cache_resource(show_spinner="Loading the face detector and the emotion model…")
def get_analyzer():
    # One analyzer for all sessions: detector and classifier each serialise their calls with a
    # lock, and one frame step takes a few ms, so sharing costs less than a model per player.
    from facematch.play.vision import FrameAnalyzer

    return FrameAnalyzer()


@st.cache_resource
def get_worker():
    # One analysis thread for every player's video (facematch/play/worker.py): callbacks hand over
    # frames, the worker batches the faces of all players into one classifier call.
    from facematch.play.worker import AnalysisWorker

    worker = AnalysisWorker(get_analyzer())
    if stats_file():
        worker.write_stats(stats_file())
    return worker


def panel_pause() -> float:
    """How long the live panel waits between redraws. Each redraw is a Streamlit message that every
    player's browser renders; measured with 8 players on this 2-core machine, redrawing at 5 Hz cut
    the returned video to 5-6 fps and at 1 Hz it kept 9 (scripts/load_test.py), so it slows down
    as players join while the label drawn into the video itself stays per frame."""
    from facematch.play.worker import shared_interval

    return shared_interval(PANEL_REFRESH_S, get_worker().active_players())


@st.cache_resource
def get_store() -> HistoryStore:
    # One per server process: with PostgreSQL it holds the connection pool every session shares.
    return open_store()


def per_browser(key: str, make):
    """This browser session's object under `key` (st.session_state), made on first use only."""
    if key not in st.session_state:
        st.session_state[key] = make()
    return st.session_state[key]


def player_baseline(player: str) -> StoredBaseline | None:
    """The player's calibrated neutral face, read from the history once per browser session and name."""
    known: dict = per_browser("baselines", dict)
    if player not in known:
        try:
            known[player] = get_store().baseline(player)
        except FacematchError:
            known[player] = None  # no history database: the coach works uncalibrated
    return known[player]


def save_baseline(player: str, baseline: Baseline, model_id: str) -> str:
    """Store a finished calibration; returns what to tell the player."""
    stored = StoredBaseline(player=player, blendshapes=baseline.blendshapes, probabilities=baseline.probabilities,
                            frames=baseline.frames, model_id=model_id)
    per_browser("baselines", dict)[player] = stored  # used from the next round on, saved or not
    judged = max(baseline.probabilities, key=baseline.probabilities.get)
    text = (f"Calibrated ✓ — the coach now measures from your resting face ({baseline.frames} readings). "
            f"The judge read it as {judged} {baseline.probabilities[judged]:.0%}.")
    if judged != "neutral":
        text += " If that was not your relaxed face, calibrate again."
    try:
        get_store().add_baseline(stored)
    except FacematchError as exc:
        text += f" It could not be saved to the history database ({exc}): it lasts for this session only."
    return text


def load_analyzer_or_stop():
    try:
        return get_analyzer()
    except FacematchError as exc:
        st.error(f"**Facematch cannot start its models.** {exc}")
        st.stop()


def save_records(records: Sequence[RoundRecord], slot=None) -> None:
    """Store finished rounds. On failure the game goes on, the rounds still count in the session, and
    `slot` (a fixed place on the page; else the end of the page) says so until a later save works."""
    if not records:
        return
    try:
        store = get_store()
        for record in records:
            store.add_round(record)
    except FacematchError as exc:
        (slot or st).error(f"This round could not be saved to the history database (it still counts in this "
                           f"session's total): {exc}")
        return
    if slot is not None:
        slot.empty()


# -- texts -----------------------------------------------------------------------------------
def target_text(target: str, remaining: float | None = None) -> str:
    timer = f" · ⏱ {remaining:0.1f} s" if remaining is not None else ""
    return f"### Make this face: {EMOJI[target]} **{target.upper()}**{timer}\n\nTip: *{TIPS[target]}*"


def summary_text(session: PlaySession) -> str:
    summary = session.summary()
    return (f"**Session over: {summary.total} points** in {summary.rounds} rounds, "
            f"{summary.matched} matched (average {summary.average:.0f}). "
            f"Best: {summary.best_emotion}; to practise: {summary.worst_emotion}. "
            f"See every round on the History page.")


def round_header(session: PlaySession) -> str:
    return f"Round **{session.round_index + 1} / {len(session.targets)}**"


def detection_text(result) -> str:
    if result is None:
        return "Waiting for video… allow camera access and press START."
    face = result.primary
    if face is None:
        text = "**No face** — look at the camera, with your face well lit."
    else:
        text = f"Detected: **{face.emotion} {face.confidence:.0%}**"
        if len(result.faces) > 1:
            text += f" · {len(result.faces)} faces — playing with the largest"
    if result.error:
        text += f"  \n⚠️ This frame could not be analysed ({result.error})."
    return text


def probability_chart(result, target: str | None):
    """The 7 probabilities as horizontal bars, the target in another colour."""
    import altair as alt
    import pandas as pd

    face = result.primary if result is not None else None
    probs = face.probs if face is not None else [0.0] * len(EMOTIONS)
    frame = pd.DataFrame({"emotion": [f"{EMOJI[e]} {e}" for e in EMOTIONS],
                          "probability": [float(p) for p in probs],
                          "role": ["target" if e == target else "other" for e in EMOTIONS]})
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
        y=alt.Y("emotion:N", sort=None, title=None),
        color=alt.Color("role:N", scale=alt.Scale(domain=["target", "other"], range=["#e4572e", "#4c78a8"]),
                        legend=None),
    )
    labels = bars.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".0%"),
                                                       color=alt.value("black"))
    return (bars + labels).properties(height=230)


def gauges_html(gauges: Sequence[Gauge]) -> str:
    """Small bars, one per muscle: the fill is now, the black tick the aim (green once reached)."""
    rows = []
    for g in gauges:
        color = "#3a9d5d" if g.reached else ("#e4572e" if g.relax else "#4c78a8")
        aim = f"≤ {g.aim:.0%}" if g.relax else f"{g.aim:.0%}"
        rows.append(
            '<div style="display:flex;align-items:center;gap:0.5em;font-size:0.8em;margin:0.15em 0">'
            f'<span style="flex:0 1 9em;overflow:hidden;white-space:nowrap">{g.label}</span>'
            '<span style="position:relative;flex:1 1 3em;min-width:3em;height:0.7em;background:#e8e8e8;'
            'border-radius:3px">'
            f'<span style="position:absolute;left:0;top:0;bottom:0;width:{100 * g.current:.0f}%;'
            f'background:{color};border-radius:3px"></span>'
            f'<span style="position:absolute;left:{100 * g.aim:.0f}%;top:-3px;bottom:-3px;'
            'border-left:2px solid #222"></span></span>'
            f'<span style="flex:0 0 auto;text-align:right">{g.current:.0%} → {aim}</span></div>')
    return "".join(rows)


def coach_markdown(view: CoachView | None, judged: float | None = None, threshold: float = 0.5) -> str:
    """The coach's line in bold, then its gauges; `judged`: the judge's probability of the target."""
    if view is None:
        return " "
    return f"**{view.line(judged, threshold)}**\n\n" + gauges_html(view.gauges)


def probability_bars_html(result, target: str | None) -> str:
    """The 7 probabilities as horizontal bars in plain HTML, the target in another colour.

    The live panel redraws 5 times a second per player: an Altair chart there (a DataFrame, a
    Vega-Lite spec and Arrow serialisation each time) took 44% of the app's CPU with 8 players
    (issue 14's profile); a string of divs costs next to nothing.
    """
    face = result.primary if result is not None else None
    probs = face.probs if face is not None else [0.0] * len(EMOTIONS)
    rows = []
    for emotion, p in zip(EMOTIONS, probs):
        color = "#e4572e" if emotion == target else "#4c78a8"
        rows.append(
            '<div style="display:flex;align-items:center;gap:0.5em;font-size:0.85em;margin:0.2em 0">'
            f'<span style="flex:0 0 7em;text-align:right">{EMOJI[emotion]} {emotion}</span>'
            '<span style="flex:1;height:1em;background:#f0f2f6;border-radius:2px">'
            f'<span style="display:block;height:100%;width:{100 * float(p):.1f}%;background:{color};'
            'border-radius:2px"></span></span>'
            f'<span style="flex:0 0 3em">{float(p):.0%}</span></div>')
    return "".join(rows)


class LivePanel:
    """Fixed slots, each redrawn with exactly one element: nothing stale lingers while the loop runs.

    A slot is sent to the browser only when its content changed: the loop runs 5 times a second
    for every player, and most of the time most of the panel stays the same.
    """

    def __init__(self):
        self.alert = st.empty()  # a round that could not be saved
        self.status, self.detection, self.score = st.empty(), st.empty(), st.empty()
        self.coach, self.chart = st.empty(), st.empty()
        self._shown: dict[str, tuple] = {}

    def _put(self, name: str, text: str, kind: str = "markdown") -> None:
        if self._shown.get(name) == (kind, text):
            return
        self._shown[name] = (kind, text)
        slot = getattr(self, name)
        if kind == "html":
            slot.markdown(text, unsafe_allow_html=True)  # our own labels and numbers only
        else:
            getattr(slot, kind)(text)

    def draw(self, result, target: str | None, status: str, score_text: str, over: bool = False,
             coach: CoachView | None = None, judged: float | None = None, threshold: float = 0.5) -> None:
        self._put("status", status or " ", "success" if over else "markdown")
        self._put("detection", detection_text(result))
        self._put("score", score_text or " ")
        self._put("coach", coach_markdown(coach, judged, threshold), "html")
        self._put("chart", probability_bars_html(result, target), "html")


# -- the webcam ------------------------------------------------------------------------------
def webcam(key: str, analyzer, live):
    """The WebRTC streamer whose frames `analyzer` annotates and `live` collects; returns its context."""
    import av
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from facematch.play.live import COACH_EVERY_S
    from facematch.play.vision import I420Frame
    from facematch.play.worker import shared_interval

    seats = live.seats
    worker = get_worker()

    def video_frame_callback(frame):
        # Runs in streamlit-webrtc's worker thread, not the script thread: it may touch only
        # `worker`, `analyzer` (thread-safe) and `live` (lock-guarded). The analysis itself runs in
        # the shared analysis thread, which hands each result to live.on_frame; this thread waits
        # for it at most a frame step's worth, so the video never waits for the judge. It must
        # never raise: a failing frame goes back untouched and its error is logged once per kind.
        try:
            # WebRTC video is I420 both ways: drawing on its planes avoids two colour conversions
            # per frame; the analysis thread converts only the frames it takes.
            if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
                planes = None  # a camera that sends something else: analyse and draw in BGR
                image = frame.to_ndarray(format="bgr24")
            else:
                planes = frame.to_ndarray(format="yuv420p")
            # The coach reads a few frames a second; with many players, fewer (its landmarker costs
            # ~2.5 frame steps): 5 Hz for 1-2 players, 2.5 Hz for 4, 1.25 Hz for 8.
            every = shared_interval(COACH_EVERY_S, worker.active_players())
            measure = live.wants_blendshapes(time.monotonic(), every)
            result = worker.analyze(live, image if planes is None else I420Frame(planes), blendshapes=measure,
                                    on_result=live.on_frame)
            if result is None or not result.faces:
                return frame  # nothing to draw: the frame goes back as it came
            if planes is None:
                return av.VideoFrame.from_ndarray(analyzer.annotate(image, result, live.target, seats), format="bgr24")
            annotated = analyzer.annotate_i420(planes, result, target=live.target, seats=seats)
            return av.VideoFrame.from_ndarray(annotated, format="yuv420p")
        except Exception as exc:
            analyzer.errors.exception(exc)
            return frame

    servers, warning = ice_servers()
    if warning:
        st.warning(warning)
    ctx = webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        video_frame_callback=video_frame_callback,
        media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
        rtc_configuration={"iceServers": servers},  # browser and server alike
        # async processing drops stale frames instead of letting the video lag behind.
        async_processing=True,
        translations=CAMERA_MESSAGES,
    )
    st.caption("📷 **No camera?** If the box above says *NotFoundError*, no camera was found; "
               "*NotAllowedError* means camera access was denied: allow it in the address bar and press "
               "START again. Or play without live video: choose **Snapshot (no camera)** in the sidebar.")
    return ctx
