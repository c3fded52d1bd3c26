"""A drawn face to imitate, and the player's own face drawn back: SVG from MediaPipe blendshapes. Pure.

    svg = avatar_svg(target_blendshapes("fear"))   # the face the coach asks for
    svg = avatar_svg(face.blendshapes)             # the player's face, as the landmarker reads it

`target_blendshapes` builds an expression from the coach's own FACS recipes (facematch.play.coach),
so the face shows exactly what the coach asks for: one source of truth. The drawing moves brows,
lids, eyes, cheeks, nose, lips and jaw with the blendshapes the recipes use (ARKit names;
"Left" is the face's own left, drawn on the viewer's right, as in a photo). No external assets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from html import escape

from facematch.play.coach import ACTION_UNITS, RECIPES

# Above each unit's aim, so the drawn face clears the coach's bar with room to spare.
EXPRESSION_MARGIN = 0.3
# Colours that stay apart in the common colour-vision deficiencies (no red/green pair carries meaning).
SKIN, OUTLINE, FEATURE, LIPS, MOUTH, CHEEK, EYE_WHITE = (
    "#f6d2ae", "#5b4636", "#3a2c22", "#b8646a", "#5a2630", "#f0a4a0", "#ffffff")


def target_blendshapes(emotion: str, intensity: float = 1.0) -> dict[str, float]:
    """The blendshapes of `emotion` as its coach recipe defines it, scaled by intensity (0..1).

    Every action unit of the recipe is set a margin above the coach's aim (at intensity 1); every
    other blendshape stays at 0. Neutral is the resting face.
    """
    if emotion not in RECIPES:
        raise ValueError(f"emotion must be one of {sorted(RECIPES)}, got {emotion!r}")
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be between 0 and 1, got {intensity}")
    shapes: dict[str, float] = {}
    for code in RECIPES[emotion]:
        unit = ACTION_UNITS[code]
        value = intensity * min(1.0, unit.aim + EXPRESSION_MARGIN)
        for name in unit.blendshapes:  # two units may share a blendshape (AU6, AU7): the larger counts
            shapes[name] = max(shapes.get(name, 0.0), round(value, 3))
    return shapes


def _one(shapes: Mapping[str, float], name: str) -> float:
    """A blendshape's score in 0..1; missing, non-numeric or non-finite counts as 0."""
    try:
        value = float(shapes.get(name, 0.0))
    except (TypeError, ValueError):
        return 0.0
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


def _side(shapes: Mapping[str, float], stem: str, side: str) -> float:
    return _one(shapes, f"{stem}{side}")


def _f(x: float) -> str:
    return f"{x:.1f}"


def _eye(shapes: Mapping[str, float], side: str, cx: float) -> list[str]:
    wide, squint = _side(shapes, "eyeWide", side), _side(shapes, "eyeSquint", side)
    half = max(0.9, 7.5 * (1 + 0.9 * wide - 0.75 * squint))
    cy = 94 - 1.5 * wide
    out = [f'<ellipse cx="{_f(cx)}" cy="{_f(cy)}" rx="13" ry="{_f(half)}" fill="{EYE_WHITE}" '
           f'stroke="{OUTLINE}" stroke-width="2"/>',
           f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(min(5.5, half))}" fill="{FEATURE}"/>']
    if squint > 0.05:  # the lower lid pushed up: a line under the eye
        lid = cy + half + 1.5
        out.append(f'<path d="M{_f(cx - 12)} {_f(lid + 1)} Q{_f(cx)} {_f(lid - 3 * squint)} {_f(cx + 12)} '
                   f'{_f(lid + 1)}" fill="none" stroke="{OUTLINE}" stroke-width="{_f(1 + 1.5 * squint)}" '
                   'stroke-linecap="round"/>')
    return out


def _brow(shapes: Mapping[str, float], side: str, inner_x: float, outer_x: float) -> str:
    inner_up, down = _one(shapes, "browInnerUp"), _side(shapes, "browDown", side)
    outer_up = _side(shapes, "browOuterUp", side)
    toward = 1 if inner_x > outer_x else -1  # the inner end moves towards the nose when frowning
    # Lowering (AU4) pulls the inner end down and in; raising the inner brow (AU1) lifts it: together
    # (sad, fear) the brow slants up towards the middle.
    ix, iy = inner_x - toward * 5 * down, 72 - 18 * inner_up + 13 * down
    ox, oy = outer_x, 72 - 14 * outer_up + 2 * down
    mx, my = (ix + ox) / 2, (iy + oy) / 2 - 5 + 2 * down
    return (f'<path d="M{_f(ox)} {_f(oy)} Q{_f(mx)} {_f(my)} {_f(ix)} {_f(iy)}" fill="none" stroke="{FEATURE}" '
            'stroke-width="5" stroke-linecap="round"/>')


def _nose(shapes: Mapping[str, float]) -> list[str]:
    sneer = (_side(shapes, "noseSneer", "Left") + _side(shapes, "noseSneer", "Right")) / 2
    lift = 3 * sneer
    out = [f'<path d="M100 98 Q97 114 92 {_f(122 - lift)} Q100 {_f(127 - lift)} 108 {_f(122 - lift)}" '
           f'fill="none" stroke="{OUTLINE}" stroke-width="2" stroke-linecap="round"/>']
    for i in range(3 if sneer > 0.15 else 0):  # wrinkles across the bridge
        y = 96 + 4 * i
        out.append(f'<path d="M{_f(94 - 2 * sneer)} {y} Q100 {_f(y - 2 - 2 * sneer)} {_f(106 + 2 * sneer)} {y}" '
                   f'fill="none" stroke="{OUTLINE}" stroke-width="1.2" opacity="{_f(min(1.0, sneer + 0.2))}"/>')
    return out


