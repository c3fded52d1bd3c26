"""Progress: first check-up against the latest, with bootstrap intervals that cover the truth and a sentence
that claims no more than they show."""

import numpy as np

from facematch import EMOTIONS
from facematch.play.progress import ALL, bootstrap_interval, checkups, compare, first_vs_latest


def _checkup(session, day, scores):
    return [{"mode": "checkup", "session_id": session, "played_at": f"2026-11-{day:02d}T10:00:{i:02d}",
             "target": emotion, "score": score} for i, (emotion, score) in enumerate(scores)]


def test_the_interval_covers_the_true_change_about_as_often_as_it_says():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(200):
        first, latest = rng.normal(40, 15, 14), rng.normal(50, 15, 14)  # the truth: +10
        low, high = bootstrap_interval(first, latest, draws=500, seed=trial)
        covered += low <= 10 <= high
    assert 0.85 <= covered / 200 <= 0.99  # a percentile bootstrap with 14 per side runs a little narrow


def test_a_clear_rise_is_called_so_and_noise_is_called_noise():
    first = _checkup("a", 1, [(e, 20) for e in EMOTIONS] + [(e, 30) for e in EMOTIONS])
    better = _checkup("b", 20, [(e, 70) for e in EMOTIONS] + [(e, 80) for e in EMOTIONS])
    changes = {c.emotion: c for c in first_vs_latest(first + better)}
    assert changes[ALL].change == 50 and changes[ALL].distinguishable and changes[ALL].first_n == 14
    assert changes[ALL].sentence().startswith("Up 50 points (95% interval")
    noisy = _checkup("c", 21, [(e, 10) for e in EMOTIONS] + [(e, 45) for e in EMOTIONS])
    pooled = {c.emotion: c for c in compare(first, noisy)}[ALL]
    assert not pooled.distinguishable and "not distinguishable from noise" in pooled.sentence()


def test_one_emotions_two_trials_a_side_never_claim_a_change_however_large():
    first = _checkup("a", 1, [(e, 5) for e in EMOTIONS] * 2)
    latest = _checkup("b", 20, [(e, 100 if e == "happy" else 2) for e in EMOTIONS] * 2)
    happy = {c.emotion: c for c in compare(first, latest)}["happy"]
    assert happy.change == 95 and happy.low == happy.high == 95  # the bootstrap alone would say "certain"
    assert not happy.distinguishable and "too few to tell a change from noise" in happy.sentence()


def test_fewer_than_two_checkups_compare_nothing_and_sessions_are_ordered_by_time():
    one = _checkup("late", 20, [("happy", 50)])
    assert first_vs_latest(one) == []
    two = one + _checkup("early", 1, [("happy", 10)]) + [{"mode": "challenge", "session_id": "x",
                                                            "played_at": "2026-11-05T00:00:00", "target": "happy",
                                                            "score": 99}]
    assert [s[0]["session_id"] for s in checkups(two)] == ["early", "late"]
    (happy, pooled) = first_vs_latest(two)
    assert happy.emotion == "happy" and happy.change == 40 and pooled.emotion == ALL
