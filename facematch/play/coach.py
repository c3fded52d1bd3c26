"""The coach: which face muscles to move for a target emotion, from MediaPipe blendshapes. Pure.

Each emotion's recipe is its prototype in the Facial Action Coding System (FACS): the action
units (AUs) that make it. Sources: P. Ekman, W. V. Friesen & J. C. Hager, *Facial Action Coding
System: Manual and Investigator's Guide* (Research Nexus, 2002), for what each AU is, and the
emotion prototypes of W. V. Friesen & P. Ekman, *EMFACS-7: Emotional Facial Action Coding
System* (1983), in the form commonly tabulated from them:

    happy     AU6 + AU12                          surprise  AU1 + AU2 + AU5 + AU26
    sad       AU1 + AU4 + AU15                    fear      AU1 + AU2 + AU4 + AU5 + AU7 + AU20 + AU26
    angry     AU4 + AU5 + AU7 + AU23              disgust   AU9 + AU15 + AU16
    neutral   no action unit

For disgust we ask for AU10 (upper lip raiser, the other EMFACS disgust unit) instead of AU16:
AU16's blendshape (mouthLowerDown) also moves whenever the player talks.
Each AU is read from the MediaPipe Face Landmarker blendshapes (ARKit names) that move the
same muscles, left and right averaged: e.g. AU12 (zygomaticus major, lip corner puller) is
mouthSmileLeft/Right. A player's own resting face (`neutral`, from calibration) is subtracted
first, so a resting smile or frown does not count as expression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ActionUnit:
    code: str  # FACS code, e.g. "AU12"
    muscle: str  # FACS name, e.g. "lip corner puller"
    label: str  # what a player calls it, for the gauges: "smile"
    blendshapes: tuple[str, ...]  # MediaPipe names, averaged
    aim: float  # blendshape score (after the player's neutral) that counts as done
    do: str  # the hint when it is missing
    relax: str  # the hint when it should rest


def _pair(stem: str) -> tuple[str, str]:
    return (f"{stem}Left", f"{stem}Right")


ACTION_UNITS = {au.code: au for au in (
    ActionUnit("AU1", "inner brow raiser", "inner brows up", ("browInnerUp",), 0.35,
               "Raise the inner ends of your eyebrows", "Let the inner ends of your eyebrows rest"),
    ActionUnit("AU2", "outer brow raiser", "outer brows up", _pair("browOuterUp"), 0.35,
               "Lift the outer ends of your eyebrows", "Let your eyebrows come down"),
    ActionUnit("AU4", "brow lowerer", "brows down", _pair("browDown"), 0.3,
               "Pull your eyebrows down and together", "Stop frowning: smooth your brow"),
    ActionUnit("AU5", "upper lid raiser", "eyes wide", _pair("eyeWide"), 0.3,
               "Open your eyes wide", "Relax your eyelids"),
    # MediaPipe's cheekSquint stays at 0.00 on every frame of the shared video, laughs included;
    # eyeSquint rises with them (0.3-0.6): the cheeks pushing up narrow the eyes from below.
    ActionUnit("AU6", "cheek raiser", "cheeks up", _pair("eyeSquint"), 0.3,
               "Lift your cheeks so your eyes crinkle", "Let your cheeks drop"),
    ActionUnit("AU7", "lid tightener", "lids tight", _pair("eyeSquint"), 0.3,
               "Tighten your lower eyelids", "Stop squinting"),
    ActionUnit("AU9", "nose wrinkler", "nose wrinkled", _pair("noseSneer"), 0.3,
               "Wrinkle your nose", "Relax your nose"),
    ActionUnit("AU10", "upper lip raiser", "upper lip up", _pair("mouthUpperUp"), 0.3,
               "Raise your upper lip", "Let your upper lip rest"),
    ActionUnit("AU12", "lip corner puller", "smile", _pair("mouthSmile"), 0.5,
               "Pull the corners of your mouth up into a smile", "Stop smiling: let your mouth corners relax"),
    ActionUnit("AU15", "lip corner depressor", "mouth corners down", _pair("mouthFrown"), 0.25,
               "Pull the corners of your mouth down", "Let the corners of your mouth rest"),
    ActionUnit("AU20", "lip stretcher", "lips stretched", _pair("mouthStretch"), 0.25,
               "Stretch your lips sideways, towards your ears", "Relax your lips"),
    ActionUnit("AU23", "lip tightener", "lips pressed", _pair("mouthPress"), 0.3,
               "Press your lips together tightly", "Relax your lips"),
    ActionUnit("AU26", "jaw drop", "jaw open", ("jawOpen",), 0.3,
               "Drop your jaw: open your mouth", "Close your mouth"),
)}

RECIPES: dict[str, tuple[str, ...]] = {
    "happy": ("AU6", "AU12"),
    "sad": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"),
    "angry": ("AU4", "AU5", "AU7", "AU23"),
    "disgust": ("AU9", "AU10", "AU15"),  # AU10 for AU16: see the module docstring
    "neutral": (),
}
# Movements that work against a target: the judge reads a smile as happy whatever else the face
# does, and a frown or a lowered brow spoils a smile. Named when they are active (above AT_REST),
# even when the target's own muscles are all there; they outrank a missing muscle of the same size.
OPPOSITES: dict[str, tuple[str, ...]] = {
    "happy": ("AU4", "AU15"),
    "sad": ("AU12",),
    "surprise": ("AU4",),
    "fear": ("AU12",),
    "angry": ("AU12",),
    "disgust": ("AU12",),
    "neutral": (),  # for neutral every action unit is checked
}
TOLERANCE = 0.08  # how far below its aim a muscle may stay before the coach mentions it
AT_REST = 0.25  # above this (after the baseline) a muscle counts as moving


@dataclass(frozen=True)
class Hint:
    code: str  # the action unit, e.g. "AU12"
    text: str  # short imperative, e.g. "Raise the inner ends of your eyebrows"
    current: float  # its blendshape score now (after the player's neutral), 0..1
    aim: float  # what the target needs: at least this (or, to relax, at most this)
    relax: bool = False  # True: the muscle should rest (current is above aim)

    @property
    def gap(self) -> float:
        return abs(self.aim - self.current)

    @property
    def label(self) -> str:
        return ACTION_UNITS[self.code].label


def _check_target(target: str) -> None:
    if target not in RECIPES:
        raise ValueError(f"target must be one of {sorted(RECIPES)}, got {target!r}")


def activation(code: str, blendshapes: Mapping[str, float], neutral: Mapping[str, float] | None = None) -> float:
    """An action unit's score in 0..1: its blendshapes averaged, minus the player's resting value."""
    unit = ACTION_UNITS[code]
    value = sum(float(blendshapes.get(name, 0.0)) for name in unit.blendshapes) / len(unit.blendshapes)
    if neutral:
        rest = sum(float(neutral.get(name, 0.0)) for name in unit.blendshapes) / len(unit.blendshapes)
        value -= rest
    return min(max(value, 0.0), 1.0)


def hints(target: str, blendshapes: Mapping[str, float], neutral: Mapping[str, float] | None = None) -> list[Hint]:
    """What to change to make `target`, most useful first (the biggest gap); empty when nothing needs to."""
    _check_target(target)
    found: list[Hint] = []
    for code in RECIPES[target]:
        unit, now = ACTION_UNITS[code], activation(code, blendshapes, neutral)
        if now < unit.aim - TOLERANCE:
            found.append(Hint(code, unit.do, now, unit.aim))
    against = OPPOSITES[target] if RECIPES[target] else tuple(ACTION_UNITS)
    for code in against:
        now = activation(code, blendshapes, neutral)
        if now > AT_REST:
            found.append(Hint(code, ACTION_UNITS[code].relax, now, AT_REST, relax=True))
    return sorted(found, key=lambda h: h.gap, reverse=True)


def recipe_distance(target: str, blendshapes: Mapping[str, float], neutral: Mapping[str, float] | None = None) -> float:
    """How far a face is from the target's recipe, measured from the player's resting face: the gaps of
    every hint (missing units below their aims, opposing ones above rest) summed, per unit of the recipe.
    0: every unit there and nothing against it. The check-ups store it beside the independent judge."""
    return sum(h.gap for h in hints(target, blendshapes, neutral)) / max(1, len(RECIPES[target]))


@dataclass(frozen=True)
class Gauge:
    """One muscle on the live panel: where it is now and where the target wants it."""

    code: str
    label: str  # "smile", "inner brows up"
    current: float
    aim: float
    relax: bool  # the aim is a ceiling (this muscle should rest), not a floor

    @property
    def reached(self) -> bool:
        return self.current <= self.aim if self.relax else self.current >= self.aim - TOLERANCE


def gauges(target: str, blendshapes: Mapping[str, float], neutral: Mapping[str, float] | None = None) -> list[Gauge]:
    """The target's muscles (now vs aim), then any muscle that works against it and is moving."""
    _check_target(target)
    out = [Gauge(code, ACTION_UNITS[code].label, activation(code, blendshapes, neutral), ACTION_UNITS[code].aim, False)
           for code in RECIPES[target]]
    out += [Gauge(h.code, h.label, h.current, h.aim, True) for h in hints(target, blendshapes, neutral) if h.relax]
    return out


