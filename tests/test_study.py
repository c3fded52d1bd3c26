"""Study mode: stable random arms, sham replay of recorded feedback, and an export whose analysis finds an
effect only where the simulated players have one."""

import csv
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from conftest import run_command
from facematch import EMOTIONS
from facematch.play.history import RoundRecord, open_store
from facematch.play.study import ARMS, ShamReplay, TraceRecorder, arm_effects, assign_arm, export_rows, pseudonym

KEY = "test-study-key"


def test_arms_are_random_but_stable_and_depend_on_the_key():
    names = [f"player {i}" for i in range(3000)]
    counts = Counter(assign_arm(n, KEY) for n in names)
    assert set(counts) == set(ARMS) and all(900 <= c <= 1100 for c in counts.values())
    assert [assign_arm(n, KEY) for n in names[:50]] == [assign_arm(n, KEY) for n in names[:50]]
    assert sum(assign_arm(n, KEY) != assign_arm(n, "another key") for n in names) > 1500
    assert pseudonym("ana", KEY) == pseudonym("ana", KEY) != pseudonym("ana", "another key")
    assert pseudonym("ana", KEY).startswith("p-") and "ana" not in pseudonym("ana", KEY)


def test_a_coached_round_is_recorded_twice_a_second_and_replayed_by_time():
    recorder = TraceRecorder()
    for i in range(30):  # the page redraws 5 times a second
        recorder.add(0.2 * i, 3 * i, f"Coach: line {i}")
    points = recorder.take()
    assert [p[0] for p in points[:3]] == [0.0, 0.6, 1.2] and recorder.take() == []
    replay = ShamReplay(tuple(points))
    assert replay.at(0.7) == (9, "Coach: line 3")
    assert replay.at(-1)[0] == 0 and replay.at(99.0) == points[-1][1:]  # after the trace: its last
    assert ShamReplay(()).at(3.0)[1].startswith("Coach: show me your face")


def test_sham_traces_come_from_another_player_of_the_same_emotion(store_target):
    store = open_store(store_target)
    assert store.sham_trace("fear", "ben") is None
    store.add_trace("ana", "s1", 0, "fear", [[0.0, 10, "Coach: a"], [0.5, 40, "Coach: b"]])
    store.add_trace("ben", "s2", 0, "fear", [[0.0, 99, "Coach: mine"]])
    store.add_trace("ana", "s1", 1, "happy", [[0.0, 70, "Coach: c"]])
    assert store.sham_trace("fear", "ben") == [[0.0, 10, "Coach: a"], [0.5, 40, "Coach: b"]]
    assert store.sham_trace("fear", "ana") == [[0.0, 99, "Coach: mine"]]
    assert store.sham_trace("sad", "ben") is None


def _checkup(store, player, session, day, mean, rng):
    for i, emotion in enumerate(list(EMOTIONS) * 2):
        score = int(np.clip(rng.normal(mean, 12), 0, 100))
        store.add_round(RoundRecord(player=player, session_id=session, round_index=i, target=emotion, score=score,
                                    matched=score >= 50, time_to_match=None, peak_probability=score / 100,
                                    model_id="fer_mini_xception@x", mode="checkup",
                                    played_at=f"2026-11-{day:02d}T10:00:{i:02d}+00:00"))


def simulate(path, effect: dict, players: int = 60, seed: int = 7):
    """Players who take a check-up, practise, and take another; their scores rise by effect[arm]."""
    rng = np.random.default_rng(seed)
    store = open_store(path)
    for p in range(players):
        name = f"simulated {p}"
        arm = assign_arm(name, KEY)
        start = rng.normal(40, 8)
        _checkup(store, name, f"{name}/1", 1, start, rng)
        for r in range(7):
            store.add_round(replace(RoundRecord(player=name, session_id=f"{name}/play", round_index=r,
                                                target=EMOTIONS[r], score=50, matched=True, time_to_match=1.0,
                                                peak_probability=0.6, model_id="m@1"),
                                    played_at=f"2026-11-10T10:00:{r:02d}+00:00"))
        _checkup(store, name, f"{name}/2", 20, start + effect.get(arm, 0.0), rng)
    return store


def test_the_export_finds_the_effect_in_the_arm_that_has_one_and_in_no_other(tmp_path):
    db = tmp_path / "study.sqlite3"
    simulate(db, {"coached": 15.0})
    result = run_command("study", "export", str(tmp_path / "out"), "--db", str(db),
                         env={"FACEMATCH_STUDY": KEY})
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "out" / "checkups.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 120 and {r["arm"] for r in rows} == set(ARMS)
    assert not any("simulated" in value for r in rows for value in r.values())  # anonymised
    assert {r["rounds_before"] for r in rows if r["checkup"] == "2"} == {"7"}
    summary = (tmp_path / "out" / "summary.md").read_text()
    lines = {arm: next(line for line in summary.splitlines() if line.startswith(f"- {arm}:")) for arm in ARMS}
    assert "larger than chance" in lines["coached"]
    assert "not distinguishable from no change" in lines["sham"]
    assert "not distinguishable from no change" in lines["silent"]


def test_with_no_effect_anywhere_the_export_reports_none(tmp_path):
    store = simulate(tmp_path / "null.sqlite3", {})
    effects = arm_effects(export_rows(store.rounds(), KEY))
    assert [e.found for e in effects] == [False, False, False]
    assert all(e.players >= 10 for e in effects)


def test_export_without_the_key_is_refused_with_a_clear_message(tmp_path):
    result = run_command("study", "export", str(tmp_path / "out"), "--db", str(tmp_path / "x.sqlite3"),
                         env={"FACEMATCH_STUDY": ""})
    assert result.returncode == 1 and "FACEMATCH_STUDY is not set" in result.stderr


@pytest.mark.parametrize("players", [1])
def test_an_arm_with_too_few_players_says_so(players, tmp_path):
    effects = arm_effects(export_rows(simulate(tmp_path / "few.sqlite3", {}, players=players).rounds(), KEY))
    assert any("too few to say anything" in e.sentence() for e in effects)
