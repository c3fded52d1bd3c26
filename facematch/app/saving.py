"""Saving what the player did: finished rounds and the coach's calibration, with a message on the page
when the history database cannot take them (the game goes on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import streamlit as st

from facematch.app.resources import get_store, per_browser
from facematch.app.signin import saving_allowed
from facematch.config import study_key
from facematch.errors import FacematchError
from facematch.play.calibration import Baseline
from facematch.play.checkup import checkup_due
from facematch.play.history import RoundRecord, StoredBaseline
from facematch.play.levels import PlayedRound, challenge_rounds
from facematch.play.streaks import Streak, goal_days, local_date, streak
from facematch.play.study import assign_arm


def played_rounds(player: str) -> list[PlayedRound]:
    """The player's Challenge rounds, oldest first, as the levels read them ([] without a history database:
    the player then plays at level 1)."""
    try:
        rows = get_store().rounds(player)
    except FacematchError:
        return []
    return challenge_rounds(rows)


def player_baseline(player: str) -> StoredBaseline | None:
    """The player's calibrated neutral face, read from the history once per browser session and name."""
    known: dict = per_browser("baselines", dict)
    if player not in known:
        try:
            known[player] = get_store().baseline(player)
        except FacematchError:
            known[player] = None  # no history database: the coach works uncalibrated
    return known[player]


def save_baseline(player: str, baseline: Baseline, model_id: str) -> str:
    """Store a finished calibration; returns what to tell the player."""
    stored = StoredBaseline(player=player, blendshapes=baseline.blendshapes, probabilities=baseline.probabilities,
                            frames=baseline.frames, model_id=model_id)
    per_browser("baselines", dict)[player] = stored  # used from the next round on, saved or not
    judged = max(baseline.probabilities, key=baseline.probabilities.get)
    text = (f"Calibrated ✓ — the coach now measures from your resting face ({baseline.frames} readings). "
            f"The judge read it as {judged} {baseline.probabilities[judged]:.0%}.")
    if judged != "neutral":
        text += " If that was not your relaxed face, calibrate again."
    if not saving_allowed():
        return text + " You play without saving: it lasts for this session only."
    try:
        get_store().add_baseline(stored)
    except FacematchError as exc:
        text += f" It could not be saved to the history database ({exc}): it lasts for this session only."
    return text


def player_today() -> date:
    """Today in this browser's time zone (UTC if the browser did not say)."""
    return local_date(datetime.now(UTC), st.context.timezone)


def player_streak(player: str) -> Streak | None:
    """The player's daily goal and streak of days; None without a history database."""
    try:
        rows = get_store().rounds(player)
    except FacematchError:
        return None
    return streak(goal_days(rows), player_today())


def study_arm(player: str) -> str | None:
    """The player's study arm (facematch.play.study), or None when no study runs (FACEMATCH_STUDY unset)."""
    key = study_key()
    return assign_arm(player, key) if key else None


def checkup_is_due(player: str) -> bool:
    """Whether to offer a check-up: at the player's first session, then once a day (never without a history
    database: its scores could not be kept)."""
    if not saving_allowed():
        return False
    try:
        rows = get_store().rounds(player)
    except FacematchError:
        return False
    return checkup_due(rows, player_today())


def save_records(records: Sequence[RoundRecord], slot=None) -> None:
    """Store finished rounds. On failure the game goes on, the rounds still count in the session, and
    `slot` (a fixed place on the page; else the end of the page) says so until a later save works."""
    if not records or not saving_allowed():
        return  # a signed-in player who chose to play without saving: the rounds count in this session only
    today = player_today().isoformat()  # the player's own calendar day: the streak counts by it
    records = [replace(record, local_date=record.local_date or today) for record in records]
    try:
        store = get_store()
        for record in records:
            store.add_round(record)
    except FacematchError as exc:
        (slot or st).error(f"This round could not be saved to the history database (it still counts in this "
                           f"session's total): {exc}")
        return
    if slot is not None:
        slot.empty()
