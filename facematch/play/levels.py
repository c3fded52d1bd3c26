"""Levels that adapt to the player: per emotion, a ladder of harder asks, and the Challenge plan. Pure.

    1 show it     the face, as the round's rules ask today (0.5 held for 0.5 s)
    2 hold it     the same face held 2 s: control over time
    3 control it  a slight face the judge still reads: its smoothed probability held between the
                  threshold and CONTROL_CEILING (the avatar shows the target part way, at
                  CONTROL_INTENSITY), so a full-blown face does not count

Not yet: "switch", from another emotion to the target within the round, which needs a round in two
phases (first the other emotion, then the change timed), not only other rules.

Why this ladder: showing an emotion for a moment is the easy part; holding it, grading it and moving
between emotions are the skills that need training, and increasing difficulty is what reviews of
serious games find implemented least. Each level keeps the one scoring rule (facematch.play.rules),
with its own hold time.

A player passes a level of an emotion by matching it in PASS_OF of their last PASS_WINDOW rounds of
that emotion at that level; the next level is then unlocked. New players start at level 1.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from facematch import EMOTIONS
from facematch.play.rules import RoundRules

PASS_OF, PASS_WINDOW = 3, 5  # matched in 3 of the last 5 rounds at a level passes it
CONTROL_CEILING, CONTROL_INTENSITY = 0.8, 0.55  # level 3: the band's top; how far the avatar goes


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    hold_s: float | None = None  # None: the round rules' own hold time
    intensity: float = 1.0  # how strongly the avatar shows the target
    ceiling: float = 1.0  # the probability the match must stay under (1: no ceiling)

    def rules(self, base: RoundRules) -> RoundRules:
        """The round rules of this level, from the player's base rules (a ceiling stays above their threshold)."""
        rules = base if self.hold_s is None else replace(base, hold_s=self.hold_s)
        if self.ceiling < 1.0:
            rules = replace(rules, ceiling=min(1.0, max(self.ceiling, rules.threshold + 0.15)))
        return rules

    def ask(self, emotion: str, held_s: float) -> str:
        """What the screen says is asked, e.g. "Fear · level 2: hold it for 2 s"."""
        title = f"{emotion.capitalize()} · level {self.number}: {self.name}"
        if self.hold_s is not None:
            return f"{title} for {self.hold_s:g} s"
        if self.ceiling < 1.0:
            return f"{title}: a slight {emotion} face, not a full one"
        if self.number == 1:
            return f"{title} (hold {held_s:g} s)"
        return title


LEVELS = (
    Level(1, "show it"),
    Level(2, "hold it", hold_s=2.0),
    Level(3, "control it", intensity=CONTROL_INTENSITY, ceiling=CONTROL_CEILING),
)
TOP = LEVELS[-1].number


@dataclass(frozen=True)
class PlayedRound:
    """What the levels need of a saved round, oldest first."""

    emotion: str
    level: int
    matched: bool


@dataclass(frozen=True)
class EmotionProgress:
    emotion: str
    level: int  # the level the player plays now (1..TOP)
    matched_recently: int  # matched rounds among the last PASS_WINDOW at that level
    played_recently: int  # rounds played at that level, up to PASS_WINDOW

    @property
    def to_pass(self) -> int:
        """Matched rounds still needed to pass the current level (0 at the top, once passed)."""
        return max(0, PASS_OF - self.matched_recently)

    def text(self) -> str:
        return (f"level {self.level} · {self.matched_recently} of the last {self.played_recently} matched "
                f"(pass: {PASS_OF} of {PASS_WINDOW})")


def rounds_of_mode(rows: Iterable[Mapping], mode: str) -> list[PlayedRound]:
    """A player's saved rounds of one mode (HistoryStore.rounds rows, oldest first) as the levels read them."""
    return [PlayedRound(r["target"], int(r["level"]), bool(r["matched"])) for r in rows if r["mode"] == mode]


def challenge_rounds(rows: Iterable[Mapping]) -> list[PlayedRound]:
    """The Challenge rounds, which the levels of making faces read."""
    return rounds_of_mode(rows, "challenge")


def _passed(rounds: Sequence[PlayedRound]) -> bool:
    return sum(r.matched for r in rounds[-PASS_WINDOW:]) >= PASS_OF


def progress(history: Iterable[PlayedRound], emotion: str) -> EmotionProgress:
    """Where a player stands with an emotion: each level passed unlocks the next."""
    if emotion not in EMOTIONS:
        raise ValueError(f"emotion must be one of {list(EMOTIONS)}, got {emotion!r}")
    mine = [r for r in history if r.emotion == emotion]
    level = 1
    while level < TOP and _passed([r for r in mine if r.level == level]):
        level += 1
    recent = [r for r in mine if r.level == level][-PASS_WINDOW:]
    return EmotionProgress(emotion, level, sum(r.matched for r in recent), len(recent))


def plan_challenge(history: Iterable[PlayedRound], rng: random.Random | None = None,
                   after: str | None = None, shuffled: Sequence[str] | None = None) -> list[tuple[str, Level]]:
    """A Challenge session: each emotion once, at the player's level, weakest first.

    Weakest: the lowest level, then the fewest recent matches at it; ties keep the order of
    `shuffled` (the session's shuffle), else a random one. Never the same emotion twice in a row,
    across sessions too: `after` (the last round's emotion) does not open the session.
    """
    history = list(history)
    if shuffled is None:
        shuffled = list(EMOTIONS)
        (rng or random.Random()).shuffle(shuffled)
    standing = {e: progress(history, e) for e in EMOTIONS}
    order = sorted(shuffled, key=lambda e: (standing[e].level,  # stable: equals keep the shuffle
                                            standing[e].matched_recently - standing[e].played_recently / 10))
    if after is not None and order[0] == after:
        order[0], order[1] = order[1], order[0]
    return [(e, LEVELS[standing[e].level - 1]) for e in order]
