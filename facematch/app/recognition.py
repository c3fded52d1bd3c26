"""Read faces (no camera): the drawn face shows an emotion, the player names it with a button or the
keys 1-7. Rules, levels and feedback: facematch.play.recognition; this page only draws."""

from __future__ import annotations

import random
import time

import streamlit as st

from facematch import EMOTIONS
from facematch.app.resources import get_store, per_browser
from facematch.app.saving import save_records
from facematch.errors import FacematchError
from facematch.play.avatar import avatar_svg
from facematch.play.recognition import TIERS, RecognitionSession, cues, feedback, plan_recognition, recognition_rounds
from facematch.play.rules import EMOJI

FACE_PX = 220  # the face to read: big enough to see a slight frown on a phone


def new_session(player: str) -> RecognitionSession:
    try:
        history = recognition_rounds(get_store().rounds(player))
    except FacematchError:
        history = []  # no history database: every emotion at level 1
    return RecognitionSession(player, plan_recognition(history, random.Random()))


def _answer(session: RecognitionSession, emotion: str | None) -> None:
    """A button's callback (runs before the page redraws) or the timer's: take the answer; the page's next
    full run saves it (a fragment may not write to the page's alert slot)."""
    given = session.answer(emotion, time.monotonic())
    if given is not None:
        st.session_state.setdefault("recognition_unsaved", []).append(session.record(given))


def _face(svg: str, caption: str) -> None:
    st.markdown(f'<figure data-face="shown" style="margin:0 auto;text-align:center;max-width:{FACE_PX}px">{svg}'
                f'<figcaption style="font-size:0.85em">{caption}</figcaption></figure>', unsafe_allow_html=True)


def _keys_to_page(number: int) -> None:
    """The keys 1-7 answer only while no form field has the focus; after a click on the sidebar's mode
    buttons one has, so it is given back to the page (a text box being typed in keeps it)."""
    # A zero-height frame of our own fixed script: it runs same-origin and can reach the page.
    st.iframe(f"<script>/* face {number} */ const el = window.parent.document.activeElement;"
              "if (el && el.type === 'radio') el.blur();</script>", height=1)


@st.fragment(run_every=0.5)
def _timer(session: RecognitionSession) -> None:
    """The time left, redrawn twice a second; when it runs out the face counts as missed."""
    left = session.remaining(time.monotonic())
    if session.revealed is None and session.shown_at is not None and left <= 0:
        _answer(session, None)
        st.rerun()
    st.progress(left / session.limit_s, text=f"⏱ {left:.0f} s left")


def run(player: str) -> None:
    session: RecognitionSession = per_browser("recognition", lambda: new_session(player))
    if session.player != player:  # another name typed in: their own levels, their own session
        session = st.session_state.recognition = new_session(player)
    alert = st.empty()  # a round that could not be saved
    save_records(st.session_state.pop("recognition_unsaved", []), alert)
    st.subheader("👀 Read the face")
    st.caption(f"Answer with a button or the keys 1-7, within {session.limit_s:.0f} s. Faces get subtler as you "
               "get them right: strong, then subtle, then mixed with a look-alike emotion. No camera is needed.")

    if session.over:
        right = sum(a.correct for a in session.answers)
        st.success(f"Session over: **{right} of {len(session.answers)}** read right, **{session.total()} points**. "
                   "Your mistakes and levels are on the History page.")
        if st.button("New session", type="primary", shortcut="Enter"):
            st.session_state.recognition = new_session(player)
            st.rerun()
        return

    face = session.current
    number = len(session.answers) + (session.revealed is None)
    st.markdown(f"**Face {number} of {len(session.faces)}** · level {face.level} ({TIERS[face.level]})")
    given = session.revealed
    if given is None:
        session.show(time.monotonic())
        _keys_to_page(number)
        # The answers beside the face, not below it, on every screen (wrap=False: a phone does not stack them):
        # the face, the time left and all seven answers fit on one phone screen.
        shown, answers = st.columns([3, 2], wrap=False, vertical_alignment="center")
        with shown:
            _face(avatar_svg(face.blendshapes(), FACE_PX, "which emotion is this?"), "Which emotion is this?")
            _timer(session)
        buttons = answers.container(gap="xsmall")
        for i, emotion in enumerate(EMOTIONS):
            buttons.button(f"{EMOJI[emotion]} {emotion}", key=f"answer-{emotion}", shortcut=str(i + 1),
                           width="stretch", on_click=_answer, args=(session, emotion))
        return

    mark = "✅" if given.correct else "❌"
    st.markdown(f"{mark} {feedback(face, given.answered)}" + (f" **+{given.score}**" if given.score else ""))
    look = cues(face.emotion, given.answered)
    _face(avatar_svg(face.blendshapes(), FACE_PX, f"{face.emotion}: the cues ringed", highlight=look),
          f"It showed {face.describe()}" + (": the ringed parts give it away" if look else ""))
    last = len(session.answers) >= len(session.faces)
    st.button("See the result" if last else "Next face", type="primary", shortcut="Enter", key="next-face",
              on_click=session.next)
