"""PlaySession and drive(): the round loop every mode runs, with explicit times (no page, no clock)."""

import numpy as np
import pytest

from facematch import EMOTIONS
from facematch.play.faces import Face, FrameResult, assign_seats
from facematch.play.live import LiveSession, drive
from facematch.play.rules import RoundRules, advance, new_round, snapshot_round
from facematch.play.session import PlaySession

RULES = RoundRules(duration_s=5.0, threshold=0.5, hold_s=0.3, smoothing_s=0.1)


def probs_for(emotion: str, p: float = 0.9) -> np.ndarray:
    probs = np.full(len(EMOTIONS), (1 - p) / (len(EMOTIONS) - 1), np.float32)
    probs[EMOTIONS.index(emotion)] = p
    return probs


def face(x: int, emotion: str, size: int = 100) -> Face:
    return Face(box=(x, 100, size, size), probs=probs_for(emotion))


def played(target: str, matched_at: float | None, start: float = 0.0):
    """A finished round state that matched (steadily from `matched_at`) or timed out."""
    state = new_round(target, start)
    t = start
    while not state.finished:
        other = "angry" if target != "angry" else "happy"
        showing = target if matched_at is not None and t >= start + matched_at else other
        state = advance(state, RULES, t, probs_for(showing))
        t += 0.05
    return state


def test_a_session_plays_each_emotion_once_then_is_over_with_a_summary():
    session = PlaySession(players=("ann",), seed=3, model_id="m@1")
    assert sorted(session.targets) == list(range(7)) and not session.over
    seen = []
    for i in range(7):
        target = session.current_target
        seen.append(target)
        records = session.finish_round([played(target, matched_at=0.5 if i % 2 == 0 else None)], RULES)
        assert len(records) == 1 and records[0].player == "ann" and records[0].round_index == i
        assert records[0].target == target and records[0].model_id == "m@1" and records[0].mode == "challenge"
        assert records[0].session_id == session.session_id
    assert sorted(seen) == sorted(EMOTIONS) and session.over and session.current_target is None
    summary = session.summary()
    assert summary.rounds == 7 and summary.matched == 4
    assert session.total() == summary.total == sum(r.players[0].score for r in session.rounds)
    with pytest.raises(ValueError, match="over"):
        session.finish_round([played("happy", 0.5)], RULES)


def test_a_round_for_another_target_or_unfinished_is_refused():
    session = PlaySession(players=("ann",), seed=3)
    other = next(e for e in EMOTIONS if e != session.current_target)
    with pytest.raises(ValueError, match="finished"):
        session.finish_round([played(other, 0.5)], RULES)
    with pytest.raises(ValueError, match="finished"):
        session.finish_round([new_round(session.current_target, 0.0)], RULES)
    with pytest.raises(ValueError, match="one per player"):
        session.finish_round([], RULES)
    assert session.round_index == 0


def test_renaming_mid_session_saves_later_rounds_under_the_new_name_and_keeps_the_total():
    session = PlaySession(players=("ann",), seed=1)
    first = session.finish_round([played(session.current_target, 0.2)], RULES)
    session.rename(("annie",))
    second = session.finish_round([played(session.current_target, 0.2)], RULES)
    assert (first[0].player, second[0].player) == ("ann", "annie")
    assert session.total() == first[0].score + second[0].score


def test_the_same_photo_is_scored_once():
    session = PlaySession(players=("ann",), mode="snapshot")
    assert session.is_new_photo(b"jpeg-1") and not session.is_new_photo(b"jpeg-1")
    assert session.is_new_photo(b"jpeg-2")
    state, _ = snapshot_round(session.current_target, probs_for(session.current_target), RULES)
    assert session.finish_round([state], RULES)[0].mode == "snapshot"


