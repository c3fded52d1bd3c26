"""Reading faces: the drawn face shows an emotion, the player names it. Rules and feedback, pure.

Difficulty follows the player's level per emotion (the same ladder as making faces: pass a level
with PASS_OF right answers among the last PASS_WINDOW faces at it, facematch.play.levels):

    1 strong   the full expression (the coach's recipe, as the avatar draws it)
    2 subtle   the same expression at SUBTLE_INTENSITY: the cues are there, but small
    3 blend    the target mixed with a confusable one (fear with some surprise, disgust with some
               anger…): the target's own cues decide

Why: recognising emotions in faces is the best-evidenced target of emotion training (computerised
recognition training, meta-analyses d ≈ 0.7), and graded intensity and blends are where people
err. After each answer the feedback names the cues that tell the shown emotion from the one the
player chose, and the avatar highlights them (avatar_svg(highlight=…)).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from facematch import EMOTIONS
from facematch.play.avatar import target_blendshapes
from facematch.play.coach import ACTION_UNITS, RECIPES
from facematch.play.history import RoundRecord
from facematch.play.levels import PlayedRound, progress, rounds_of_mode
from facematch.play.rules import shuffle_apart

MODE = "recognition"
SESSION_FACES = 10  # faces per session: every emotion once, then the player's weakest again
TIME_LIMIT_S = 8.0  # per face; an answer after it counts as "time's up"
SUBTLE_INTENSITY = 0.45
BLEND_INTENSITY, DISTRACTOR_INTENSITY, NEUTRAL_HINT = 0.8, 0.5, 0.3
DRAWN_BY = "avatar-1"  # the model_id of recognition rounds: what drew the faces, not a judge
TIERS = {1: "strong", 2: "subtle", 3: "blend"}
# The emotion each one is most often mistaken for (the FER2013 judges' and people's common errors).
CONFUSABLE = {"fear": "surprise", "surprise": "fear", "angry": "disgust", "disgust": "angry", "sad": "fear",
              "happy": "surprise", "neutral": "sad"}


@dataclass(frozen=True)
class ShownFace:
    emotion: str
    level: int
    intensity: float
    distractor: str | None = None
    distractor_intensity: float = 0.0

    def blendshapes(self) -> dict[str, float]:
        """The drawn face: the target's recipe, with the distractor's blended in (the larger value counts)."""
        shapes = target_blendshapes(self.emotion, self.intensity)
        if self.distractor:
            for name, value in target_blendshapes(self.distractor, self.distractor_intensity).items():
                shapes[name] = max(shapes.get(name, 0.0), value)
        return shapes

    def describe(self) -> str:
        """What was shown, for the player: "fear (subtle)", "fear blended with some surprise"."""
        if self.distractor:
            return f"{self.emotion} with a hint of {self.distractor}"
        return f"{self.emotion} ({TIERS[self.level]})"


def face_for(emotion: str, level: int) -> ShownFace:
    """The face shown for an emotion at a level (1 strong, 2 subtle, 3 blend)."""
    if emotion not in EMOTIONS:
        raise ValueError(f"emotion must be one of {list(EMOTIONS)}, got {emotion!r}")
    if level == 1:
        return ShownFace(emotion, 1, 1.0)
    if level == 2:
        return ShownFace(emotion, 2, SUBTLE_INTENSITY)
    if level == 3:  # a neutral face with a hint of sadness stays neutral: a smaller hint than for the others
        hint = DISTRACTOR_INTENSITY if emotion != "neutral" else NEUTRAL_HINT
        return ShownFace(emotion, 3, BLEND_INTENSITY, CONFUSABLE[emotion], hint)
    raise ValueError(f"level must be 1, 2 or 3, got {level}")


def recognition_rounds(rows: Iterable[Mapping]) -> list[PlayedRound]:
    """A player's saved rounds (oldest first) as the levels read them: recognition only, right = matched."""
    return rounds_of_mode(rows, MODE)


def plan_recognition(history: Sequence[PlayedRound], rng: random.Random | None = None,
                     count: int = SESSION_FACES) -> list[ShownFace]:
    """A session's faces: every emotion once, then the weakest ones again, each at the player's level;
    shuffled, never the same emotion twice in a row (so the last face is not given away by elimination)."""
    rng = rng or random.Random()
    standing = {e: progress(history, e) for e in EMOTIONS}
    emotions = list(EMOTIONS)
    rng.shuffle(emotions)
    weakest = sorted(emotions, key=lambda e: (standing[e].level, standing[e].matched_recently))
    picks = emotions + [weakest[i % len(weakest)] for i in range(max(0, count - len(emotions)))]
    picks = shuffle_apart(picks[:count], rng)
    return [face_for(e, standing[e].level) for e in picks]


def answer_score(correct: bool, seconds: float | None, limit_s: float = TIME_LIMIT_S) -> int:
    """100 for a right answer at once, down to 50 at the time limit; 0 when wrong or too late."""
    if not correct or seconds is None or seconds > limit_s:
        return 0
    return round(100 - 50 * max(0.0, seconds) / limit_s)


