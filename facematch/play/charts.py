"""Tables and Altair charts for the History page (plain functions of a DataFrame; no Streamlit)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from facematch import EMOTIONS
from facematch.play.coach import held_back_text
from facematch.play.levels import LEVELS, PlayedRound, progress


def rounds_frame(rows: list[dict]) -> pd.DataFrame:
    columns = ["played_at", "player", "session_id", "round_index", "target", "level", "score", "matched",
               "time_to_match", "peak_probability", "held_back", "mode", "model_id"]
    frame = pd.DataFrame(rows, columns=columns)  # the known columns, in this order (no raw ids first)
    if not frame.empty:
        frame["played_at"] = pd.to_datetime(frame["played_at"], utc=True)
        frame["matched"] = frame["matched"].astype(bool)
        frame["held_back"] = [held_back_text(code) if isinstance(code, str) else "" for code in frame["held_back"]]
    return frame


def levels_frame(rounds: list[PlayedRound]) -> pd.DataFrame:
    """Per emotion: the level the player plays now and how far they are from passing it."""
    rows = []
    for emotion in EMOTIONS:
        standing = progress(rounds, emotion)
        level = LEVELS[standing.level - 1]
        rows.append({"emotion": emotion, "level": f"{level.number} · {level.name}",
                     "last rounds at this level": f"{standing.matched_recently} of {standing.played_recently} matched",
                     "to pass": f"{standing.to_pass} more matched" if standing.to_pass else "passed"})
    return pd.DataFrame(rows)


def missed_muscles(frame: pd.DataFrame) -> pd.DataFrame:
    """Per emotion: the muscle that most often held the player back, in how many of its coached rounds."""
    coached = frame[frame["held_back"].astype(bool)] if not frame.empty else frame
    rows = []
    for emotion in EMOTIONS:
        muscles = coached.loc[coached["target"] == emotion, "held_back"].value_counts()
        if not muscles.empty:
            rows.append({"emotion": emotion, "muscle to practise": muscles.index[0],
                         "rounds it held you back": int(muscles.iloc[0]),
                         "coached rounds": int((coached["target"] == emotion).sum())})
    return pd.DataFrame(rows, columns=["emotion", "muscle to practise", "rounds it held you back", "coached rounds"])


def scores_over_time(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("played_at:T", title="time"),
        y=alt.Y("score:Q", title="round score", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("target:N", title="emotion", sort=list(EMOTIONS)),
        tooltip=["played_at:T", "target:N", "score:Q", "matched:N", "time_to_match:Q"],
    ).properties(height=280, title="Scores over time")


def average_by_emotion(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("target:N", title="emotion", sort=list(EMOTIONS)),
        y=alt.Y("mean(score):Q", title="average score", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("target:N", legend=None, sort=list(EMOTIONS)),
        tooltip=["target:N", alt.Tooltip("mean(score):Q", format=".1f"), "count():Q"],
    ).properties(height=280, title="Average score per emotion")