def test_duel_first_to_match_wins_the_round_and_most_wins_the_session():
    session = PlaySession(players=("ann", "bob"), mode="duel", seed=5)
    results = []
    for i in range(7):
        target = session.current_target
        ann, bob = [(0.2, 1.0), (1.0, 0.2), (None, None)][i % 3] if i < 6 else (0.5, None)
        records = session.finish_round([played(target, ann), played(target, bob)], RULES)
        assert [r.player for r in records] == ["ann", "bob"] and {r.mode for r in records} == {"duel"}
        results.append(session.last_round.winner)
    # rounds 0, 3, 6 to ann; 1, 4 to bob; 2, 5 nobody (both failed)
    assert results == [0, 1, None, 0, 1, None, 0]
    assert session.wins() == [3, 2] and session.over and session.winner == 0


def test_a_drawn_duel_has_no_winner():
    session = PlaySession(players=("ann", "bob"), mode="duel", seed=5)
    for _ in range(7):
        target = session.current_target
        session.finish_round([played(target, None), played(target, None)], RULES)
    assert session.wins() == [0, 0] and session.winner is None


@pytest.mark.parametrize("players", [(), ("ann", "ann")])
def test_bad_players_are_refused(players):
    with pytest.raises(ValueError):
        PlaySession(players=players)


def test_drive_starts_scores_and_advances_rounds_from_video_frames():
    session = PlaySession(players=("ann",), seed=2)
    live = LiveSession(RULES)
    assert drive(session, live, 0.0) == [] and live.target == session.current_target
    t, saved = 0.0, []
    while not session.over and t < 100:
        live.on_frame(FrameResult(faces=[face(100, live.target or "neutral")], width=640), t)
        saved += drive(session, live, t)
        t += 0.05
    assert session.over and len(saved) == 7 and all(r.matched for r in saved)
    assert [r.round_index for r in saved] == list(range(7)) and live.target is None


def test_drive_ends_a_round_on_time_without_frames_and_ignores_a_round_of_another_session():
    session = PlaySession(players=("ann",), seed=2)
    live = LiveSession(RULES)
    drive(session, live, 0.0)
    assert drive(session, live, 4.9) == []
    records = drive(session, live, 5.0)
    assert len(records) == 1 and not records[0].matched and records[0].score == 0
    fresh = PlaySession(players=("ann",), seed=4)
    live.on_frame(FrameResult(width=640), 5.1)
    assert drive(fresh, live, 5.2) == [] and live.target == fresh.current_target


def test_duel_seats_follow_the_faces_left_to_right():
    left, right, small = face(50, "happy"), face(400, "sad"), face(300, "fear", size=20)
    result = FrameResult(faces=[right, left, small], width=640)  # largest first, as detected
    assert assign_seats(result, 2) == [left, right]
    assert assign_seats(FrameResult(faces=[right], width=640), 2) == [None, right]
    assert assign_seats(FrameResult(faces=[left], width=640), 2) == [left, None]
    assert assign_seats(FrameResult(faces=[], width=640), 2) == [None, None]
    assert assign_seats(result, 1) == [right]


def test_in_a_duel_live_round_the_first_match_ends_it_for_both():
    live = LiveSession(RULES, seats=2)
    live.start_round("happy", 0.0)
    for i in range(40):
        live.on_frame(FrameResult(faces=[face(400, "happy"), face(50, "sad")], width=640), i * 0.05)
    snap = live.snapshot(2.0)
    p1, p2 = snap.rounds
    assert snap.finished and p2.matched and not p1.matched and p1.finished
    assert p1.peak < 0.1


