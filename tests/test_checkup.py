"""Check-ups: the plan, when one is due, the recorder fed from the analysis thread, and the scoring by the
independent judge (the real model, on the sample video's faces)."""

import random
from datetime import date

import numpy as np
import pytest

from conftest import needs_video, video_frames
from facematch import EMOTIONS
from facematch.play.checkup import (
    READY_S,
    TRIAL_S,
    CheckupRecorder,
    CheckupSession,
    TrialResult,
    TrialTake,
    best_window_mean,
    checkup_due,
    plan_checkup,
    score_trial,
)
from facematch.play.coach import recipe_distance
from facematch.play.faces import Face, FrameResult
from facematch.play.independent import independent_judge


def test_a_checkup_asks_for_every_emotion_twice_never_the_same_twice_in_a_row():
    trials = plan_checkup(random.Random(2))
    assert sorted(trials) == sorted(list(EMOTIONS) * 2)
    assert all(a != b for a, b in zip(trials, trials[1:]))


def test_it_is_due_at_the_first_session_and_then_once_a_day():
    today = date(2026, 12, 2)
    assert checkup_due([], today)
    full = [{"mode": "checkup", "session_id": "a", "local_date": "2026-12-01", "played_at": "2026-12-01T09:00:00"}] * 14
    assert checkup_due(full, today)  # yesterday's does not count for today
    assert not checkup_due(full, date(2026, 12, 1))
    cut = [{"mode": "checkup", "session_id": "b", "local_date": "2026-12-02", "played_at": "2026-12-02T09:00:00"}] * 5
    assert checkup_due(cut, today)  # an unfinished one leaves it due


def test_a_trial_scores_the_best_second_not_one_lucky_frame():
    samples = [(0.0, 0.0), (0.2, 1.0), (0.4, 0.0), (0.6, 0.0), (2.0, 0.6), (2.2, 0.6), (2.4, 0.6)]
    assert best_window_mean(samples) == pytest.approx(0.6)
    assert best_window_mean([]) == 0.0


def _face(image=None, blendshapes=None):
    return Face(box=(0, 0, 60, 60), probs=np.full(7, 1 / 7, np.float32), image=image, blendshapes=blendshapes)


def test_the_recorder_keeps_faces_and_readings_only_while_a_trial_runs_and_hands_them_over():
    recorder = CheckupRecorder(face_size=64)
    crop = np.full((90, 80, 3), 128, np.uint8)
    recorder.on_frame(FrameResult([_face(crop)]), 0.0)
    assert not recorder.wants_blendshapes(0.0)  # nothing is measured between trials
    recorder.start()
    assert recorder.wants_blendshapes(1.0) and not recorder.wants_blendshapes(1.05)
    for i in range(10):  # 10 frames in 0.45 s: a face every 0.2 s is kept
        recorder.on_frame(FrameResult([_face(crop, {"mouthSmileLeft": 0.9} if i == 0 else None)]), 1.0 + 0.05 * i)
    recorder.on_frame(FrameResult([]), 1.5)
    take = recorder.take()
    assert take.faces.shape == (3, 64, 64) and take.faces.dtype == np.uint8 and len(take.blendshapes) == 1
    assert recorder.take().faces.shape == (0, 64, 64)  # handed over: nothing kept
    assert recorder.sees_face(1.5, within_s=1.0) and not recorder.sees_face(3.0, within_s=1.0)
    assert recorder.target is None  # no label is drawn into the video


@needs_video
def test_the_independent_judge_scores_a_laughing_face_high_for_happy_and_low_for_sad():
    from facematch.play.vision import FrameAnalyzer

    analyzer = FrameAnalyzer()
    frames = video_frames([16.0, 16.5, 17.0, 17.5])
    faces = [analyzer.process(frame, blendshapes=True)[1].primary for frame in frames.values()]
    recorder = CheckupRecorder(independent_judge().size)
    recorder.start()
    for i, face in enumerate(faces):
        recorder.on_frame(FrameResult([face]), 0.25 * i)
    take = recorder.take()
    happy, sad = (score_trial(target, take, independent_judge()) for target in ("happy", "sad"))
    assert happy.score >= 70 > 20 >= sad.score and happy.faces == 4
    assert happy.recipe_distance < sad.recipe_distance  # the coach agrees: far from sad's recipe


def test_a_checkup_runs_ready_then_show_then_score_for_each_trial_and_saves_each():
    session = CheckupSession("p", ["happy", "sad"], judge_id="fer_mini_xception@x")
    assert session.phase(10.0) == ("ready", READY_S)
    assert session.phase(10.0 + READY_S + 1)[0] == "show"
    assert session.phase(10.0 + READY_S + TRIAL_S)[0] == "score"
    record = session.finish_trial(TrialResult("happy", 80, 25, 0.05))
    assert (record.mode, record.score, record.matched, record.model_id, record.recipe_distance, record.round_index) \
        == ("checkup", 80, True, "fer_mini_xception@x", 0.05, 0)
    assert session.current == "sad" and session.started_at is None
    session.finish_trial(TrialResult("sad", 10, 0, None))
    assert session.over and session.phase(99.0) == ("over", 0.0) and session.by_emotion() == {"happy": 80, "sad": 10}


def test_recipe_distance_is_zero_on_the_recipe_and_grows_with_what_is_missing():
    full = {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "eyeSquintLeft": 0.6, "eyeSquintRight": 0.6}
    assert recipe_distance("happy", full) == 0.0
    assert recipe_distance("happy", {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9}) > 0
    assert recipe_distance("happy", {}) > recipe_distance("happy", {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9})
    assert recipe_distance("happy", full, neutral=full) > 0  # measured from the resting face


def test_an_empty_take_scores_zero():
    take = TrialTake((), np.zeros((0, 64, 64), np.uint8), ())
    assert score_trial("fear", take, independent_judge()) == TrialResult("fear", 0, 0, None)
