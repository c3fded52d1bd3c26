"""Challenge and Practice modes: one player, the webcam, timed rounds (Challenge) or free play.

Challenge plays each emotion once at the player's level, weakest first (facematch.play.levels); the
drawn face to make and the player's own face as the coach reads it sit beside the video. The coach
(facematch.play.coach) says which muscle to move next and keeps gauges of the target's muscles; an
optional 3-second calibration records the player's resting face so it is not counted.
"""

from __future__ import annotations

import time

import streamlit as st

from facematch import EMOTIONS
from facematch.app.arms import RoundFeedback
from facematch.app.panel import LivePanel, faces_html, moment_html, moments_strip_html
from facematch.app.resources import load_analyzer_or_stop, panel_pause, per_browser
from facematch.app.saving import (
    checkup_is_due,
    played_rounds,
    player_baseline,
    player_today,
    save_baseline,
    save_records,
    study_arm,
)
from facematch.app.texts import round_header, summary_text, target_text
from facematch.app.webcam import webcam
from facematch.config import session_seed
from facematch.play.calibration import CALIBRATION_S
from facematch.play.coach import held_back_text
from facematch.play.levels import LEVELS, plan_challenge
from facematch.play.live import LiveSession, drive
from facematch.play.rules import RoundRules, round_score, session_targets
from facematch.play.session import PlaySession


def new_session(player: str, model_id: str) -> PlaySession:
    """Each emotion once, at the player's level, weakest first; a new player at level 1 in the
    session's shuffled order (FACEMATCH_SEED fixes it)."""
    seed, history = session_seed(), played_rounds(player)
    shuffled = [EMOTIONS[i] for i in session_targets(seed)]
    plan = plan_challenge(history, shuffled=shuffled, after=history[-1].emotion if history else None)
    return PlaySession(players=(player,), mode="challenge", model_id=model_id, seed=seed,
                       targets=[EMOTIONS.index(e) for e, _ in plan], levels=[level.number for _, level in plan])


def level_rules(session: PlaySession, rules: RoundRules) -> RoundRules:
    """The round rules of the session's current level (the player's own settings for the rest)."""
    return rules if session.over else LEVELS[session.current_level - 1].rules(rules)


def finished_text(session: PlaySession) -> str:
    last = session.last_round
    if last is None:
        return ""
    done = last.players[0]
    outcome = f"matched in {done.time_to_match:.1f} s" if done.matched else "time is up"
    text = f"Last round ({last.target}): **{done.score} points**, {outcome}."
    if done.held_back:  # the coach's verdict: the muscle furthest from its aim over the round
        lead = "To do even better, practise" if done.matched else "What held you back"
        text += f" {lead}: **{held_back_text(done.held_back)}**."
    return text


def last_moment(session: PlaySession) -> str:
    """The last round's best moment as HTML, made once per round (the panel redraws 5 times a second)."""
    key = (session.session_id, session.round_index)
    cached = st.session_state.get("moment_html")
    if cached is None or cached[0] != key:
        cached = (key, moment_html(session.last_round))
        st.session_state.moment_html = cached
    return cached[1]


def calibration_text(progress: float, readings: int) -> str:
    left = CALIBRATION_S * (1 - progress)
    seen = "" if readings else " — no face seen yet: look at the camera"
    return (f"### 🧘 Calibrating: hold a relaxed, neutral face… {left:0.1f} s\n\n"
            f"The coach learns your resting face, so a natural smile or frown is not counted as expression"
            f"{seen}.")


def round_status(session: PlaySession, snap, live: LiveSession, now: float, with_total: bool) -> str:
    """The round's header (with the session's total so far when the player sees scores), its target and
    time left, and what its level asks."""
    target = snap.round.target_name
    level = LEVELS[session.current_level - 1]
    total = f" · session total **{session.total()}**" if with_total else ""
    return (f"{round_header(session)}{total}\n\n" + target_text(target, snap.round.remaining(live.rules, now))
            + f"\n\n**{level.ask(target, live.rules.hold_s)}**")


def draw_without_live_feedback(panel: LivePanel, session: PlaySession, snap, live: LiveSession,
                               feedback: RoundFeedback, now: float) -> None:
    """A study's sham and silent arms: the target and the face to imitate; the sham arm also sees another
    player's recorded score and coach line. Nothing drawn follows the player's own face."""
    if session.over:
        panel.draw(None, None, "**Session over.** Your check-ups will show how your faces develop.", "", over=True,
                   verdict=False)
        return
    if snap.round is None:
        return
    target = snap.round.target_name
    level = LEVELS[session.current_level - 1]
    status = round_status(session, snap, live, now, with_total=False)
    feedback.begin((session.session_id, session.round_index), target)
    text = "Practise the face until the round ends."
    if feedback.arm == "sham":
        score, line = feedback.sham(now - snap.round.started_at)
        text = f"Score now: **{score}**\n\n**{line}**"
    panel.draw(None, target, status, text, faces=faces_html(target, None, False, level.intensity), verdict=False)


def _go_to_checkup() -> None:
    st.session_state.mode = "Check-up"  # a callback: runs before the sidebar's mode radio is drawn