def smiling(x: int, emotion: str) -> Face:
    """A detected face that smiles (blendshapes measured) while the judge reads `emotion`."""
    shapes = {"mouthSmileLeft": 0.85, "mouthSmileRight": 0.85, "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4}
    return Face(box=(x, 100, 100, 100), probs=probs_for(emotion), blendshapes=shapes)


def test_the_coach_reads_a_few_frames_a_second_and_its_verdict_is_saved_with_the_round():
    session = PlaySession(players=("ann",), targets=[EMOTIONS.index("sad")])
    live = LiveSession(RULES)
    drive(session, live, 0.0)
    asked, t = 0, 0.0
    while t < 5.0:  # 15 fps for the whole round; the player smiles instead of looking sad
        measure = live.wants_blendshapes(t)
        asked += measure
        live.on_frame(FrameResult(faces=[smiling(100, "happy") if measure else face(100, "happy")], width=640), t)
        if 2.0 <= t < 2.07:
            view = live.snapshot(t).coach[0]
            assert view.hint.code == "AU12" and "mouth" in view.hint.text
        t += 1 / 15
    assert 24 <= asked <= 26  # 5 readings a second, not 15
    records = drive(session, live, 5.0)
    assert [(r.target, r.held_back) for r in records] == [("sad", "AU12")]
    assert session.last_round.players[0].held_back == "AU12"


def test_calibration_pauses_the_round_and_its_baseline_quiets_a_resting_smile():
    session = PlaySession(players=("ann",), targets=[EMOTIONS.index("neutral"), EMOTIONS.index("sad")])
    live = LiveSession(RULES)
    drive(session, live, 0.0)
    live.start_calibration(1.0)
    t = 1.0
    while t < 4.1:  # a resting half-smile, read at every frame while calibrating
        assert live.wants_blendshapes(t)
        live.on_frame(FrameResult(faces=[smiling(100, "neutral")], width=640), t)
        assert drive(session, live, t) == [] and live.snapshot(t).rounds is None  # no round meanwhile
        t += 1 / 15
    snap = live.snapshot(t)
    assert snap.calibration.done and live.finish_calibration(t).frames >= 45
    assert live.finish_calibration(t) is None and live.snapshot(t).calibration is None
    # The neutral round was restarted from scratch; uncalibrated, that smile would be "Stop smiling".
    live.set_neutral(0, smiling(100, "neutral").blendshapes)
    drive(session, live, t)
    live.on_frame(FrameResult(faces=[smiling(100, "neutral")], width=640), t + 0.25)
    view = live.snapshot(t + 0.3).coach[0]
    assert view.target == "neutral" and view.seen and view.held_back is None


def test_with_the_coach_off_no_frame_is_measured_and_rounds_save_no_verdict():
    session = PlaySession(players=("ann",), targets=[EMOTIONS.index("sad")])
    live = LiveSession(RULES, coach=False)
    drive(session, live, 0.0)
    assert not any(live.wants_blendshapes(i / 15) for i in range(30))
    assert live.snapshot(1.0).coach is None
    assert [r.held_back for r in drive(session, live, 5.0)] == [None]
    with pytest.raises(ValueError):
        PlaySession(players=("ann",)).finish_round([played("happy", 1.0)], RULES, held_back=[None, None])


def test_a_planned_session_plays_its_targets_at_their_levels_and_saves_them():
    from facematch.play.levels import LEVELS

    targets, levels = [EMOTIONS.index("fear"), EMOTIONS.index("happy")], [1, 2]
    session = PlaySession(players=("ann",), targets=targets, levels=levels)
    assert (session.current_target, session.current_level) == ("fear", 1)
    assert session.finish_round([played("fear", 0.5)], RULES)[0].level == 1
    assert (session.current_target, session.current_level) == ("happy", 2)
    hold = LEVELS[1].rules(RULES)
    assert hold.hold_s == 2.0 and hold.duration_s == RULES.duration_s  # level 2 holds longer, the rest as set
    assert session.finish_round([played("happy", 0.5)], hold)[0].level == 2
    assert session.over and session.current_level is None
    with pytest.raises(ValueError, match="one level per target"):
        PlaySession(players=("ann",), targets=targets, levels=[1])
    assert PlaySession(players=("bo",), seed=1).levels == [1] * 7  # unplanned sessions: level 1 throughout
