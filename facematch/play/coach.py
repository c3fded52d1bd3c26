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


@dataclass(frozen=True)
class ActionUnit:
    code: str  # FACS code, e.g. "AU12"
    muscle: str  # what it does, in plain words
    blendshapes: tuple[str, ...]  # MediaPipe names, averaged
    aim: float  # blendshape score (after the player's neutral) that counts as done
    do: str  # the hint when it is missing
    relax: str  # the hint when it should rest


def _pair(stem: str) -> tuple[str, str]:
    return (f"{stem}Left", f"{stem}Right")


ACTION_UNITS = {au.code: au for au in (
    ActionUnit("AU1", "inner brow raiser", ("browInnerUp",), 0.35,
               "Raise the inner ends of your eyebrows", "Let the inner ends of your eyebrows rest"),
    ActionUnit("AU2", "outer brow raiser", _pair("browOuterUp"), 0.35,
               "Lift the outer ends of your eyebrows", "Let your eyebrows come down"),
    ActionUnit("AU4", "brow lowerer", _pair("browDown"), 0.3,
               "Pull your eyebrows down and together", "Stop frowning: smooth your brow"),
    ActionUnit("AU5", "upper lid raiser", _pair("eyeWide"), 0.3,
               "Open your eyes wide", "Relax your eyelids"),
    # MediaPipe's cheekSquint stays at 0.00 on every frame of the shared video, laughs included;
    # eyeSquint rises with them (0.3-0.6): the cheeks pushing up narrow the eyes from below.
    ActionUnit("AU6", "cheek raiser", _pair("eyeSquint"), 0.3,
               "Lift your cheeks so your eyes crinkle", "Let your cheeks drop"),
    ActionUnit("AU7", "lid tightener", _pair("eyeSquint"), 0.3,
               "Tighten your lower eyelids", "Stop squinting"),
    ActionUnit("AU9", "nose wrinkler", _pair("noseSneer"), 0.3,
               "Wrinkle your nose", "Relax your nose"),
    ActionUnit("AU10", "upper lip raiser", _pair("mouthUpperUp"), 0.3,
               "Raise your upper lip", "Let your upper lip rest"),
    ActionUnit("AU12", "lip corner puller", _pair("mouthSmile"), 0.5,
               "Pull the corners of your mouth up into a smile", "Stop smiling"),
    ActionUnit("AU15", "lip corner depressor", _pair("mouthFrown"), 0.25,
               "Pull the corners of your mouth down", "Let the corners of your mouth rest"),
    ActionUnit("AU20", "lip stretcher", _pair("mouthStretch"), 0.25,
               "Stretch your lips sideways, towards your ears", "Relax your lips"),
    ActionUnit("AU23", "lip tightener", _pair("mouthPress"), 0.3,
               "Press your lips together tightly", "Relax your lips"),
    ActionUnit("AU26", "jaw drop", ("jawOpen",), 0.3,
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
TOLERANCE = 0.08  # how far below its aim a muscle may stay before the coach mentions it
AT_REST = 0.25  # for neutral: any action unit above this (after the baseline) is named


@dataclass(frozen=True)
class Hint:
    code: str  # the action unit, e.g. "AU12"
    text: str  # short imperative, e.g. "Raise the inner ends of your eyebrows"
    current: float  # its blendshape score now (after the player's neutral), 0..1
    aim: float  # what the target needs: at least this (or, to relax, at most this)

    @property
    def gap(self) -> float:
        return abs(self.aim - self.current)


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
    if target not in RECIPES:
        raise ValueError(f"target must be one of {sorted(RECIPES)}, got {target!r}")
    found: list[Hint] = []
    if RECIPES[target]:
        for code in RECIPES[target]:
            unit, now = ACTION_UNITS[code], activation(code, blendshapes, neutral)
            if now < unit.aim - TOLERANCE:
                found.append(Hint(code, unit.do, now, unit.aim))
    else:  # neutral: every action unit at rest
        for code, unit in ACTION_UNITS.items():
            now = activation(code, blendshapes, neutral)
            if now > AT_REST:
                found.append(Hint(code, unit.relax, now, AT_REST))
    return sorted(found, key=lambda h: h.gap, reverse=True)


def held_back(target: str, frames: Iterable[Mapping[str, float]], neutral: Mapping[str, float] | None = None):
    """The action unit that stayed furthest from its aim over a round's frames (None if none did).

    Returns (code, mean gap). For a round's summary: "what held you back".
    """
    totals: dict[str, float] = {}
    count = 0
    for shapes in frames:
        count += 1
        for hint in hints(target, shapes, neutral):
            totals[hint.code] = totals.get(hint.code, 0.0) + hint.gap
    if not totals:
        return None
    code = max(totals, key=totals.get)
    return code, totals[code] / count


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
