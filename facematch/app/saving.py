"""Saving what the player did: finished rounds and the coach's calibration, with a message on the page
when the history database cannot take them (the game goes on)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from facematch.app.resources import get_store, per_browser
from facematch.errors import FacematchError
from facematch.play.calibration import Baseline
from facematch.play.history import RoundRecord, StoredBaseline


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
    try:
        get_store().add_baseline(stored)
    except FacematchError as exc:
        text += f" It could not be saved to the history database ({exc}): it lasts for this session only."
    return text


def save_records(records: Sequence[RoundRecord], slot=None) -> None:
    """Store finished rounds. On failure the game goes on, the rounds still count in the session, and
    `slot` (a fixed place on the page; else the end of the page) says so until a later save works."""
    if not records:
        return
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
