"""The face to imitate: drawn from the coach's own recipes, so it shows exactly what the coach asks for."""

import re
import xml.etree.ElementTree as ET

import pytest

from facematch import EMOTIONS
from facematch.play.avatar import avatar_svg, target_blendshapes
from facematch.play.coach import ACTION_UNITS, RECIPES, hints


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_the_coach_asks_nothing_of_the_avatars_own_face_and_something_of_every_other(emotion):
    face = target_blendshapes(emotion)
    assert hints(emotion, face) == []
    for other in EMOTIONS:
        if other != emotion:
            assert hints(other, face), f"the {emotion} face already passes as {other}"


def test_intensity_scales_the_expression_and_neutral_is_the_resting_face():
    full, half = target_blendshapes("surprise"), target_blendshapes("surprise", 0.5)
    assert set(full) == set(half) and all(half[k] == pytest.approx(full[k] / 2, abs=1e-3) for k in full)
    assert target_blendshapes("neutral") == {} and target_blendshapes("happy", 0.0) == dict.fromkeys(
        target_blendshapes("happy"), 0.0)
    with pytest.raises(ValueError, match="emotion"):
        target_blendshapes("scared")
    with pytest.raises(ValueError, match="intensity"):
        target_blendshapes("happy", 1.5)


def test_every_blendshape_the_recipes_use_moves_the_drawing():
    used = {name for recipe in RECIPES.values() for code in recipe for name in ACTION_UNITS[code].blendshapes}
    rest = avatar_svg({})
    for name in sorted(used):
        assert avatar_svg({name: 0.9}) != rest, f"{name} does not move the face"


def test_the_svg_is_well_formed_sized_and_titled_and_ignores_odd_values():
    svg = avatar_svg(target_blendshapes("fear"), size=160, title="Fear <level 2>")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("width") == "160"
    assert "<title>Fear &lt;level 2&gt;</title>" in svg  # text is escaped, never markup
    odd = avatar_svg({"jawOpen": 7.0, "browInnerUp": -3, "mouthSmileLeft": float("nan"), "eyeWideLeft": "x"})
    ET.fromstring(odd)
    assert not re.search(r"nan|inf", odd)
    assert avatar_svg(None) == avatar_svg({})
