"""The coach's advice from blendshapes: pure rules, the live round coach, calibration, and the real
Face Landmarker on a real smile."""

import pytest

from conftest import VIDEO
from facematch import EMOTIONS
from facematch.play.calibration import CALIBRATION_MIN_FRAMES, CALIBRATION_S, CALIBRATION_TIMEOUT_S, Calibration
from facematch.play.coach import (
    ACTION_UNITS,
    RECIPES,
    HintSmoother,
    RoundCoach,
    activation,
    gauges,
    held_back,
    held_back_text,
    hints,
)

RESTING = {name: 0.02 for unit in ACTION_UNITS.values() for name in unit.blendshapes}


def face(**units: float) -> dict[str, float]:
    """Blendshapes of a face with the given action units at the given scores (AU12=0.8 ...)."""
    shapes = dict(RESTING)
    for code, value in units.items():
        for name in ACTION_UNITS[code].blendshapes:
            shapes[name] = value
    return shapes


def test_every_emotion_has_a_recipe_of_known_action_units():
    assert set(RECIPES) == set(EMOTIONS)
    assert all(code in ACTION_UNITS for recipe in RECIPES.values() for code in recipe)


def test_a_full_smile_needs_nothing_and_a_resting_face_is_told_to_smile_first():
    assert hints("happy", face(AU6=0.6, AU12=0.8)) == []
    advice = hints("happy", face())
    assert [h.code for h in advice] == ["AU12", "AU6"]  # the smile is the bigger gap (aim 0.5 vs 0.3)
    assert advice[0].text.startswith("Pull the corners of your mouth up") and advice[0].current < 0.05


def test_hints_name_only_what_is_missing_most_missing_first():
    advice = hints("surprise", face(AU1=0.5, AU2=0.5, AU5=0.1))
    assert [h.code for h in advice] == ["AU26", "AU5"]
    assert advice[0].text == "Drop your jaw: open your mouth" and advice[0].aim == ACTION_UNITS["AU26"].aim


def test_neutral_asks_to_relax_whatever_moves():
    assert hints("neutral", face()) == []
    advice = hints("neutral", face(AU12=0.7, AU4=0.4))
    assert [h.code for h in advice] == ["AU12", "AU4"] and advice[0].text.startswith("Stop smiling")


def test_the_players_resting_face_is_not_counted_as_expression():
    resting_frown = face(AU15=0.3, AU4=0.35)
    assert hints("neutral", resting_frown)  # without calibration: "stop frowning"
    assert hints("neutral", resting_frown, neutral=resting_frown) == []
    # Sad is judged from that baseline: the resting frown alone is not yet a sad face.
    assert {h.code for h in hints("sad", resting_frown, neutral=resting_frown)} == {"AU1", "AU4", "AU15"}
    assert activation("AU15", face(AU15=0.6), neutral=resting_frown) == pytest.approx(0.3)


def test_a_smile_is_the_first_thing_to_drop_when_asked_for_sad():
    smiling = face(AU12=0.85, AU6=0.5)
    advice = hints("sad", smiling)
    assert advice[0].code == "AU12" and advice[0].relax and "mouth" in advice[0].text
    assert {h.code for h in advice[1:]} == {"AU1", "AU4", "AU15"}  # then the sad muscles, all missing
    # With the sad muscles all there, a remaining smile is still named.
    assert [h.code for h in hints("sad", face(AU1=0.5, AU4=0.4, AU15=0.4, AU12=0.6))] == ["AU12"]
    assert hints("sad", face(AU1=0.5, AU4=0.4, AU15=0.4)) == []


def test_gauges_show_the_targets_muscles_and_what_works_against_it():
    shown = gauges("sad", face(AU12=0.85, AU1=0.5))
    assert [g.code for g in shown] == ["AU1", "AU4", "AU15", "AU12"]
    assert shown[0].reached and not shown[1].reached
    assert shown[3].relax and not shown[3].reached and shown[3].label == "smile"
    assert [g.code for g in gauges("happy", face(AU6=0.5, AU12=0.9))] == ["AU6", "AU12"]


def test_the_round_coach_smooths_advice_and_remembers_what_held_the_player_back():
    coach = RoundCoach("sad")
    assert not coach.view().seen and coach.view().line().startswith("Coach: show me your face")
    for i in range(10):  # 2 s at 5 readings a second: smiling the whole time
        coach.update(face(AU12=0.85, AU1=0.4, AU4=0.35), now=i * 0.2)
    view = coach.view()
    assert view.seen and view.hint.code == "AU12"
    assert view.line().startswith("Coach: Stop smiling") and "smile: now 85%" in view.line()
    assert view.held_back[0] == "AU12" and view.held_back[1] == pytest.approx(0.6)
    for i in range(10, 20):  # the smile drops, the mouth corners go down: nothing left to change
        coach.update(face(AU1=0.4, AU4=0.35, AU15=0.3), now=i * 0.2)
    assert coach.view().hint is None and coach.view().line(judged=0.8).startswith("Coach: that's it")
    assert "stronger" in coach.view().line(judged=0.2, threshold=0.5)  # muscles right, judge not convinced
    assert coach.held_back()[0] == "AU12"  # still the muscle of the round
    assert held_back_text("AU12") == "smile (AU12, lip corner puller)" and held_back_text(None) == ""


