"""Reading faces: the faces shown per level, a session's answers and time limit, the feedback, the confusions."""

import random

import pytest

from facematch import EMOTIONS
from facematch.play.avatar import avatar_svg
from facematch.play.levels import PASS_OF, PlayedRound
from facematch.play.recognition import (
    TIME_LIMIT_S,
    RecognitionSession,
    answer_score,
    confusion_sentences,
    confusions,
    cues,
    face_for,
    feedback,
    plan_recognition,
    recognition_rounds,
)


def test_faces_get_subtler_then_blend_with_a_look_alike():
    strong, subtle, blend = (face_for("fear", level) for level in (1, 2, 3))
    assert strong.blendshapes()["eyeWideLeft"] > subtle.blendshapes()["eyeWideLeft"] > 0
    assert blend.distractor == "surprise" and blend.describe() == "fear with a hint of surprise"
    assert "jawOpen" in blend.blendshapes() and strong.describe() == "fear (strong)"
    assert face_for("neutral", 3).blendshapes() != {} and face_for("neutral", 1).blendshapes() == {}
    with pytest.raises(ValueError):
        face_for("fear", 4)


def test_a_session_shows_every_emotion_never_twice_in_a_row_each_at_the_players_level():
    history = [PlayedRound("happy", 1, True)] * PASS_OF  # happy passed level 1
    faces = plan_recognition(history, random.Random(5))
    emotions = [f.emotion for f in faces]
    assert len(faces) == 10 and set(emotions) == set(EMOTIONS)
    assert all(a != b for a, b in zip(emotions, emotions[1:]))
    assert {f.level for f in faces if f.emotion == "happy"} == {2}
    assert {f.level for f in faces if f.emotion != "happy"} == {1}


def test_answers_are_timed_a_late_one_counts_as_times_up_and_a_second_click_is_ignored():
    session = RecognitionSession("p", [face_for("sad", 1), face_for("fear", 2)])
    session.show(100.0)
    given = session.answer("sad", 102.0)
    assert given.correct and given.seconds == 2.0 and given.score == answer_score(True, 2.0) == 88
    assert session.answer("fear", 102.5) is None  # the same face, answered twice
    record = session.record(given)
    assert (record.mode, record.answer, record.answer_s, record.time_to_match, record.level) == \
        ("recognition", "sad", 2.0, 2.0, 1)
    session.next()
    session.show(110.0)
    late = session.answer("fear", 110.0 + TIME_LIMIT_S + 0.1)
    assert late.answered is None and late.score == 0 and not late.correct
    assert session.record(late).intensity == face_for("fear", 2).intensity
    session.next()
    assert session.over and session.total() == 88
    other = RecognitionSession("p", [face_for("sad", 1)])
    other.show(0.0)
    with pytest.raises(ValueError, match="answer must be one of"):
        other.answer("bored", 1.0)


def test_feedback_names_the_cues_that_tell_the_two_emotions_apart_and_the_face_rings_them():
    assert cues("fear", "surprise") == ("AU4", "AU7", "AU20")
    assert "brows down (AU4)" in feedback(face_for("fear", 1), "surprise")
    assert feedback(face_for("happy", 1), "happy").startswith("Right: **happy**")
    assert feedback(face_for("sad", 1), None).startswith("Time's up: it was **sad**")
    assert "No muscle is moving" in feedback(face_for("neutral", 1), "sad")
    svg = avatar_svg(face_for("fear", 1).blendshapes(), highlight=cues("fear", "surprise"))
    assert svg.count("data-cue=") == 3 and 'data-cue="AU20"' in svg


def test_the_confusions_count_each_mistake_and_put_the_most_frequent_into_words():
    rows = [{"mode": "recognition", "target": "fear", "answer": "surprise", "level": 1, "matched": 0}] * 4 + \
           [{"mode": "recognition", "target": "sad", "answer": "sad", "level": 1, "matched": 1},
            {"mode": "recognition", "target": "angry", "answer": None, "level": 1, "matched": 0},
            {"mode": "challenge", "target": "fear", "answer": None, "level": 1, "matched": 0}]
    counts = confusions(rows)
    assert counts[("fear", "surprise")] == 4 and counts[("angry", None)] == 1 and sum(counts.values()) == 6
    assert confusion_sentences(counts) == [
        "You read fear as surprise 4 times: look at the brows down (AU4), lids tight (AU7) and lips stretched (AU20)."]
    assert [r.emotion for r in recognition_rounds(rows)] == ["fear"] * 4 + ["sad", "angry"]
