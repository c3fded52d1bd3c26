"""Check-up: each emotion twice, a few seconds each, with no feedback at all until it ends; scored by the
independent judge (facematch.play.checkup, facematch.play.independent). Results: History → Progress."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from facematch import EMOTIONS
from facematch.app.resources import load_analyzer_or_stop, panel_pause, per_browser
from facematch.app.saving import player_baseline, save_records
from facematch.app.webcam import webcam
from facematch.errors import FacematchError
from facematch.play.checkup import READY_S, TRIAL_S, CheckupRecorder, CheckupSession, plan_checkup, score_trial
from facematch.play.independent import independent_judge
from facematch.play.rules import EMOJI


def _judge_or_stop():
    try:
        return independent_judge()
    except FacematchError as exc:
        st.error(f"**The check-up's judge cannot be loaded.** {exc}")
        st.stop()


def results_table(session: CheckupSession) -> pd.DataFrame:
    means = session.by_emotion()
    return pd.DataFrame([{"emotion": f"{EMOJI[e]} {e}", "score (independent judge)": round(means[e])}
                         for e in EMOTIONS if e in means])


def run(player: str) -> None:
    analyzer = load_analyzer_or_stop()
    judge = _judge_or_stop()
    recorder: CheckupRecorder = per_browser("checkup_recorder", lambda: CheckupRecorder(judge.size))
    session: CheckupSession = per_browser("checkup", lambda: CheckupSession(player, plan_checkup(), judge.model_id))
    if session.player != player:
        session = st.session_state.checkup = CheckupSession(player, plan_checkup(), judge.model_id)
    trials = len(session.trials)
    minutes = trials * (READY_S + TRIAL_S) / 60
    st.subheader("📏 Check-up")
    st.caption(f"Show each emotion when asked ({trials} short trials, about {minutes:.0f} minutes). There is no "
               "coach, no score and no label while it runs: the check-up measures what you can do on your own, "
               "and a judge the game never trains with scores it. Your results, and how they change from one "
               "check-up to the next, are on the History page under Progress. Choose another mode to skip it.")

    left, right = st.columns([3, 2])
    with left:
        ctx = webcam("facematch-checkup", analyzer, recorder, annotate=False)
    with right:
        status = st.empty()
        done = st.empty()

    if session.over:
        done.dataframe(results_table(session), hide_index=True, width="stretch")
        status.success(f"**Check-up done.** {len(session.results)} trials saved. See History → Progress for how "
                       "this compares with your first check-up.")
        if st.button("New check-up"):
            st.session_state.checkup = CheckupSession(player, plan_checkup(), judge.model_id)
            st.rerun()
        return
    if not ctx.state.playing:
        if session.started_at is not None:  # stopped mid-trial: that trial starts again
            recorder.take()
            session.started_at = None
        status.info(f"Press **START** to turn on your webcam and begin. Trial {len(session.results) + 1} of {trials}.")
        return

    neutral = player_baseline(player)
    shown = None
    # The script thread drives the trials; the analysis thread fills the recorder (see checkup.py).
    while ctx.state.playing and not session.over:
        now = time.monotonic()
        phase, left_s = session.phase(now)
        target = session.current
        if phase == "score":
            result = score_trial(target, recorder.take(), judge, neutral.blendshapes if neutral else None)
            save_records([session.finish_trial(result)], done)
            continue
        if phase == "show" and not recorder.recording:
            recorder.start()
        number = f"Trial {len(session.results) + 1} of {trials}"
        look = "" if recorder.sees_face(now) else "\n\n📷 Look at the camera: your face is not in the picture."
        text = (f"{number}\n\n### Get ready: {EMOJI[target]} **{target}**… {left_s:.0f}" if phase == "ready" else
                f"{number}\n\n### Show **{target.upper()}** now · {left_s:.0f} s") + look
        if text != shown:  # only changes are sent to the browser
            status.markdown(text)
            shown = text
        time.sleep(panel_pause())
    if session.over:
        st.rerun()  # draw the results
