"""Play page: challenge, practice and snapshot modes.

This file only wires the UI: game rules live in facematch.game, the frame step in
facematch.vision, cross-thread state in facematch.live, storage in facematch.history.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid

import streamlit as st

from facematch import EMOTIONS
from facematch.game import EMOJI, TIPS, RoundRules, round_score, session_targets, snapshot_round, summarize_session
from facematch.history import DEFAULT_PLAYER, HistoryStore, RoundRecord, clean_player_name


PANEL_REFRESH_S = 0.2  # the live panel redraws 5 times a second
MODES = ("Challenge", "Practice", "Snapshot (no camera)")
# Plain words in the video component when the camera cannot be used.
CAMERA_MESSAGES = {
    "device_not_available": "No camera found. Connect one and press START again, "
                            "or choose Snapshot (no camera) mode in the sidebar.",
    "device_access_denied": "Camera access was denied. Allow the camera for this page in your browser's "
                            "address bar and press START again, or choose Snapshot (no camera) mode.",
    "media_api_not_available": "This browser cannot use a camera on this page (it needs HTTPS or localhost). "
                               "Choose Snapshot (no camera) mode in the sidebar.",
}


# -- shared resources: loaded lazily, once per server process --------------------------------
@st.cache_resource(show_spinner="Loading the face detector and the emotion model…")
def get_analyzer():
    # One analyzer for all sessions: detector and classifier each serialise their calls with a
    # lock, and one frame step takes a few ms, so sharing costs less than a model per player.
    from facematch.vision import FrameAnalyzer

    return FrameAnalyzer()


@st.cache_resource
def get_store() -> HistoryStore:
    return HistoryStore()


def ice_servers() -> list:
    """ICE servers from FACEMATCH_ICE_SERVERS (JSON list); none by default, fine on localhost."""
    raw = os.environ.get("FACEMATCH_ICE_SERVERS", "[]")
    try:
        servers = json.loads(raw)
        return servers if isinstance(servers, list) else []
    except json.JSONDecodeError:
        st.warning("FACEMATCH_ICE_SERVERS is not valid JSON; using no ICE servers.")
        return []


def load_analyzer_or_stop():
    from facematch.assets import AssetError
    from facematch.classifier import ModelError

    try:
        return get_analyzer()
    except (ModelError, AssetError) as exc:
        st.error(f"**Facematch cannot start its models.** {exc}")
        st.stop()


# -- sidebar: player and settings ----------------------------------------------------------
with st.sidebar:
    st.header("🎭 Facematch")
    raw_name = st.text_input("Your name", value=st.session_state.get("player", DEFAULT_PLAYER), max_chars=200)
    player, name_message = clean_player_name(raw_name)
    st.session_state.player = player  # a plain key (widget state is dropped on other pages): History reads it
    if name_message:
        st.info(name_message)
    mode = st.radio("Mode", MODES, key="mode",
                    help="Challenge: timed rounds. Practice: free play. Snapshot: no webcam stream needed.")
    with st.expander("Round settings"):
        duration = st.slider("Round length (s)", 3, 30, int(os.environ.get("FACEMATCH_ROUND_SECONDS", 10)))
        threshold = st.slider("Match threshold", 0.3, 0.9, 0.5, 0.05,
                              help="Smoothed probability of the target needed to match.")
        hold = st.slider("Hold time (s)", 0.0, 2.0, 0.5, 0.1, help="How long the match must be held.")
    rules = RoundRules(duration_s=float(duration), threshold=threshold, hold_s=hold)
    st.caption("🔒 Your video is processed in memory on this server and never written to disk or sent "
               "anywhere. Only round scores are saved.")

st.title("Facematch")
st.write("Make the face the game asks for. The model watches your webcam and scores how well, and how fast, "
         "you match the target emotion.")


# -- per-browser-session state (never shared between players) ------------------------------
def new_challenge() -> dict:
    seed = os.environ.get("FACEMATCH_SEED")  # a fixed order of targets, for tests and demos
    return {"id": uuid.uuid4().hex, "targets": session_targets(int(seed) if seed else None),
            "index": 0, "results": [], "over": False}


def record_round(challenge: dict, target: str, score: int, matched: bool, time_to_match, peak: float,
                 round_mode: str) -> None:
    record = RoundRecord(
        player=player, session_id=challenge["id"], round_index=challenge["index"], target=target,
        score=score, matched=matched, time_to_match=time_to_match, peak_probability=peak,
        model_id=get_analyzer().classifier.model_id, mode=round_mode)
    try:
        get_store().add_round(record)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        # The game goes on; the round still counts in this session's summary.
        st.error(f"This round could not be saved to the history database ({exc}). "
                 f"Check that {get_store().path} is writable.")
    challenge["results"].append((target, score, matched))
    challenge["index"] += 1
    challenge["over"] = challenge["index"] >= len(challenge["targets"])


def summary_text(challenge: dict) -> str:
    summary = summarize_session(challenge["results"])
    return (f"**Session over: {summary.total} points** in {summary.rounds} rounds, "
            f"{summary.matched} matched (average {summary.average:.0f}). "
            f"Best: {summary.best_emotion}; to practise: {summary.worst_emotion}. "
            f"See every round on the History page.")


def target_text(target: str, remaining: float | None = None) -> str:
    timer = f" · ⏱ {remaining:0.1f} s" if remaining is not None else ""
    return f"### Make this face: {EMOJI[target]} **{target.upper()}**{timer}\n\nTip: *{TIPS[target]}*"


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


class LivePanel:
    """Fixed slots, each redrawn with exactly one element: nothing stale lingers while the loop runs."""

    def __init__(self):
        self.status, self.detection, self.score, self.chart = st.empty(), st.empty(), st.empty(), st.empty()

    def draw(self, result, target: str | None, status: str, score_text: str, over: bool = False) -> None:
        (self.status.success if over else self.status.markdown)(status or " ")
        self.detection.markdown(detection_text(result))
        self.score.markdown(score_text or " ")
        self.chart.altair_chart(probability_chart(result, target), width="stretch")


# -- webcam modes ----------------------------------------------------------------------------
def webcam_mode(challenge_mode: bool) -> None:
    from facematch.live import LiveSession

    analyzer = load_analyzer_or_stop()
    if "live" not in st.session_state:
        st.session_state.live = LiveSession(rules)
    live: LiveSession = st.session_state.live
    live.set_rules(rules)
    if challenge_mode and "challenge" not in st.session_state:
        st.session_state.challenge = new_challenge()

    def video_frame_callback(frame):
        # Runs in streamlit-webrtc's worker thread, not the script thread: it may touch only
        # `analyzer` (thread-safe) and `live` (lock-guarded). It must never raise.
        import av

        try:
            image = frame.to_ndarray(format="bgr24")
            annotated, result = analyzer.process(image, target=live.target)
            live.on_frame(result, time.monotonic())
            return av.VideoFrame.from_ndarray(annotated, format="bgr24")
        except Exception:
            return frame

    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    left, right = st.columns([3, 2])
    with left:
        servers = ice_servers()
        ctx = webrtc_streamer(
            key="facematch-webcam",
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
    with right:
        controls = st.container()
        panel = LivePanel()

    if not challenge_mode:
        live.stop_round()
    else:
        with controls:
            if st.button("New session", help="Start over with a fresh shuffled set of emotions"):
                st.session_state.challenge = new_challenge()
                live.stop_round()

    if not ctx.state.playing:
        panel.status.info("Press **START** to turn on your webcam" +
                          (" and begin the rounds." if challenge_mode else "."))
        return

    # The script thread polls the shared state and redraws; the callback thread does the work.
    last_message = ""
    while ctx.state.playing:
        now = time.monotonic()
        snap = live.snapshot(now)
        target = None
        score_text = last_message
        if challenge_mode:
            challenge = st.session_state.challenge
            if snap.round is None and not challenge["over"]:
                live.start_round(challenge["targets"][challenge["index"]], now)
                snap = live.snapshot(now)
            if snap.round is not None and snap.round.finished:
                finished = snap.round
                score = round_score(finished, live.rules)
                record_round(challenge, finished.target_name, score, finished.matched, finished.time_to_match,
                             finished.peak, "challenge")
                outcome = (f"matched in {finished.time_to_match:.1f} s" if finished.matched else "time is up")
                last_message = f"Last round ({finished.target_name}): **{score} points**, {outcome}."
                live.stop_round()
                if not challenge["over"]:
                    live.start_round(challenge["targets"][challenge["index"]], time.monotonic())
                snap = live.snapshot(time.monotonic())
                score_text = last_message
            if snap.round is not None and not snap.round.finished:
                target = snap.round.target_name
                score_text = (f"Score now: **{round_score(snap.round, live.rules)}** · target "
                              f"{snap.round.smoothed:.0%} (smoothed), threshold {live.rules.threshold:.0%}"
                              + (f"  \n{last_message}" if last_message else ""))
        status, over = "", False
        if challenge_mode:
            challenge = st.session_state.challenge
            if challenge["over"]:
                status, over = summary_text(challenge), True
            elif target:
                status = (f"Round **{challenge['index'] + 1} / {len(challenge['targets'])}** · session total "
                          f"**{sum(r[1] for r in challenge['results'])}**\n\n"
                          + target_text(target, snap.round.remaining(live.rules, time.monotonic())))
        panel.draw(snap.result, target, status, score_text, over)
        time.sleep(PANEL_REFRESH_S)


# -- snapshot mode: no webcam stream ---------------------------------------------------------
def snapshot_mode() -> None:
    import cv2
    import numpy as np

    analyzer = load_analyzer_or_stop()
    if "snap_challenge" not in st.session_state:
        st.session_state.snap_challenge = new_challenge()
    challenge = st.session_state.snap_challenge
    st.info("Snapshot mode: no live video. Take a photo making the face; each photo scores one round.")
    if st.button("New session"):
        st.session_state.snap_challenge = challenge = new_challenge()
    if challenge["over"]:
        st.success(summary_text(challenge))
        return
    target = EMOTIONS[challenge["targets"][challenge["index"]]]
    st.markdown(f"Round **{challenge['index'] + 1} / {len(challenge['targets'])}**")
    st.markdown(target_text(target))
    photo = st.camera_input("Take a photo", key=f"snap-{challenge['id']}-{challenge['index']}")
    if photo is None:
        return
    data = photo.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get("snap_done") == digest:
        return
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    annotated, result = analyzer.process(image if image is not None else np.zeros((8, 8, 3), np.uint8),
                                         target=target)
    face = result.primary
    state, score = snapshot_round(target, None if face is None else face.probs, rules)
    record_round(challenge, target, score, state.matched, None, state.peak, "snapshot")
    st.session_state.snap_done = digest
    st.markdown(f"Round score: **{score} points**" + (" — matched!" if state.matched else ""))
    left, right = st.columns(2)
    left.image(annotated, channels="BGR", caption="What the model saw")
    with right:
        st.markdown(detection_text(result))
        st.altair_chart(probability_chart(result, target), width="stretch")
    if st.button("Next round" if not challenge["over"] else "See summary"):
        st.rerun()


if mode == MODES[2]:
    snapshot_mode()
else:
    webcam_mode(challenge_mode=(mode == MODES[0]))
