"""The live panel beside the video: the coach's line and gauges, the 7 probabilities, fixed slots that
are redrawn only when their content changes."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from facematch import EMOTIONS
from facematch.app.texts import detection_text
from facematch.play.avatar import avatar_svg, target_blendshapes
from facematch.play.coach import CoachView, Gauge
from facematch.play.rules import EMOJI


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


class LivePanel:
    """Fixed slots, each redrawn with exactly one element: nothing stale lingers while the loop runs.

    A slot is sent to the browser only when its content changed: the loop runs 5 times a second
    for every player, and most of the time most of the panel stays the same.
    """

    def __init__(self):
        self.alert = st.empty()  # a round that could not be saved
        self.status, self.faces = st.empty(), st.empty()
        self.detection, self.score = st.empty(), st.empty()
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
             coach: CoachView | None = None, judged: float | None = None, threshold: float = 0.5,
             faces: str = " ") -> None:
        self._put("status", status or " ", "success" if over else "markdown")
        self._put("faces", faces, "html")
        self._put("detection", detection_text(result))
        self._put("score", score_text or " ")
        self._put("coach", coach_markdown(coach, judged, threshold), "html")
        self._put("chart", probability_bars_html(result, target), "html")
