"""Play page: the sidebar (names, mode, round settings), then the chosen mode's file draws the rest.

Modes: challenge.py (Challenge and Practice), duel.py, snapshot.py beside this file. Game
rules, sessions, vision, cross-thread state and storage live in facematch.play.
"""

from __future__ import annotations

import streamlit as st

from facematch.app import challenge, checkup, duel, recognition, snapshot
from facematch.app.saving import player_streak
from facematch.app.signin import saving_allowed
from facematch.config import study_key
from facematch.play.history import DEFAULT_PLAYER, clean_player_name
from facematch.play.rules import RoundRules, default_rules

MODES = ("Challenge", "Practice", "Duel", "Read faces (no camera)", "Check-up", "Snapshot (no camera)")
STUDY_MODES = ("Challenge", "Check-up")
DEFAULT_RULES = default_rules()
INTRO = {
    "Challenge": "Make the face the game asks for. The model watches your webcam and scores how well, and how "
                 "fast, you match the target emotion.",
    "Check-up": "Check-up: how well can you make each expression without any help? Take one now and then to "
                "see real progress.",
    "Read faces (no camera)": "Read the face: a drawn face shows an emotion and you name it. Reading "
                              "expressions in others is half of the skill.",
}


def name_input(label: str, key: str, default: str) -> str:
    """A player-name box; the cleaned name is kept under `key` (widget state is dropped on other pages)."""
    raw = st.text_input(label, value=st.session_state.get(key, default), max_chars=200)
    name, message = clean_player_name(raw)
    st.session_state[key] = name
    if message:
        st.info(message)
    return name


def page() -> None:
    """The Play page (Streamlit runs it on every interaction)."""
    with st.sidebar:
        st.header("🎭 Facematch")
        # In a study every arm plays the same two modes (the others show live feedback to everyone).
        modes = STUDY_MODES if study_key() else MODES
        if st.session_state.get("mode") not in modes:
            st.session_state.mode = modes[0]
        mode = st.radio("Mode", modes, key="mode",
                        help="Challenge: timed rounds. Practice: free play. Duel: two players, one camera. "
                             "Read faces: name the emotion a drawn face shows. Check-up: measure your progress, "
                             "without feedback. Snapshot: no webcam stream needed.")
        account = st.session_state.get("account")  # signed in (facematch.app.signin), or None: local play
        if mode == "Duel":
            if account:
                first = account.display_name
                st.markdown(f"Player 1 (left): **{first}**")
            else:
                first = name_input("Player 1 (left)", "player", DEFAULT_PLAYER)
            second = name_input("Player 2 (right)", "player2", "player 2")
            if second == first:
                st.info("The two players need different names; Player 2 plays as “player 2”.")
                second = "player 2" if first != "player 2" else "player 2 (right)"
            players = (first, second)
            if account:
                st.caption("A duel is played for fun here: Player 2 has no sign-in on this device, so neither "
                           "player's duel rounds are saved.")
        elif account:
            players = (account.key,)  # the player is their sign-in: no name to type, nobody else to be
        else:
            players = (name_input("Your name (local play)", "player", DEFAULT_PLAYER),)  # History reads "player"
            st.caption("Local play: anyone at this computer can pick any name and see every history here.")
        # Always one element here (a stable page layout): the player's streak, or a blank.
        days = player_streak(players[0]) if mode != "Duel" else None
        st.caption(days.text() if days is not None else " ")
        with st.expander("Round settings"):
            duration = st.slider("Round length (s)", 3, 30, int(DEFAULT_RULES.duration_s))
            threshold = st.slider("Match threshold", 0.3, 0.9, DEFAULT_RULES.threshold, 0.05,
                                  help="Smoothed probability of the target needed to match.")
            hold = st.slider("Hold time (s)", 0.0, 2.0, DEFAULT_RULES.hold_s, 0.1,
                             help="How long the match must be held.")
        rules = RoundRules(duration_s=float(duration), threshold=threshold, hold_s=hold,
                           smoothing_s=DEFAULT_RULES.smoothing_s)
        coach = st.toggle("Coach", value=True, key="coach",
                          help="Live advice on which face muscles to move, with gauges; reads your face a few "
                               "times a second.")
        saved = ("Nothing of yours is saved: you chose to play without saving" if not saving_allowed() else
                 "Only round scores are saved (with your answers when you read faces, and, if you calibrate the "
                 "coach, the 52 numbers describing your resting face)"
                 + ("; in this study, also the score and coach lines you are shown" if study_key() else "")
                 + ("; with your name, email and groups from your sign-in" if account else ""))
        st.caption(f"🔒 Your video is processed in memory on this server and never written to disk or sent "
                   f"anywhere. {saved}. Your best moments stay in this tab's memory and are gone when you close it.")

    st.title("Facematch")
    st.write(INTRO.get(mode, INTRO["Challenge"]))

    if mode == "Duel":
        duel.run(players, rules, coach, saved=account is None)
    elif mode == "Read faces (no camera)":
        recognition.run(players[0])
    elif mode == "Check-up":
        checkup.run(players[0])
    elif mode == "Snapshot (no camera)":
        snapshot.run(players[0], rules)
    else:
        challenge.run(players[0], rules, challenge_mode=(mode == "Challenge"), coach=coach)