def cues(shown: str, answered: str | None) -> tuple[str, ...]:
    """The action units that tell `shown` from `answered`: in shown's recipe and not in answered's (all of
    shown's when nothing or neutral was answered); for a neutral face, the answered emotion's, which are absent."""
    own = RECIPES[shown]
    if not own:
        return RECIPES.get(answered or "", ())
    other = set(RECIPES.get(answered or "", ()))
    telling = tuple(code for code in own if code not in other)
    return telling or own


def _cue_list(codes: Sequence[str]) -> str:
    names = [f"{ACTION_UNITS[c].label} ({c})" for c in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def feedback(face: ShownFace, answered: str | None) -> str:
    """The sentence after an answer: right or not, and what to look at."""
    shown = face.emotion
    codes = cues(shown, answered)
    if answered == shown:
        head = f"Right: **{shown}**."
        look = f" Its signs: {_cue_list(RECIPES[shown])}." if RECIPES[shown] else " No muscle is moving."
        return head + look
    head = f"Time's up: it was **{shown}**." if answered is None else f"It was **{shown}**, not {answered}."
    if not RECIPES[shown]:
        return head + f" No muscle is moving; {answered} would show {_cue_list(codes)}." if codes else head
    return head + f" Look at the {_cue_list(codes)}."


def confusions(rows: Iterable[Mapping]) -> Counter:
    """(shown, answered) → how many times, over the player's recognition rounds (answered None: time ran out)."""
    return Counter((r["target"], r.get("answer")) for r in rows if r["mode"] == MODE)


def confusion_sentences(counts: Mapping[tuple[str, str | None], int], most: int = 3) -> list[str]:
    """The player's most frequent mistakes as advice, e.g. "You read fear as surprise 4 times: look at the …"."""
    mistakes = sorted(((n, shown, answered) for (shown, answered), n in counts.items()
                       if answered is not None and answered != shown), key=lambda m: (-m[0], m[1], m[2]))
    out = []
    for n, shown, answered in mistakes[:most]:
        codes = cues(shown, answered)
        times = "once" if n == 1 else f"{n} times"
        look = f"look at the {_cue_list(codes)}" if RECIPES[shown] else f"a {shown} face moves no muscle"
        out.append(f"You read {shown} as {answered} {times}: {look}.")
    return out


@dataclass(frozen=True)
class Answer:
    face: ShownFace
    answered: str | None  # None: the time ran out
    seconds: float | None  # None: the time ran out
    score: int

    @property
    def correct(self) -> bool:
        return self.answered == self.face.emotion


@dataclass
class RecognitionSession:
    """One player's session of reading faces: show a face, take the answer (or the time running out),
    reveal, next. Pure: the page passes the time (time.monotonic) and saves `record(answer)`."""

    player: str
    faces: list[ShownFace]
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    limit_s: float = TIME_LIMIT_S
    answers: list[Answer] = field(default_factory=list)
    shown_at: float | None = None  # when the current face appeared; None until shown
    revealed: Answer | None = None  # the answer whose feedback is on screen, until next()

    @property
    def over(self) -> bool:
        return len(self.answers) >= len(self.faces) and self.revealed is None

    @property
    def current(self) -> ShownFace | None:
        index = len(self.answers) - (self.revealed is not None)
        return self.faces[index] if index < len(self.faces) else None

    def show(self, now: float) -> None:
        """The current face is on screen from `now` (the first call counts)."""
        if self.shown_at is None and self.revealed is None:
            self.shown_at = now

    def remaining(self, now: float) -> float:
        return self.limit_s if self.shown_at is None else max(0.0, self.limit_s - (now - self.shown_at))

    def answer(self, emotion: str | None, now: float) -> Answer | None:
        """The player named `emotion` (None: the time ran out); an answer after the time limit counts as
        time's up. None if no face is waiting for an answer (a second click on the same face)."""
        face = self.current
        if face is None or self.revealed is not None or self.shown_at is None:
            return None
        seconds = now - self.shown_at
        if emotion is not None and emotion not in EMOTIONS:
            raise ValueError(f"answer must be one of {list(EMOTIONS)}, got {emotion!r}")
        if emotion is None or seconds > self.limit_s:
            emotion, seconds = None, None
        given = Answer(face, emotion, seconds, answer_score(emotion == face.emotion, seconds, self.limit_s))
        self.answers.append(given)
        self.revealed, self.shown_at = given, None
        return given

    def next(self) -> None:
        self.revealed = None

    def record(self, given: Answer, model_id: str = DRAWN_BY) -> RoundRecord:
        face = given.face
        return RoundRecord(player=self.player, session_id=self.session_id, round_index=self.answers.index(given),
                           target=face.emotion, score=given.score, matched=given.correct,
                           time_to_match=given.seconds if given.correct else None, peak_probability=0.0,
                           model_id=model_id, mode=MODE, level=face.level, answer=given.answered,
                           answer_s=given.seconds, intensity=face.intensity, distractor=face.distractor)

    def total(self) -> int:
        return sum(a.score for a in self.answers)
