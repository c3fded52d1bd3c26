"""Study mode: does the feedback make the difference? Arms, yoked sham feedback, the anonymised export
and its analysis. Pure (the export reads rows the store returns).

Off by default; FACEMATCH_STUDY=<a secret key> turns it on. Each player is assigned at random, and
stably (the same name always lands in the same arm), to one of three arms:

    coached   the game as it is: the live score, the coach's line and gauges, the mirror face
    sham      yoked sham feedback (the non-contingent control of Cook et al. 2013): the live score and
              coach line another player saw in one of their recorded rounds of the same emotion,
              replayed in time; nothing on screen follows the player's own face
    silent    practice without feedback: the target and the face to imitate, nothing else

Check-ups (facematch.play.checkup) run in every arm and are what the export compares. The arm and
the pseudonym are keyed hashes of the player's name: without the key neither can be linked back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from facematch.play.progress import LEVEL, checkups

ARMS = ("coached", "sham", "silent")
MIN_PLAYERS = 5  # fewer players with two check-ups in an arm: no interval and no verdict (the bootstrap is unreliable)
TRACE_EVERY_S = 0.5  # how often a coached round's feedback is recorded for replay


def _keyed(key: str, player: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), f"{purpose}\0{player}".encode(), hashlib.sha256).digest()


def assign_arm(player: str, key: str) -> str:
    """The player's arm: uniform over ARMS, the same on every server and visit for the same key."""
    return ARMS[int.from_bytes(_keyed(key, player, "arm")[:8], "big") % len(ARMS)]


def pseudonym(player: str, key: str) -> str:
    """A stable pseudonym for the export ("p-" and 10 hex digits): no name leaves the database."""
    return "p-" + _keyed(key, player, "pseudonym").hex()[:10]


@dataclass
class TraceRecorder:
    """The feedback a coached player saw during one round, every TRACE_EVERY_S: (seconds since the round
    began, the live score, the coach's line). Used from the page's script thread only."""

    points: list[tuple[float, int, str]] = field(default_factory=list)

    def add(self, elapsed: float, score: int, line: str) -> None:
        if not self.points or elapsed - self.points[-1][0] >= TRACE_EVERY_S:
            self.points.append((round(elapsed, 2), int(score), line))

    def take(self) -> list[tuple[float, int, str]]:
        points, self.points = self.points, []
        return points


@dataclass(frozen=True)
class ShamReplay:
    """Another player's recorded feedback, replayed by the time since this round began."""

    points: tuple[tuple[float, int, str], ...]

    def at(self, elapsed: float) -> tuple[int, str]:
        """(score, coach line) shown `elapsed` seconds into the round: the last recorded before it."""
        shown = (0, "Coach: show me your face and I will tell you what to move.")
        for t, score, line in self.points:
            if t > elapsed:
                break
            shown = (score, line)
        return shown


# -- the export ---------------------------------------------------------------------------------
def export_rows(rows: Iterable[Mapping], key: str) -> list[dict]:
    """One row per player and check-up: pseudonym, arm, the check-up's number, date, mean score and trials,
    and how many rounds of making faces the player had played before it."""
    by_player: dict[str, list[Mapping]] = {}
    for row in rows:
        by_player.setdefault(row["player"], []).append(row)
    out = []
    for player in sorted(by_player, key=lambda p: pseudonym(p, key)):
        mine = by_player[player]
        practice = sorted(str(r["played_at"]) for r in mine if r["mode"] in ("challenge", "duel", "snapshot"))
        for number, trials in enumerate(checkups(mine), start=1):
            started = min(str(r["played_at"]) for r in trials)
            out.append({"pseudonym": pseudonym(player, key), "arm": assign_arm(player, key), "checkup": number,
                        "date": started[:10], "mean_score": round(float(np.mean([r["score"] for r in trials])), 2),
                        "trials": len(trials), "rounds_before": sum(1 for t in practice if t < started)})
    return out


def mean_interval(values: Sequence[float], draws: int = 4000, level: float = LEVEL, seed: int = 0):
    """The percentile bootstrap interval of the mean of `values`."""
    x = np.asarray(values, float)
    means = np.random.default_rng(seed).choice(x, (draws, len(x))).mean(1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class ArmEffect:
    arm: str
    players: int  # with two check-ups or more
    mean_change: float | None  # latest minus first check-up, averaged over those players
    low: float | None
    high: float | None

    @property
    def found(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)

    def sentence(self) -> str:
        if self.low is None:
            return f"{self.arm}: {self.players} player(s) with two check-ups; too few to say anything."
        verdict = ("a change larger than chance alone would give" if self.found else
                   "not distinguishable from no change")
        return (f"{self.arm}: mean change {self.mean_change:+.1f} points over {self.players} players "
                f"({LEVEL:.0%} interval {self.low:+.1f} to {self.high:+.1f}): {verdict}.")


def arm_effects(exported: Sequence[Mapping]) -> list[ArmEffect]:
    """Per arm: each player's latest check-up minus their first, its mean and a bootstrap interval."""
    changes: dict[str, list[float]] = {arm: [] for arm in ARMS}
    by_player: dict[str, list[Mapping]] = {}
    for row in exported:
        by_player.setdefault(row["pseudonym"], []).append(row)
    for rows in by_player.values():
        rows = sorted(rows, key=lambda r: r["checkup"])
        if len(rows) >= 2:
            changes[rows[0]["arm"]].append(rows[-1]["mean_score"] - rows[0]["mean_score"])
    out = []
    for arm in ARMS:
        values = changes[arm]
        if len(values) < MIN_PLAYERS:
            out.append(ArmEffect(arm, len(values), float(np.mean(values)) if values else None, None, None))
        else:
            low, high = mean_interval(values)
            out.append(ArmEffect(arm, len(values), float(np.mean(values)), low, high))
    return out