def test_calibration_takes_the_median_resting_face_and_what_the_judge_read():
    probs = [0.05, 0.0, 0.05, 0.1, 0.1, 0.0, 0.7]
    calibration = Calibration(started_at=0.0, emotions=EMOTIONS)
    for i in range(15):
        shapes = face(AU12=0.9 if i == 7 else 0.2)  # one frame of a passing grin: the median ignores it
        calibration.add(shapes, probs, now=i * 0.2)
    assert not calibration.done(2.9) and calibration.done(CALIBRATION_S)
    baseline = calibration.baseline()
    assert baseline.frames == 15 and baseline.blendshapes["mouthSmileLeft"] == pytest.approx(0.2)
    assert baseline.probabilities["neutral"] == pytest.approx(0.7)
    # Measured from that baseline, the resting smile is no longer a smile.
    assert activation("AU12", face(AU12=0.2), baseline.blendshapes) == 0.0


def test_calibration_waits_for_enough_readings_then_gives_up():
    calibration = Calibration(started_at=0.0, emotions=EMOTIONS)
    calibration.add(face(), [1 / 7] * 7, now=0.5)
    assert not calibration.done(CALIBRATION_S) and not calibration.failed(CALIBRATION_S)
    for i in range(CALIBRATION_MIN_FRAMES - 1):  # the face shows up late: still calibrates
        calibration.add(face(), [1 / 7] * 7, now=5.0 + i * 0.1)
    assert calibration.done(6.0)
    late = Calibration(started_at=0.0, emotions=EMOTIONS)
    assert late.failed(CALIBRATION_TIMEOUT_S) and not late.done(CALIBRATION_TIMEOUT_S)
    with pytest.raises(ValueError):
        late.baseline()


def test_unknown_target_is_refused():
    with pytest.raises(ValueError):
        hints("contempt", face())


def test_what_held_a_round_back_is_the_muscle_furthest_from_its_aim():
    frames = [face(AU1=0.5, AU4=0.4, AU15=0.05)] * 8 + [face(AU1=0.1, AU4=0.4, AU15=0.1)] * 2
    code, gap = held_back("sad", frames)
    assert code == "AU15" and 0.1 < gap < 0.25
    assert held_back("happy", [face(AU6=0.6, AU12=0.8)] * 3) is None


def test_the_shown_hint_changes_only_after_the_new_one_has_led_a_while():
    smoother = HintSmoother(hold_s=0.6)
    smile, cheeks = hints("happy", face(AU6=0.25, AU12=0.1)), hints("happy", face(AU6=0.0, AU12=0.45))
    assert smile[0].code == "AU12" and cheeks[0].code == "AU6"
    assert smoother.update(smile, 0.0) is None  # nothing shown before the first hint has led 0.6 s
    assert smoother.update(smile, 0.6).code == "AU12"
    changes, shown = 0, "AU12"
    for i in range(1, 31):  # the leader flips every frame for 1 s at 30 fps: the advice stays put
        now = 0.6 + i / 30
        code = smoother.update(cheeks if i % 2 else smile, now).code
        changes, shown = changes + (code != shown), code
    assert changes == 0
    for i in range(1, 31):  # cheeks lead steadily: the advice moves once, after the hold
        code = smoother.update(cheeks, 1.6 + i / 30).code
    assert code == "AU6"
    assert smoother.update([], 5.0).code == "AU6" and smoother.update([], 5.7) is None  # all done: praise


@pytest.mark.skipif(not VIDEO.is_file(), reason="sample video not installed (facematch setup sample_video)")
def test_the_real_landmarker_sees_the_smile_in_the_video():
    av = pytest.importorskip("av")
    import mediapipe as mp
    import numpy as np

    from facematch.assets import asset_path
    from facematch.errors import AssetError
    from facematch.play.mediapipe_tasks import _import_mediapipe_vision

    try:
        model = asset_path("face_landmarker")
    except AssetError:
        pytest.skip("face_landmarker not installed (make setup)")
    BaseOptions, vision = _import_mediapipe_vision()
    landmarker = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)), output_face_blendshapes=True))
    shapes = {}
    with av.open(str(VIDEO)) as container:
        for frame in container.decode(video=0):
            t = float(frame.pts * frame.time_base)
            if t >= 18.0 and "smile" not in shapes:  # laughing
                shapes["smile"] = frame.to_ndarray(format="rgb24")
            elif t >= 8.0 and "other" not in shapes:  # brows up, mouth at rest
                shapes["other"] = frame.to_ndarray(format="rgb24")
            if len(shapes) == 2:
                break
    scores = {}
    for key, rgb in shapes.items():
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
        scores[key] = {c.category_name: c.score for c in result.face_blendshapes[0]}
    landmarker.close()
    assert activation("AU12", scores["smile"]) > 0.5 > activation("AU12", scores["other"])
    assert hints("happy", scores["smile"]) == []  # smile and narrowed eyes: nothing to add
    assert hints("happy", scores["other"])[0].code == "AU12"
