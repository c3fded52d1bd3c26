"""LiveSession: the state shared between the video callback thread and the page script."""

import threading

import numpy as np

from facematch import EMOTIONS
from facematch.play.faces import Face, FrameResult
from facematch.play.live import LiveSession
from facematch.play.rules import RoundRules

RULES = RoundRules(duration_s=5.0, threshold=0.5, hold_s=0.3, smoothing_s=0.1)


def result_for(emotion: str, p: float = 0.9) -> FrameResult:
    probs = np.full(7, (1 - p) / 6, np.float32)
    probs[EMOTIONS.index(emotion)] = p
    return FrameResult(faces=[Face(box=(0, 0, 50, 50), probs=probs)])


def test_round_advances_from_callback_frames_and_expires_without_them():
    live = LiveSession(RULES)
    live.start_round("happy", now=0.0)
    assert live.target == "happy"
    for i in range(20):
        live.on_frame(result_for("happy"), now=i * 0.05)
    snap = live.snapshot(now=1.0)
    assert snap.round.matched and snap.frames == 20 and live.target is None
    live.start_round("sad", now=10.0)
    assert live.snapshot(now=14.0).round.finished is False
    assert live.snapshot(now=15.0).round.finished  # no frames at all: the timer still ends it


def test_two_concurrent_sessions_share_nothing():
    """Two players at once, each fed by its own callback thread: rounds never mix."""
    sessions = {"happy": LiveSession(RULES), "fear": LiveSession(RULES)}
    for target, live in sessions.items():
        live.start_round(target, now=0.0)
    barrier = threading.Barrier(2)

    def feed(shown: str, live: LiveSession):
        barrier.wait()
        for i in range(400):
            live.on_frame(result_for(shown), now=i * 0.01)

    # Player 1 makes the face they were asked for; player 2 makes player 1's face instead.
    threads = [threading.Thread(target=feed, args=("happy", sessions["happy"])),
               threading.Thread(target=feed, args=("happy", sessions["fear"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    happy, fear = sessions["happy"].snapshot(4.0), sessions["fear"].snapshot(4.0)
    assert happy.round.target_name == "happy" and happy.round.matched
    assert fear.round.target_name == "fear" and not fear.round.matched and fear.round.peak < 0.1


def test_each_round_keeps_its_best_moment_small_and_in_memory_only():
    import numpy as np

    from facematch.play.live import MOMENT_PX, drive
    from facematch.play.session import PlaySession

    rules = RoundRules(duration_s=1.0, threshold=0.99, hold_s=0.0, smoothing_s=0.0)
    live, session = LiveSession(rules), PlaySession(players=("ann",), seed=0)
    drive(session, live, 0.0)
    target = session.current_target
    frame = np.zeros((480, 640, 3), np.uint8)
    for t, (p, shade) in enumerate([(0.3, 50), (0.8, 200), (0.5, 90)]):  # the peak is the middle frame
        probs = np.full(len(EMOTIONS), (1 - p) / 6, np.float32)
        probs[EMOTIONS.index(target)] = p
        frame[:] = shade
        live.on_frame(FrameResult(faces=[Face((100, 100, 200, 240), probs, image=frame[100:340, 100:300])],
                                  width=640), 0.1 * (t + 1))
    best = live.snapshot(0.35).best[0]
    assert best.shape[0] == MOMENT_PX and int(best.mean()) == 200  # the peak's face, shrunk
    assert not np.shares_memory(best, frame)  # a copy: the frame itself is not kept alive
    drive(session, live, 2.0)  # the round times out: the session has it, with its moment
    assert int(session.last_round.players[0].best.mean()) == 200
    assert session.rounds[0].players[0].best is not None and live.snapshot(2.0).best == (None,)
