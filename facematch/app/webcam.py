"""The webcam: streamlit-webrtc's streamer, whose frames the shared analysis worker judges."""

from __future__ import annotations

import time

import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from facematch.app.resources import get_worker
from facematch.app.texts import CAMERA_MESSAGES
from facematch.config import ice_servers
from facematch.play.frames import I420Frame
from facematch.play.live import COACH_EVERY_S
from facematch.play.worker import shared_interval


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
