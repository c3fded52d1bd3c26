"""Tables and Altair charts for the History page (plain functions of a DataFrame; no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from facematch import EMOTIONS
from facematch.play.coach import held_back_text
from facematch.play.levels import LEVELS, PlayedRound, progress


def rounds_frame(rows: list[dict]) -> pd.DataFrame:
    columns = ["played_at", "player", "session_id", "round_index", "mode", "target", "level", "score", "matched",
               "time_to_match", "peak_probability", "held_back", "answer", "answer_s", "intensity", "distractor",
               "recipe_distance", "model_id"]
    frame = pd.DataFrame(rows, columns=columns)  # the known columns, in this order (no raw ids first)
    if not frame.empty:
        frame["played_at"] = pd.to_datetime(frame["played_at"], utc=True)
        frame["matched"] = frame["matched"].astype(bool)
        frame["held_back"] = [held_back_text(code) if isinstance(code, str) else "" for code in frame["held_back"]]
    return frame


def levels_frame(rounds: list[PlayedRound], names: Mapping[int, str] | None = None,
                 done: str = "matched") -> pd.DataFrame:
    """Per emotion: the level the player plays now and how far they are from passing it. `names`: each level's
    name (default: making faces' ladder); `done`: what a passed round is called ("matched", "right")."""
    names = names or {level.number: level.name for level in LEVELS}
    rows = []
    for emotion in EMOTIONS:
        standing = progress(rounds, emotion)
        rows.append({"emotion": emotion, "level": f"{standing.level} · {names[standing.level]}",
                     "last rounds at this level": f"{standing.matched_recently} of {standing.played_recently} {done}",
                     "to pass": f"{standing.to_pass} more {done}" if standing.to_pass else "passed"})
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


def confusion_frame(counts: Mapping[tuple[str, str | None], int]) -> pd.DataFrame:
    """Reading faces: per emotion shown (rows), how often each answer was given (columns, "time's up" last),
    and the share read right."""
    answers = [*EMOTIONS, None]
    rows = []
    for shown in EMOTIONS:
        row = {"shown": shown}
        row.update({("time's up" if a is None else a): int(counts.get((shown, a), 0)) for a in answers})
        total = sum(counts.get((shown, a), 0) for a in answers)
        row["read right"] = f"{counts.get((shown, shown), 0) / total:.0%}" if total else "–"
        rows.append(row)
    return pd.DataFrame(rows)
