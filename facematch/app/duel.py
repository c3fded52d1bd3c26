"""Duel mode: two players in front of one camera; the first to match the target wins the round.

Player 1 is the face on the left, Player 2 the one on the right (facematch.play.faces.assign_seats).
Each has their own smoothed probability and score; a session of 7 rounds ends with a winner.
"""

from __future__ import annotations

import time

import streamlit as st

from facematch.app.panel import ChangedOnly, coach_markdown, faces_html
from facematch.app.resources import load_analyzer_or_stop, panel_pause, per_browser
from facematch.app.saving import player_baseline, save_records
from facematch.app.texts import round_header, target_text
from facematch.app.webcam import webcam
from facematch.config import session_seed
from facematch.play.faces import SEAT_NAMES, assign_seats
from facematch.play.live import LiveSession, LiveSnapshot, drive
from facematch.play.rules import RoundRules
from facematch.play.session import PlaySession

SEATS = 2
SEAT_MARKS = ("🔵", "🟠")  # the box colours in the video


def new_session(players: tuple[str, str], model_id: str) -> PlaySession:
    return PlaySession(players=players, mode="duel", model_id=model_id, seed=session_seed())


def who_is_missing(snap: LiveSnapshot, players: tuple[str, str]) -> str:
    if snap.result is None:
        return "Waiting for video… allow camera access and press START."
    missing = [f"{SEAT_NAMES[i]} ({players[i]}, {('left', 'right')[i]})"
               for i, face in enumerate(assign_seats(snap.result, SEATS)) if face is None]
    if not missing:
        return "Both players are in the picture."
    return "**Missing:** " + " and ".join(missing) + " — step into the camera's view."


def last_round_text(session: PlaySession) -> str:
    last = session.last_round
    if last is None:
        return ""
    scores = " · ".join(f"{p.player} {p.score}" for p in last.players)
    if last.winner is None:
        return f"Last round ({last.target}): **nobody won** ({scores})."
    return f"Last round ({last.target}): **{session.players[last.winner]} wins** ({scores})."


def final_text(session: PlaySession) -> str:
    wins = session.wins()
    tally = ", ".join(f"{name} {wins[i]} rounds won, {session.total(i)} points"
                      for i, name in enumerate(session.players))
    if session.winner is None:
        return f"**Duel over: a draw.** {tally}."
    return f"**Duel over: {session.players[session.winner]} wins!** {tally}."


def run(players: tuple[str, str], rules: RoundRules, coach: bool = True, saved: bool = True) -> None:
    """saved=False (signed in, beside a guest): the rounds are neither saved nor read from anyone's history."""
    analyzer = load_analyzer_or_stop()
    model_id = analyzer.classifier.model_id
    live: LiveSession = per_browser("duel_live", lambda: LiveSession(rules, seats=SEATS))
    live.set_rules(rules)
    live.set_coach(coach)
    session: PlaySession = per_browser("duel", lambda: new_session(players, model_id))
    session.rename(players)
    for seat, name in enumerate(players):  # each player's calibration (made in Challenge or Practice)
        baseline = player_baseline(name) if saved else None
        live.set_neutral(seat, baseline.blendshapes if baseline else None)

    left, right = st.columns([3, 2])
    with left:
        ctx = webcam("facematch-duel", analyzer, live)
    with right:
        if st.button("New duel", help="Start over with a fresh shuffled set of emotions"):
            session = st.session_state.duel = new_session(players, model_id)
            live.stop_round()
        alert, status, target_face, presence, last = st.empty(), st.empty(), st.empty(), st.empty(), st.empty()
        columns = st.columns(SEATS)
        meters = [column.empty() for column in columns]
        mirrors = [column.empty() for column in columns]
        coaches = [column.empty() for column in columns]
    sent = ChangedOnly()

    if not ctx.state.playing:
        status.info("Two players, one camera: Player 1 stands on the left, Player 2 on the right. "
                    "Press **START** to begin the duel.")
        return

    # The script thread polls the shared state and redraws; the callback thread does the work.
    while ctx.state.playing:
        finished = drive(session, live, time.monotonic())
        if saved:
            save_records(finished, alert)
        now = time.monotonic()
        snap = live.snapshot(now)
        presence.markdown(who_is_missing(snap, players))
        last.markdown(last_round_text(session) or " ")
        if session.over:
            status.success(final_text(session))
        elif snap.rounds is not None:
            wins = session.wins()
            status.markdown(f"{round_header(session)} · rounds won: " +
                            " – ".join(f"{players[i]} **{wins[i]}**" for i in range(SEATS)) + "\n\n" +
                            target_text(snap.round.target_name, snap.round.remaining(live.rules, now)))
            sent.put(target_face, "target", faces_html(snap.round.target_name, None, coach_on=False), "html")
            for i, state in enumerate(snap.rounds):
                meters[i].metric(f"{SEAT_MARKS[i]} {SEAT_NAMES[i]}: {players[i]}", f"{state.smoothed:.0%}",
                                 help=f"Smoothed probability of {state.target_name}; "
                                      f"{live.rules.threshold:.0%} held for {live.rules.hold_s:.1f} s matches")
                view = snap.coach[i] if snap.coach else None
                if coach:  # each player's own face as the coach reads it, under their score
                    sent.put(mirrors[i], f"mirror{i}", faces_html(None, view, size=110), "html")
                coaches[i].markdown(coach_markdown(view, state.smoothed, live.rules.threshold),
                                    unsafe_allow_html=True)  # our labels only
        time.sleep(panel_pause())