def _cheeks(shapes: Mapping[str, float]) -> list[str]:
    out = []
    for side, cx in (("Right", 62), ("Left", 138)):
        raise_ = max(_side(shapes, "eyeSquint", side), _side(shapes, "mouthSmile", side))
        out.append(f'<circle cx="{cx}" cy="{_f(124 - 7 * raise_)}" r="11" fill="{CHEEK}" '
                   f'opacity="{_f(0.25 + 0.5 * raise_)}"/>')
    return out


def _mouth(shapes: Mapping[str, float]) -> list[str]:
    jaw = _one(shapes, "jawOpen")
    smile = {s: _side(shapes, "mouthSmile", s) for s in ("Left", "Right")}
    frown = {s: _side(shapes, "mouthFrown", s) for s in ("Left", "Right")}
    stretch = {s: _side(shapes, "mouthStretch", s) for s in ("Left", "Right")}
    press = (_side(shapes, "mouthPress", "Left") + _side(shapes, "mouthPress", "Right")) / 2
    upper_up = (_side(shapes, "mouthUpperUp", "Left") + _side(shapes, "mouthUpperUp", "Right")) / 2
    cy = 150 + 4 * jaw

    def corner(side: str, sign: int) -> tuple[float, float]:
        half = 21 + 12 * stretch[side] + 5 * smile[side] - 5 * press
        return 100 + sign * half, cy - 12 * smile[side] + 11 * frown[side] + 2 * stretch[side]

    right, left = corner("Right", -1), corner("Left", 1)  # the face's right is on the viewer's left
    mean_smile = (smile["Left"] + smile["Right"]) / 2
    upper = cy - 4 - 9 * upper_up + 2 * press - 3 * mean_smile
    lower = cy + 5 + 30 * jaw + 9 * mean_smile - 3 * press
    lips = max(1.5, 5 - 3.5 * press)
    path = (f"M{_f(right[0])} {_f(right[1])} Q100 {_f(upper)} {_f(left[0])} {_f(left[1])} "
            f"Q100 {_f(lower)} {_f(right[0])} {_f(right[1])} Z")
    out = [f'<path d="{path}" fill="{MOUTH}" stroke="{LIPS}" stroke-width="{_f(lips)}" stroke-linejoin="round"/>']
    if upper_up > 0.2 or mean_smile > 0.4:  # teeth show under a raised upper lip or in a broad smile
        out.append(f'<path d="M{_f(right[0] + 8)} {_f((right[1] + upper) / 2 + 2)} Q100 {_f(upper + 3)} '
                   f'{_f(left[0] - 8)} {_f((left[1] + upper) / 2 + 2)}" fill="none" stroke="{EYE_WHITE}" '
                   f'stroke-width="{_f(2 + 3 * max(upper_up, mean_smile - 0.3))}" stroke-linecap="round"/>')
    return out


# Where each action unit shows on the drawn face: (cx, cy, rx, ry) ellipses, for highlighting cues.
CUE_REGIONS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "AU1": ((100, 66, 24, 10),), "AU2": ((54, 64, 15, 10), (146, 64, 15, 10)), "AU4": ((100, 80, 30, 9),),
    "AU5": ((72, 93, 18, 12), (128, 93, 18, 12)), "AU6": ((62, 121, 14, 12), (138, 121, 14, 12)),
    "AU7": ((72, 104, 16, 6), (128, 104, 16, 6)), "AU9": ((100, 101, 11, 10),), "AU10": ((100, 139, 24, 7),),
    "AU12": ((75, 145, 10, 10), (125, 145, 10, 10)), "AU15": ((75, 160, 10, 9), (125, 160, 10, 9)),
    "AU20": ((68, 152, 11, 9), (132, 152, 11, 9)), "AU23": ((100, 151, 25, 9),), "AU26": ((100, 182, 26, 12),),
}
CUE = "#e69f00"  # amber: apart from every colour of the face, in the common colour-vision deficiencies too


def _cues(codes: Iterable[str]) -> list[str]:
    out = []
    for code in dict.fromkeys(codes):  # each once, in order
        shapes = "".join(f'<ellipse cx="{cx}" cy="{cy}" rx="{rx}" ry="{ry}" fill="{CUE}" fill-opacity="0.25" '
                         f'stroke="{CUE}" stroke-width="2.5" stroke-dasharray="5 3"/>'
                         for cx, cy, rx, ry in CUE_REGIONS.get(code, ()))
        out.append(f'<g data-cue="{escape(code)}">{shapes}</g>')
    return out


def avatar_svg(blendshapes: Mapping[str, float] | None, size: int = 160, title: str | None = None,
               highlight: Iterable[str] = ()) -> str:
    """A face drawn from any blendshape mapping (missing names count as 0) as an inline SVG string;
    `highlight`: action units (e.g. "AU4") whose part of the face is ringed, the cues to look at."""
    shapes = blendshapes or {}
    jaw = _one(shapes, "jawOpen")
    parts = [f'<ellipse cx="100" cy="{_f(106 + 4 * jaw)}" rx="70" ry="{_f(86 + 5 * jaw)}" fill="{SKIN}" '
             f'stroke="{OUTLINE}" stroke-width="3"/>']
    parts += _cheeks(shapes)
    # The face's right side is on the viewer's left, as in a photo or a mirror face of the player.
    parts += _eye(shapes, "Right", 72) + _eye(shapes, "Left", 128)
    parts += [_brow(shapes, "Right", 88, 56), _brow(shapes, "Left", 112, 144)]
    parts += _nose(shapes) + _mouth(shapes) + _cues(highlight)
    label = f"<title>{escape(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 210" width="{size}" '
            f'height="{round(size * 1.05)}" role="img">{label}{"".join(parts)}</svg>')