_NO_CANDIDATE = object()


class HintSmoother:
    """Shows one hint and changes it only when another has led for `hold_s` seconds: no flicker.

    Pure: the caller passes the time. Used from one thread (the page script or the video callback).
    """

    def __init__(self, hold_s: float = 0.6):
        self.hold_s = hold_s
        self.shown: Hint | None = None
        self._candidate: object = _NO_CANDIDATE  # the code leading since `_since` (None: nothing to change)
        self._since = 0.0

    def update(self, ranked: Sequence[Hint], now: float) -> Hint | None:
        """The hint to show at `now`, given the current ranking (best first; empty = nothing to change)."""
        leader = ranked[0] if ranked else None
        key = leader.code if leader else None
        shown_key = self.shown.code if self.shown else None
        if key == shown_key:
            self.shown, self._candidate = leader, _NO_CANDIDATE  # same advice, fresh numbers
            return self.shown
        if key != self._candidate:
            self._candidate, self._since = key, now
        if now - self._since >= self.hold_s:
            self.shown, self._candidate = leader, _NO_CANDIDATE
        elif self.shown is not None and shown_key is not None:
            # Keep the shown advice, with its current numbers if it is still in the ranking.
            self.shown = next((h for h in ranked if h.code == shown_key), self.shown)
        return self.shown


