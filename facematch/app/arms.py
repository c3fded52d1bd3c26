"""What a Challenge round shows in each study arm (facematch.play.study). Outside a study every player
is in the coached arm: the game as it always was, and nothing is recorded for replay."""

from __future__ import annotations

from facematch.app.resources import get_store
from facematch.app.signin import saving_allowed
from facematch.errors import FacematchError
from facematch.play.study import ShamReplay, TraceRecorder


class RoundFeedback:
    """One browser session's feedback: the coached arm records what it sees (in a study), the sham arm
    replays another player's recording of the same emotion, the silent arm sees neither. Script thread only."""

    def __init__(self, player: str, arm: str | None):
        self.player, self.study = player, arm is not None
        self.arm = arm or "coached"
        self._trace = TraceRecorder()
        self._replay = ShamReplay(())
        self._round: tuple | None = None

    @property
    def live(self) -> bool:
        """Whether the player sees feedback computed from their own face."""
        return self.arm == "coached"

    def begin(self, key: tuple, target: str) -> None:
        """Called on every redraw of a round: a new round `key` starts a new recording or replay."""
        if key == self._round:
            return
        self._round = key
        self._trace.take()
        if self.arm == "sham":
            try:
                points = get_store().sham_trace(target, self.player)
            except FacematchError:
                points = None
            self._replay = ShamReplay(tuple(tuple(p) for p in points or ()))

    def record(self, elapsed: float, score: int, line: str) -> None:
        if self.study and self.live:
            self._trace.add(elapsed, score, line)

    def finished(self, session_id: str, round_index: int, target: str) -> None:
        """A round ended: keep a coached player's recording for other players' sham replay."""
        points = self._trace.take()
        if self.study and self.live and points and saving_allowed():
            try:
                get_store().add_trace(self.player, session_id, round_index, target, points)
            except FacematchError:
                pass  # the round itself is saved (or reported) separately; a lost trace only shrinks the pool

    def sham(self, elapsed: float) -> tuple[int, str]:
        return self._replay.at(elapsed)
