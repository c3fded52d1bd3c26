"""The words on the play pages: the target, the round, the session's summary, what the camera sees."""

from __future__ import annotations

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

# When a video connection is tried and does not come up: ICE finds no path between browser and server.
CONNECTION_FAILED = (
    "📡 **The video connection is not coming up.** Your browser reached this page but not the game's video "
    "(a school, office or hotel network often blocks it). Try another network, such as a phone's hotspot, and "
    "press START again; or ask whoever runs Facematch here to set up a TURN server (see \"TURN\" in its "
    "operations guide). Meanwhile **Read faces** and **Snapshot** need no video connection.")


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