@dataclass(frozen=True)
class CoachView:
    """What the coach says about one player at one moment (immutable: it crosses threads)."""

    target: str
    seen: bool  # blendshapes of this player's face arrived during the round
    hint: Hint | None  # the advice shown (smoothed); None with `seen` = nothing to change
    gauges: tuple[Gauge, ...] = ()
    held_back: tuple[str, float] | None = None  # the round so far: (action unit, mean gap)
    blendshapes: Mapping[str, float] | None = None  # the latest reading (read-only), for the mirror face

    def line(self, judged: float | None = None, threshold: float = 0.5) -> str:
        """One sentence for the panel; `judged` is the judge's (smoothed) probability of the target.

        The muscles can be right while the judge is not yet convinced: then the coach says so.
        """
        if not self.seen:
            return "Coach: show me your face and I will tell you what to move."
        if self.hint is None:
            if judged is not None and judged < threshold:
                return "Coach: the right muscles are moving; make the whole expression stronger and hold it."
            return "Coach: that's it, hold that face!" if self.target != "neutral" else \
                "Coach: that's it, stay relaxed!"
        h = self.hint
        where = f"now {h.current:.0%}, {'at most' if h.relax else 'aim'} {h.aim:.0%}"
        return f"Coach: {h.text} ({h.label}: {where})."


class RoundCoach:
    """The coach of one player for one round: smoothed advice, gauges, and what held the player back.

    Pure: fed one player's blendshapes with the time. Not thread-safe: its owner (LiveSession)
    calls it under its lock.
    """

    def __init__(self, target: str, neutral: Mapping[str, float] | None = None, hold_s: float = 0.6):
        _check_target(target)
        self.target, self.neutral = target, dict(neutral) if neutral else None
        self._smoother = HintSmoother(hold_s)
        self._gauges: tuple[Gauge, ...] = ()
        self._gaps: dict[str, float] = {}
        self._latest: Mapping[str, float] | None = None
        self.frames = 0

    def update(self, blendshapes: Mapping[str, float], now: float) -> None:
        ranked = hints(self.target, blendshapes, self.neutral)
        self._smoother.update(ranked, now)
        self._gauges = tuple(gauges(self.target, blendshapes, self.neutral))
        self._latest = MappingProxyType(dict(blendshapes))  # a copy: the view crosses threads
        self.frames += 1
        for hint in ranked:
            self._gaps[hint.code] = self._gaps.get(hint.code, 0.0) + hint.gap

    def held_back(self) -> tuple[str, float] | None:
        """The action unit that stayed furthest from its aim over the round: (code, mean gap); None if none."""
        if not self._gaps:
            return None
        code = max(self._gaps, key=self._gaps.get)
        return code, self._gaps[code] / self.frames

    def view(self) -> CoachView:
        return CoachView(self.target, self.frames > 0, self._smoother.shown, self._gauges, self.held_back(),
                         self._latest)


def held_back(target: str, frames: Iterable[Mapping[str, float]], neutral: Mapping[str, float] | None = None):
    """The action unit that stayed furthest from its aim over a round's frames: (code, mean gap), or None."""
    coach = RoundCoach(target, neutral)
    for i, shapes in enumerate(frames):
        coach.update(shapes, float(i))
    return coach.held_back()


def held_back_text(code: str | None) -> str:
    """ "your smile (AU12, lip corner puller)" for a round's summary and the History page."""
    if not code or code not in ACTION_UNITS:
        return ""
    unit = ACTION_UNITS[code]
    return f"{unit.label} ({code}, {unit.muscle})"
