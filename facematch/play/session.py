"""A play session: its targets, which round is on, finished rounds → RoundRecords, totals, winner.

Pure (no Streamlit, no clock, no I/O): the pages drive it and draw it, the tests drive it with
explicit states. One class serves every mode: Challenge and Snapshot have one player,
Duel has two, who play the same targets side by side.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facematch import EMOTIONS
from facematch.play.history import RoundRecord
from facematch.play.rules import RoundRules, RoundState, SessionSummary, round_score, session_targets, summarize_session

MODES = ("challenge", "snapshot", "duel")


@dataclass(frozen=True)
class PlayerRound:
    """One player's finished round: what the page shows and what the history stores."""

    player: str
    target: str
    score: int
    matched: bool
    time_to_match: float | None
    peak: float
    held_back: str | None = None  # the coach's action unit furthest from its aim (e.g. "AU15"), if any
    # The face at the round's peak (a small BGR image): in this browser session's memory only, never saved.
    best: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class FinishedRound:
    index: int  # 0-based round number in the session
    target: str
    players: tuple[PlayerRound, ...]  # in seat order

    @property
    def winner(self) -> int | None:
        """The seat that matched first (Duel); None when nobody matched or both matched at the same moment."""
        times = [p.time_to_match for p in self.players if p.matched]
        if not times:
            return None
        fastest = [seat for seat, p in enumerate(self.players) if p.matched and p.time_to_match == min(times)]
        return fastest[0] if len(fastest) == 1 else None


@dataclass
class PlaySession:
    """Targets in a shuffled order, each played once; every seat plays every round.

    players: one name per seat (Duel: Player 1 on the left, Player 2 on the right). A player
    may change their name mid-session (rename): later rounds are saved under the new name, and
    totals count by seat.
    """

    players: tuple[str, ...]
    mode: str = "challenge"
    model_id: str = ""
    seed: int | None = None
    targets: list[int] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)  # the level of each round (facematch.play.levels); 1s by default
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rounds: list[FinishedRound] = field(default_factory=list)
    _scored_photos: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self):
        self.rename(self.players)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not self.targets:
            self.targets = session_targets(self.seed)
        if not self.levels:
            self.levels = [1] * len(self.targets)
        if len(self.levels) != len(self.targets):
            raise ValueError("a session needs one level per target")

    def rename(self, players: Sequence[str]) -> None:
        players = tuple(players)
        if not players or (self.rounds and len(players) != len(self.players)):
            raise ValueError("a session keeps its number of players (at least one)")
        if len(set(players)) != len(players):
            raise ValueError(f"players need different names, got {list(players)}")
        self.players = players

    # -- where the session stands -------------------------------------------------------------
    @property
    def over(self) -> bool:
        return len(self.rounds) >= len(self.targets)

    @property
    def round_index(self) -> int:
        """0-based index of the round being played (== number of rounds when over)."""
        return len(self.rounds)

    @property
    def current_target(self) -> str | None:
        return None if self.over else EMOTIONS[self.targets[self.round_index]]

    @property
    def current_level(self) -> int | None:
        return None if self.over else self.levels[self.round_index]

    @property
    def last_round(self) -> FinishedRound | None:
        return self.rounds[-1] if self.rounds else None

    # -- finishing rounds ------------------------------------------------------------------------
    def finish_round(self, states: Sequence[RoundState], rules: RoundRules,
                     held_back: Sequence[str | None] | None = None,
                     best: Sequence[np.ndarray | None] | None = None) -> list[RoundRecord]:
        """Score the current round from each seat's final state; returns the records to save.

        States must be for the current target, one per seat, and finished. held_back: per seat,
        the action unit that held the player back (from the coach), or None.
        """
        if self.over:
            raise ValueError("the session is over; start a new one")
        if len(states) != len(self.players):
            raise ValueError(f"expected {len(self.players)} round states (one per player), got {len(states)}")
        target = self.current_target
        for state in states:
            if state.target_name != target or not state.finished:
                raise ValueError(f"a finished {target} round is expected, got {state.target_name} "
                                 f"(finished={state.finished})")
        held_back = list(held_back) if held_back is not None else [None] * len(states)
        best = list(best) if best is not None else [None] * len(states)
        if len(held_back) != len(states) or len(best) != len(states):
            raise ValueError(f"expected {len(states)} held_back and best entries (one per player)")
        players = tuple(PlayerRound(player=name, target=target, score=round_score(state, rules),
                                    matched=state.matched, time_to_match=state.time_to_match, peak=state.peak,
                                    held_back=muscle, best=image)
                        for name, state, muscle, image in zip(self.players, states, held_back, best))
        finished = FinishedRound(index=self.round_index, target=target, players=players)
        self.rounds.append(finished)
        return [RoundRecord(player=p.player, session_id=self.session_id, round_index=finished.index, target=target,
                            score=p.score, matched=p.matched, time_to_match=p.time_to_match,
                            peak_probability=p.peak, model_id=self.model_id, mode=self.mode,
                            held_back=p.held_back, level=self.levels[finished.index])
                for p in players]

    def is_new_photo(self, data: bytes) -> bool:
        """True the first time a photo's bytes are seen: a page rerun must not score the same photo twice."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._scored_photos:
            return False
        self._scored_photos.add(digest)
        return True

    # -- totals, by seat ------------------------------------------------------------------------
    def total(self, seat: int = 0) -> int:
        return sum(r.players[seat].score for r in self.rounds)

    def summary(self, seat: int = 0) -> SessionSummary:
        return summarize_session([(r.target, r.players[seat].score, r.players[seat].matched) for r in self.rounds])

    def wins(self) -> list[int]:
        """Rounds won per seat (Duel: first to match)."""
        counts = [0] * len(self.players)
        for r in self.rounds:
            if r.winner is not None:
                counts[r.winner] += 1
        return counts

    @property
    def winner(self) -> int | None:
        """The Duel's winning seat once the session is over: most rounds won, then the higher total;
        None for a draw, a session still running or a single player."""
        if not self.over or len(self.players) < 2:
            return None
        ranking = sorted(((w, self.total(seat), seat) for seat, w in enumerate(self.wins())), reverse=True)
        if ranking[0][:2] == ranking[1][:2]:
            return None
        return ranking[0][2]
