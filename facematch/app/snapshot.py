"""Snapshot mode: no webcam stream; each photo from the browser's camera scores one round."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from facematch.app.panel import coach_markdown, probability_bars_html
from facematch.app.resources import load_analyzer_or_stop, per_browser
from facematch.app.saving import player_baseline, save_records
from facematch.app.texts import detection_text, round_header, summary_text, target_text
from facematch.config import session_seed
from facematch.play.coach import CoachView, gauges, hints
from facematch.play.rules import RoundRules, snapshot_round
from facematch.play.session import PlaySession


def run(player: str, rules: RoundRules) -> None:
    analyzer = load_analyzer_or_stop()

    def new_session() -> PlaySession:
        return PlaySession(players=(player,), mode="snapshot", model_id=analyzer.classifier.model_id,
                           seed=session_seed())

    session: PlaySession = per_browser("snap_session", new_session)
    session.rename((player,))
    st.info("Snapshot mode: no live video. Take a photo making the face; each photo scores one round.")
    if st.button("New session"):
        session = st.session_state.snap_session = new_session()
    if session.over:
        st.success(summary_text(session))
        return
    target = session.current_target
    st.markdown(round_header(session))
    st.markdown(target_text(target))
    photo = st.camera_input("Take a photo", key=f"snap-{session.session_id}-{session.round_index}")
    if photo is None or not session.is_new_photo(photo.getvalue()):
        return  # no photo yet, or a rerun showing the photo that was already scored
    image = cv2.imdecode(np.frombuffer(photo.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # not an image the decoder knows (or damaged): nothing is scored
        st.error("This photo could not be read as an image, so it was not scored. Take another one.")
        return
    annotated, result = analyzer.process(image, target=target, blendshapes=True)
    face = result.primary
    state, score = snapshot_round(target, None if face is None else face.probs, rules)
    # The coach on the photo: the same advice as live, from the player's resting face if calibrated.
    coach, advice, muscle = None, [], None
    if face is not None and face.blendshapes is not None:
        baseline = player_baseline(player)
        neutral = baseline.blendshapes if baseline else None
        advice = hints(target, face.blendshapes, neutral)
        coach = CoachView(target, True, advice[0] if advice else None, tuple(gauges(target, face.blendshapes, neutral)))
        muscle = advice[0].code if advice else None  # one photo: what held it back is the biggest gap
    save_records(session.finish_round([state], rules, held_back=[muscle]))
    st.markdown(f"Round score: **{score} points**" + (" — matched!" if state.matched else ""))
    left, right = st.columns(2)
    left.image(annotated, channels="BGR", caption="What the model saw")
    with right:
        st.markdown(detection_text(result))
        judged = None if face is None else float(face.probs[state.target])
        st.markdown(coach_markdown(coach, judged, rules.threshold), unsafe_allow_html=True)  # our labels only
        if len(advice) > 1:
            st.markdown("Then: " + "; ".join(h.text.lower() for h in advice[1:3]) + ".")
        st.markdown(probability_bars_html(result, target), unsafe_allow_html=True)  # our labels only
    if st.button("Next round" if not session.over else "See summary"):
        st.rerun()
