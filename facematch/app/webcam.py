"""The webcam: streamlit-webrtc's streamer, whose frames the shared analysis worker judges."""

from __future__ import annotations

import time

import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from facematch.app import video_encoder
from facematch.app.resources import get_worker, per_browser
from facematch.app.texts import CAMERA_MESSAGES, CONNECTION_FAILED
from facematch.config import cloudflare_turn_keys, ice_servers
from facematch.play.frames import I420Frame
from facematch.play.live import COACH_EVERY_S
from facematch.play.worker import shared_interval

video_encoder.install()  # every player's returned video: VP8 without aiortc's denoiser (video_encoder.py)


def webcam(key: str, analyzer, live, annotate: bool = True):
    """The WebRTC streamer whose frames `analyzer` annotates and `live` collects; returns its context.
    annotate=False sends the video back as it came (the check-ups show no verdict)."""
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
            if result is None or not result.faces or not annotate:
                return frame  # nothing to draw: the frame goes back as it came
            if planes is None:
                return av.VideoFrame.from_ndarray(analyzer.annotate(image, result, live.target, seats), format="bgr24")
            annotated = analyzer.annotate_i420(planes, result, target=live.target, seats=seats)
            return av.VideoFrame.from_ndarray(annotated, format="yuv420p")
        except Exception as exc:
            analyzer.errors.exception(exc)
            return frame

    servers, warning = rtc_servers()
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
    with st.container():  # always here, so nothing after the component moves it
        st.html(PHONE_LAYOUT)
        # First and always one element: the run that plays replaces the help with an empty slot at once (the loop
        # that redraws the panel keeps that run going, and a stale element stays until a run ends).
        if ctx.state.playing:  # the help would only push the panel down
            st.empty()
        else:
            st.caption("📷 **No camera?** If the box above says *NotFoundError*, no camera was found; "
                       "*NotAllowedError* means camera access was denied: allow it in the address bar and press "
                       "START again. Or play without live video: choose **Snapshot (no camera)** in the sidebar.")
        if connection_trouble(key, ctx.state):
            st.warning(CONNECTION_FAILED)
        elif ctx.state.signalling and not ctx.state.playing:
            _watch_connection(key, ctx)
    return ctx


# Under 640 px Streamlit stacks columns: the target, the coach and the scores come below the video. The video's
# column then stays at the top of the screen (under Streamlit's 3.75rem header) while the player scrolls to them.
# It takes the page's colour (passed down from the app through the video's ancestors, whatever the theme), so
# that what scrolls under it does not show through.
PHONE_LAYOUT = """<style>
@media (max-width: 640px) {
  [data-testid="stApp"] *:has(iframe[title*="streamlit_webrtc"]) { background-color: inherit; }
  [data-testid="stColumn"]:has(iframe[title*="streamlit_webrtc"]) { position: sticky; top: 3.75rem; z-index: 3; }
}
</style>"""


def rtc_servers() -> tuple[list, str | None]:
    """(ICE servers for browser and server, a warning or None): FACEMATCH_ICE_SERVERS; else, with a Cloudflare
    TURN key in the environment, short-lived credentials from Cloudflare (streamlit-webrtc's helper, cached an
    hour); else none (localhost and LANs need none)."""
    servers, warning = ice_servers()
    keys = cloudflare_turn_keys()
    if servers or warning or keys is None:
        return servers, warning
    try:
        from streamlit_webrtc.credentials import get_cloudflare_ice_servers

        return list(get_cloudflare_ice_servers(*keys)), None
    except ValueError as exc:
        return [], f"No TURN server: {exc}. Players outside this network may get no video."


SLOW_CONNECTION_S = 10  # on loopback or a LAN the video is up within 1-2 s


def connection_trouble(key: str, state, now: float | None = None) -> bool:
    """Whether streamer `key`'s video connection is in trouble: tried (signalling) for SLOW_CONNECTION_S without
    playing, or ended without ever playing. When ICE finds no path the browser keeps trying, or gives up and the
    component goes back to START, either way without a word to the player."""
    now = time.monotonic() if now is None else now
    tries: dict = per_browser("video_connections", dict)
    last = tries.get(key, {})
    if state.playing:
        tries[key] = {"status": "playing"}
    elif state.signalling:
        if last.get("status") != "connecting":
            tries[key] = {"status": "connecting", "since": now}
    elif last.get("status") == "connecting":
        tries[key] = {"status": "failed"}
    elif last.get("status") == "playing":
        tries[key] = {}
    entry = tries.get(key, {})
    return entry.get("status") == "failed" or (
        entry.get("status") == "connecting" and now - entry["since"] >= SLOW_CONNECTION_S)


@st.fragment(run_every=2)
def _watch_connection(key: str, ctx) -> None:
    # Runs only while a connection is being tried (the page has no other reason to run then); it stops with
    # the full run that the component's next state brings.
    if connection_trouble(key, ctx.state):
        st.warning(CONNECTION_FAILED)
