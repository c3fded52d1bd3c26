"""Challenge and Practice modes: one player, the webcam, timed rounds (Challenge) or free play."""

from __future__ import annotations

import time

import streamlit as st

from facematch.config import session_seed
from facematch.play.live import LiveSession, drive
from facematch.play.rules import RoundRules, round_score
from facematch.play.session import PlaySession
from views.widgets import (
    PANEL_REFRESH_S,
    LivePanel,
    load_analyzer_or_stop,
    per_browser,
    round_header,
    save_records,
    summary_text,
    target_text,
    webcam,
)


def new_session(player: str, model_id: str) -> PlaySession:
    return PlaySession(players=(player,), mode="challenge", model_id=model_id, seed=session_seed())


def finished_text(session: PlaySession) -> str:
    last = session.last_round
    if last is None:
        return ""
    done = last.players[0]
    outcome = f"matched in {done.time_to_match:.1f} s" if done.matched else "time is up"
    return f"Last round ({last.target}): **{done.score} points**, {outcome}."


def run(player: str, rules: RoundRules, challenge_mode: bool) -> None:
    analyzer = load_analyzer_or_stop()
    model_id = analyzer.classifier.model_id
    # Per browser session (st.session_state): players never share a LiveSession or a PlaySession.
    live: LiveSession = per_browser("live", lambda: LiveSession(rules))
    live.set_rules(rules)
    session: PlaySession = per_browser("challenge", lambda: new_session(player, model_id))
    session.rename((player,))

    left, right = st.columns([3, 2])
    with left:
        ctx = webcam("facematch-webcam", analyzer, live)
    with right:
        controls = st.container()
        panel = LivePanel()

    if not challenge_mode:
        live.stop_round()
    elif controls.button("New session", help="Start over with a fresh shuffled set of emotions"):
        session = st.session_state.challenge = new_session(player, model_id)
        live.stop_round()

    if not ctx.state.playing:
        panel.status.info("Press **START** to turn on your webcam" +
                          (" and begin the rounds." if challenge_mode else "."))
        return

    # The script thread polls the shared state and redraws; the callback thread does the work.
    while ctx.state.playing:
        if not challenge_mode:
            panel.draw(live.snapshot(time.monotonic()).result, None, "", "")
            time.sleep(PANEL_REFRESH_S)
            continue
        save_records(drive(session, live, time.monotonic()))
        now = time.monotonic()
        snap = live.snapshot(now)
        last = finished_text(session)
        if session.over:
            panel.draw(snap.result, None, summary_text(session), last, over=True)
        elif snap.round is not None:
            target = snap.round.target_name
            status = (f"{round_header(session)} · session total **{session.total()}**\n\n"
                      + target_text(target, snap.round.remaining(live.rules, now)))
            score = (f"Score now: **{round_score(snap.round, live.rules)}** · target {snap.round.smoothed:.0%} "
                     f"(smoothed), threshold {live.rules.threshold:.0%}" + (f"  \n{last}" if last else ""))
            panel.draw(snap.result, target, status, score)
        time.sleep(PANEL_REFRESH_S)
