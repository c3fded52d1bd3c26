"""A supervisor's roster: one row per player of their groups, with where each stands per emotion. Pure: the page
is facematch/app/roster.py and the players come from HistoryStore.roster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from facematch import EMOTIONS
from facematch.play.levels import challenge_rounds, progress
from facematch.play.progress import checkups
from facematch.play.recognition import MODE as READING
from facematch.play.schema import PLAY_MODES


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values)) if values else None


def roster_rows(members: Sequence[Mapping], rounds: Mapping[str, Sequence[Mapping]]) -> list[dict]:
    """Per player (HistoryStore.roster rows; `rounds`: each player's rows, oldest first): name, email, groups, how
    much they played, and per emotion their level of making faces, their latest check-up score and their first."""
    table = []
    for member in members:
        rows = list(rounds.get(member["player"], ()))
        made = [r for r in rows if r["mode"] in PLAY_MODES]
        read = [r for r in rows if r["mode"] == READING]
        done = checkups(rows)
        row = {"player": member["display_name"], "email": member.get("email") or "",
               "groups": ", ".join(member["groups"]), "rounds": len(made),
               "average score": _mean([float(r["score"]) for r in made]),
               "faces read right": f"{sum(r['answer'] == r['target'] for r in read)} of {len(read)}",
               "check-ups": len(done),
               "last played": max((str(r["played_at"]) for r in rows), default="")[:10]}
        history = challenge_rounds(rows)
        for emotion in EMOTIONS:
            row[f"{emotion} level"] = progress(history, emotion).level
            row[f"{emotion} check-up"] = _mean([float(r["score"]) for r in done[-1] if r["target"] == emotion]) \
                if done else None
            row[f"{emotion} first check-up"] = _mean([float(r["score"]) for r in done[0] if r["target"] == emotion]) \
                if len(done) > 1 else None
        table.append(row)
    return table