def offer_checkup(player: str, slot) -> None:
    """At the first session and then once a day: offer the check-up (skippable for the day). `slot` is a
    container every run has, so the webcam below keeps its place (a moved component drops its stream)."""
    today = player_today().isoformat()
    if slot is None or st.session_state.get("checkup_skipped") == today or not checkup_is_due(player):
        return
    with slot:
        st.info("📏 **Check-up due** (about 2 minutes): show each emotion twice with no help and no score, judged "
                "by an independent model, so you can see real progress over the weeks.")
        buttons = st.container(horizontal=True)  # side by side, on a phone too
        buttons.button("Take the check-up", type="primary", on_click=_go_to_checkup)
        if buttons.button("Not today"):
            st.session_state.checkup_skipped = today
            st.rerun()


def run(player: str, rules: RoundRules, challenge_mode: bool, coach: bool = True) -> None:
    analyzer = load_analyzer_or_stop()
    model_id = analyzer.classifier.model_id
    # Per browser session (st.session_state): players never share a LiveSession or a PlaySession.
    live: LiveSession = per_browser("live", lambda: LiveSession(rules))
    live.set_rules(rules)
    feedback: RoundFeedback = per_browser("feedback", lambda: RoundFeedback(player, study_arm(player)))
    if feedback.player != player:
        feedback = st.session_state.feedback = RoundFeedback(player, study_arm(player))
    live.set_coach(coach and feedback.live)
    session: PlaySession = per_browser("challenge", lambda: new_session(player, model_id))
    session.rename((player,))
    baseline = player_baseline(player)
    live.set_neutral(0, baseline.blendshapes if baseline else None)

    offer_checkup(player, st.container() if challenge_mode else None)
    left, right = st.columns([3, 2])
    with left:
        ctx = webcam("facematch-webcam", analyzer, live, annotate=feedback.live)
    with right:
        controls = st.container()
        note = st.empty()
        panel = LivePanel()

    if not challenge_mode:
        live.stop_round()
    elif controls.button("New session", help="Start over with a fresh shuffled set of emotions"):
        session = st.session_state.challenge = new_session(player, model_id)
        live.stop_round()
    calibrate = controls.button(
        f"🧘 Calibrate the coach ({CALIBRATION_S:.0f} s)", disabled=not ctx.state.playing,
        help="Optional: hold a relaxed, neutral face for a moment, so the coach does not count your "
             "resting face as expression. The round waits meanwhile and starts again after.")
    if calibrate and ctx.state.playing:
        live.start_calibration(time.monotonic())
    note.caption(st.session_state.get("calibration_note") or
                 ("🧘 Coach calibrated to your resting face." if baseline else
                  "🧘 Tip: calibrate the coach once (optional) so it ignores your resting face."))

    if not ctx.state.playing:
        panel.status.info("Press **START** to turn on your webcam" +
                          (" and begin the rounds." if challenge_mode else "."))
        return

    # The script thread polls the shared state and redraws; the callback thread does the work.
    while ctx.state.playing:
        now = time.monotonic()
        snap = live.snapshot(now)
        if snap.calibration is not None:
            if snap.calibration.done or snap.calibration.failed:
                finished = live.finish_calibration(now)
                if finished is not None:
                    text = save_baseline(player, finished, model_id)
                    live.set_neutral(0, finished.blendshapes)
                else:
                    text = "Calibration stopped: no face was seen. Look at the camera and try again."
                st.session_state.calibration_note = text
                note.caption(text)
            else:
                panel.draw(snap.result, None, calibration_text(snap.calibration.progress, snap.calibration.readings),
                           "")
            time.sleep(panel_pause())
            continue
        if not challenge_mode:
            panel.draw(snap.result, None, "", "")
            time.sleep(panel_pause())
            continue
        live.set_rules(level_rules(session, rules))
        records = drive(session, live, now)
        if records:
            feedback.finished(session.session_id, records[0].round_index, records[0].target)
        save_records(records, panel.alert)
        live.set_rules(level_rules(session, rules))  # the next round, if one started, plays at its own level
        snap = live.snapshot(now)
        if not feedback.live:
            draw_without_live_feedback(panel, session, snap, live, feedback, now)
            time.sleep(panel_pause())
            continue
        last = finished_text(session)
        if session.over:
            panel.draw(snap.result, None, summary_text(session), last, over=True,
                       faces=moments_strip_html(session.rounds))
        elif snap.round is not None:
            target = snap.round.target_name
            level = LEVELS[session.current_level - 1]
            status = round_status(session, snap, live, now, with_total=True)
            score = (f"Score now: **{round_score(snap.round, live.rules)}** · target {snap.round.smoothed:.0%} "
                     f"(smoothed), threshold {live.rules.threshold:.0%}" + (f"  \n{last}" if last else ""))
            view = snap.coach[0] if snap.coach else None
            feedback.record(now - snap.round.started_at, round_score(snap.round, live.rules),
                            view.line(snap.round.smoothed, live.rules.threshold) if view else "")
            panel.draw(snap.result, target, status, score, coach=view, judged=snap.round.smoothed,
                       threshold=live.rules.threshold, faces=faces_html(target, view, coach, level.intensity),
                       moment=last_moment(session))
        time.sleep(panel_pause())
