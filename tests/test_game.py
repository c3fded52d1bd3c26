"""Game rules: smoothing, matching with a hold time, scoring, sessions."""

import numpy as np
import pytest

from facematch import EMOTIONS
from facematch.play.rules import (
    RoundRules,
    advance,
    expire,
    new_round,
    round_score,
    session_targets,
    smooth,
    snapshot_round,
    summarize_session,
)

RULES = RoundRules(duration_s=10.0, threshold=0.5, hold_s=0.5, smoothing_s=0.3)
HAPPY = EMOTIONS.index("happy")


def probs_with(target_p: float, target: int = HAPPY) -> np.ndarray:
    p = np.full(len(EMOTIONS), (1 - target_p) / (len(EMOTIONS) - 1), np.float32)
    p[target] = target_p
    return p


def play(frames, rules=RULES, fps=20.0, target="happy"):
    """frames: sequence of target probabilities (None = no face), one per frame at fps."""
    state = new_round(target, started_at=100.0)
    for i, p in enumerate(frames):
        state = advance(state, rules, 100.0 + i / fps, None if p is None else probs_with(p))
        if state.finished:
            break
    return state


def test_steady_match_ends_round_after_hold_time():
    state = play([0.9] * 40)
    assert state.matched and state.finished
    # smoothing needs ~0.25 s to rise from 0 past 0.5, then the 0.5 s hold
    assert 0.2 <= state.time_to_match <= 0.3
    assert state.last_t - state.started_at == pytest.approx(state.time_to_match + RULES.hold_s, abs=0.051)
    speed = 1 - state.time_to_match / RULES.duration_s
    assert round_score(state, RULES) == round(50 + 30 * speed + 20 * state.peak)


def test_match_in_the_first_frame_still_needs_smoothing_and_the_hold():
    state = play([1.0])
    assert not state.finished and not state.matched and state.smoothed == 0.0
    state = play([1.0] * 5)
    assert not state.finished


def test_one_noisy_frame_never_scores():
    state = play([0.1] * 20 + [1.0] + [0.1] * 20)
    assert not state.matched
    assert state.peak < RULES.threshold


def test_flicker_around_threshold_does_not_match_but_steady_does():
    flicker = [0.9 if i % 4 < 2 else 0.0 for i in range(180)]  # 0.1 s on, 0.1 s off
    assert not play(flicker).matched
    state = play([0.2] * 40 + [0.8] * 40)
    assert state.matched
    assert 2.0 < state.time_to_match < 2.4


def test_no_face_for_the_whole_round_scores_zero_and_times_out():
    state = play([None] * 400)
    assert state.finished and not state.matched
    assert state.face_frames == 0 and state.frames == 200
    assert round_score(state, RULES) == 0


def test_faster_and_stronger_matches_score_higher():
    fast = play([0.95] * 40)
    slow = play([0.1] * 120 + [0.95] * 40)
    weak = play([0.6] * 40)
    assert round_score(fast, RULES) > round_score(slow, RULES)
    assert round_score(fast, RULES) > round_score(weak, RULES)
    assert 0 <= round_score(slow, RULES) <= 100 and round_score(fast, RULES) <= 100


def test_near_miss_gets_partial_credit_below_any_match():
    near = play([0.45] * 400)
    assert not near.matched
    assert 30 < round_score(near, RULES) < 50


def test_expire_ends_a_round_without_frames():
    state = new_round("sad", started_at=0.0)
    assert not expire(state, RULES, 9.9).finished
    assert expire(state, RULES, 10.0).finished


def test_smoothing_is_frame_rate_independent():
    at_10fps = at_40fps = 0.0
    for _ in range(10):
        at_10fps = smooth(at_10fps, 1.0, 0.1, 0.3)
    for _ in range(40):
        at_40fps = smooth(at_40fps, 1.0, 0.025, 0.3)
    assert at_10fps == pytest.approx(at_40fps)


def test_bad_probabilities_are_treated_as_zero():
    state = advance(new_round("happy", 0.0), RULES, 0.0, probs_with(float("nan")))
    assert state.smoothed == 0.0


def test_snapshot_round():
    state, score = snapshot_round("happy", probs_with(0.8), RULES)
    assert state.matched and score == round(50 + 15 + 16)
    state, score = snapshot_round("happy", None, RULES)
    assert not state.matched and score == 0


def test_session_has_each_emotion_once_in_a_seeded_order():
    targets = session_targets(seed=7)
    assert sorted(targets) == list(range(7))
    assert session_targets(seed=7) == targets
    assert len({tuple(session_targets(seed=s)) for s in range(10)}) > 1


def test_summary():
    summary = summarize_session([("happy", 90, True), ("fear", 20, False), ("sad", 70, True)])
    assert (summary.total, summary.matched, summary.best_emotion, summary.worst_emotion) == (180, 2, "happy", "fear")
    assert summarize_session([]).rounds == 0


@pytest.mark.parametrize("kwargs", [{"duration_s": 0}, {"threshold": 0}, {"threshold": 1.5}, {"hold_s": -1}])
def test_invalid_rules_are_rejected(kwargs):
    with pytest.raises(ValueError):
        RoundRules(**kwargs)
