"""Levels per emotion unlock by a documented rule, and Challenge puts the player's weakest emotion first."""

import random

import pytest

from facematch import EMOTIONS
from facematch.play.levels import LEVELS, PASS_OF, PASS_WINDOW, PlayedRound, plan_challenge, progress
from facematch.play.rules import RoundRules


def rounds(emotion: str, level: int, outcomes: str) -> list[PlayedRound]:
    """'MM.M.' → matched, matched, missed, matched, missed."""
    return [PlayedRound(emotion, level, c == "M") for c in outcomes]


def test_a_new_player_starts_every_emotion_at_level_1():
    assert all(progress([], e).level == 1 and progress([], e).to_pass == PASS_OF for e in EMOTIONS)


def test_three_of_the_last_five_pass_a_level_and_unlock_the_next():
    assert (PASS_OF, PASS_WINDOW) == (3, 5)
    assert progress(rounds("fear", 1, "MM..."), "fear").level == 1  # 2 of 5
    assert progress(rounds("fear", 1, "M.M.M"), "fear").level == 2
    assert progress(rounds("fear", 1, "MMM.....") , "fear").level == 1  # only the last five count
    assert progress(rounds("fear", 1, "..MMM"), "fear").level == 2
    passed = rounds("fear", 1, "MMM") + rounds("fear", 2, "M.M")
    standing = progress(passed, "fear")
    assert (standing.level, standing.matched_recently, standing.played_recently, standing.to_pass) == (2, 2, 3, 1)
    assert "level 2 · 2 of the last 3 matched" in standing.text()
    # Other emotions' rounds never count, and the top level stays the top.
    assert progress(passed + rounds("happy", 1, "MMM"), "happy").level == 2
    top = [r for n in range(1, 5) for r in rounds("sad", n, "MMM")]
    assert progress(top, "sad").level == LEVELS[-1].number == 3
    with pytest.raises(ValueError, match="emotion"):
        progress([], "scared")


def test_each_level_says_what_it_asks_and_sets_its_rules():
    base = RoundRules()
    assert LEVELS[1].ask("fear", base.hold_s) == "Fear · level 2: hold it for 2 s"
    assert LEVELS[1].rules(base).hold_s == 2.0 and LEVELS[0].rules(base) == base
    assert LEVELS[0].ask("happy", 0.5) == "Happy · level 1: show it (hold 0.5 s)"
    control = LEVELS[2]
    assert control.ask("sad", 0.5) == "Sad · level 3: control it: a slight sad face, not a full one"
    assert control.rules(base).ceiling == 0.8 and control.intensity < 1
    assert control.rules(RoundRules(threshold=0.75)).ceiling == 0.9  # always a band above the threshold


def test_control_it_matches_a_slight_face_and_not_a_full_one():
    from facematch.play.rules import advance, new_round

    rules = LEVELS[2].rules(RoundRules(duration_s=5.0, smoothing_s=0.0, hold_s=0.5))

    def play(p: float):
        probs = [0.0] * 7
        probs[EMOTIONS.index("happy")] = p
        state, t = new_round("happy", 0.0), 0.0
        while not state.finished:
            t += 0.1
            state = advance(state, rules, t, probs)
        return state

    assert play(0.65).matched  # slight, and the judge still reads it
    assert not play(0.95).matched  # full-blown: above the band the whole round
    assert not play(0.3).matched


def test_challenge_puts_a_player_weak_at_fear_on_fear_first_and_never_repeats_an_emotion():
    strong = [r for e in EMOTIONS if e != "fear" for r in rounds(e, 1, "MMM")]
    weak = rounds("fear", 1, "..M..")
    for seed in range(20):
        plan = plan_challenge(strong + weak, random.Random(seed))
        assert plan[0][0] == "fear" and plan[0][1].number == 1
        assert sorted(e for e, _ in plan) == sorted(EMOTIONS)
        assert all(level.number == 2 for e, level in plan[1:])
    # Among equals, the fewest recent matches comes first: angry missed more than the rest.
    history = [r for e in EMOTIONS for r in rounds(e, 1, "M.")] + rounds("angry", 1, "..")
    assert plan_challenge(history, random.Random(1))[0][0] == "angry"
    # The session never opens with the emotion the last one ended on.
    assert plan_challenge(strong + weak, random.Random(0), after="fear")[0][0] != "fear"
    # A new player: every emotion at level 1, in the session's shuffled order (or a random one).
    orders = {tuple(e for e, _ in plan_challenge([], random.Random(s))) for s in range(10)}
    assert len(orders) > 1
    shuffle = ["sad", "happy", "fear", "angry", "neutral", "disgust", "surprise"]
    assert [e for e, _ in plan_challenge([], shuffled=shuffle)] == shuffle


def test_the_levels_read_a_players_challenge_rounds_only():
    from facematch.play.levels import challenge_rounds

    rows = [{"target": "fear", "level": 2, "matched": 1, "mode": "challenge"},
            {"target": "fear", "level": 1, "matched": 1, "mode": "duel"},
            {"target": "sad", "level": 1, "matched": 0, "mode": "snapshot"}]
    assert challenge_rounds(rows) == [PlayedRound("fear", 2, True)]
