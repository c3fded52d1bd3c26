"""The live panel beside the video: the coach's line and gauges, the 7 probabilities, fixed slots that
are redrawn only when their content changes."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np
import streamlit as st

from facematch import EMOTIONS
from facematch.app.texts import detection_text
from facematch.play.avatar import avatar_svg, target_blendshapes
from facematch.play.coach import CoachView, Gauge, held_back_text
from facematch.play.rules import EMOJI
from facematch.play.session import FinishedRound


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


FACE_PX = 150  # the drawn faces: legible on a phone, two side by side in the panel


def faces_html(target: str | None, coach: CoachView | None, coach_on: bool = True, intensity: float = 1.0,
               size: int = FACE_PX) -> str:
    """The face to make (the avatar, from the coach's recipe) and, with the coach on, the player's
    own face as the coach reads it, side by side: the gap between them is what to close."""
    cells = []
    if target is not None:
        cells.append((avatar_svg(target_blendshapes(target, intensity), size, f"{target}: make this face"),
                      f"Make this face: <b>{target}</b>"))
    if coach_on:
        mine = coach.blendshapes if coach is not None else None
        caption = "You, as the coach sees you" if mine else "You: the coach has not seen your face yet"
        cells.append((avatar_svg(mine, size, "your face as the coach reads it"), caption))
    return ('<div style="display:flex;flex-wrap:wrap;gap:0.8em;align-items:flex-start">' + "".join(
        f'<figure data-face="{"target" if i == 0 and target else "mirror"}" style="margin:0;text-align:center;'
        f'font-size:0.8em;opacity:{1 if i == 0 and target or (coach and coach.blendshapes) else 0.45}">'
        f'{svg}<figcaption>{caption}</figcaption></figure>' for i, (svg, caption) in enumerate(cells)) + "</div>")


def image_url(image_bgr: np.ndarray) -> str:
    """A BGR image as an inline JPEG data URL: encoded in memory, sent with the page, stored nowhere."""
    ok, jpeg = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii") if ok else ""


def moment_html(played: FinishedRound | None, seat: int = 0, size: int = 110) -> str:
    """The last round's best moment (the player's face at its peak) beside the face that was asked for,
    with the score and what held the player back."""
    if played is None or played.players[seat].best is None:
        return " "
    mine = played.players[seat]
    held = f"<br>What held you back: {held_back_text(mine.held_back)}" if mine.held_back else ""
    return ('<div data-face="moment" style="display:flex;gap:0.6em;align-items:center;font-size:0.8em">'
            f'{avatar_svg(target_blendshapes(played.target), size, played.target)}'
            f'<img alt="your best moment" src="{image_url(mine.best)}" style="height:{size}px;border-radius:6px"/>'
            f'<span>Your best moment: <b>{played.target}</b>, {mine.score} points{held}</span></div>')


def moments_strip_html(rounds: Sequence[FinishedRound], seat: int = 0, size: int = 90) -> str:
    """The session's best moments side by side, one per round (for the summary)."""
    cells = [f'<figure style="margin:0;text-align:center;font-size:0.75em"><img alt="{r.target}" '
             f'src="{image_url(r.players[seat].best)}" style="height:{size}px;border-radius:6px"/>'
             f'<figcaption>{r.target} · {r.players[seat].score}</figcaption></figure>'
             for r in rounds if r.players[seat].best is not None]
    if not cells:
        return " "
    return ('<div data-face="moments" style="display:flex;flex-wrap:wrap;gap:0.5em">' + "".join(cells) + "</div>")


class ChangedOnly:
    """Sends a slot's content to the browser only when it changed: the pages redraw 5 times a second
    for every player, and most of the time most of a page stays the same."""

    def __init__(self):
        self._shown: dict[str, tuple[str, str]] = {}

    def put(self, slot, key: str, text: str, kind: str = "markdown") -> None:
        if self._shown.get(key) == (kind, text):
            return
        self._shown[key] = (kind, text)
        if kind == "html":
            slot.markdown(text, unsafe_allow_html=True)  # our own drawings, labels and numbers only
        else:
            getattr(slot, kind)(text)


class LivePanel:
    """Fixed slots, each redrawn with exactly one element (and only when it changed): nothing stale
    lingers while the loop runs."""

    def __init__(self):
        self.alert = st.empty()  # a round that could not be saved
        self.status, self.faces, self.moment = st.empty(), st.empty(), st.empty()
        self.detection, self.score = st.empty(), st.empty()
        self.coach, self.chart = st.empty(), st.empty()
        self._sent = ChangedOnly()

    def _put(self, name: str, text: str, kind: str = "markdown") -> None:
        self._sent.put(getattr(self, name), name, text, kind)

    def draw(self, result, target: str | None, status: str, score_text: str, over: bool = False,
             coach: CoachView | None = None, judged: float | None = None, threshold: float = 0.5,
             faces: str = " ", moment: str = " ", verdict: bool = True) -> None:
        """verdict=False: no detection line and no probabilities (a study arm without live feedback)."""
        self._put("status", status or " ", "success" if over else "markdown")
        self._put("faces", faces, "html")
        self._put("moment", moment, "html")
        self._put("detection", detection_text(result) if verdict else " ")
        self._put("score", score_text or " ")
        self._put("coach", coach_markdown(coach, judged, threshold), "html")
        self._put("chart", probability_bars_html(result, target) if verdict else " ", "html")
