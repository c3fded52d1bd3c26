"""The shared analysis worker: batches players' frames without mixing them up, serves one player
every frame, under load keeps every callback quick and every player served, and ends its thread
when the last player has left. Every worker a test starts is stopped and joined by that test."""

import threading
import time

import numpy as np
import pytest

from conftest import VIDEO
from facematch.play import worker as worker_module
from facematch.play.vision import FrameAnalyzer
from facematch.play.worker import AnalysisWorker, shared_interval


@pytest.fixture(scope="module")
def models():
    return FrameAnalyzer(coach=False)


@pytest.fixture
def analyzer(models):
    """An analyzer of this test's own (sharing the loaded models), so what a test patches or counts is its own."""
    return FrameAnalyzer(classifier=models.classifier, detector=models.detector, coach=False)


@pytest.fixture
def workers():
    """Makes AnalysisWorkers for a test and stops (joins) every one of them after it."""
    made = []

    def make(analyzer, **options) -> AnalysisWorker:
        made.append(AnalysisWorker(analyzer, **options))
        return made[-1]

    yield make
    for worker in made:
        worker.stop()
        assert not worker.running


@pytest.fixture(scope="module")
def faces():
    import av

    with av.open(str(VIDEO)) as container:
        for frame in container.decode(video=0):
            if float(frame.pts * frame.time_base) >= 17.0:
                laugh = frame.to_ndarray(format="bgr24")
                break
    return {"laugh": laugh, "empty": np.zeros_like(laugh)}


class BatchSizes:
    """Records how many frames each analyze_many call got (the real method still does the work)."""

    def __init__(self, analyzer):
        self.sizes, self._real = [], analyzer.analyze_many

    def __call__(self, frames, *args):
        self.sizes.append(len(frames))
        return self._real(frames, *args)


def test_one_player_gets_every_frames_own_result(analyzer, faces, workers):
    worker = workers(analyzer, wait_s=1.0)
    published = []
    for i in range(20):
        shown = "laugh" if i % 2 == 0 else "empty"
        result = worker.analyze("solo", faces[shown], on_result=lambda r, t: published.append(r))
        assert len(result.faces) == (1 if shown == "laugh" else 0), f"frame {i} got another frame's result"
    stats = worker.stats()["solo"]
    assert stats.analysed == 20 and stats.dropped == 0 and len(published) == 20


def test_a_batch_of_several_players_never_mixes_their_results(analyzer, faces, monkeypatch, workers):
    sizes = BatchSizes(analyzer)
    monkeypatch.setattr(analyzer, "analyze_many", sizes)
    worker = workers(analyzer, wait_s=0.5)
    wrong, barrier = [], threading.Barrier(4)

    def player(name: str, shown: str):
        barrier.wait()
        for _ in range(25):
            result = worker.analyze(name, faces[shown], on_result=lambda r, t: wrong.append((name, r))
                                    if len(r.faces) != (shown == "laugh") else None)
            if result is not None and len(result.faces) != (shown == "laugh"):
                wrong.append((name, result))

    threads = [threading.Thread(target=player, args=(f"p{k}", "laugh" if k % 2 else "empty")) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(sizes.sizes) > 1, "the players' frames were never batched together"
    assert wrong == []
    assert all(s.analysed >= 1 for s in worker.stats().values())


def test_under_overload_callbacks_return_quickly_and_nobody_starves(analyzer, faces, monkeypatch, workers):
    real = analyzer.analyze_many

    def slow_judge(frames, *args):  # a machine 100 ms per batch slower than this one
        time.sleep(0.1)
        return real(frames, *args)

    monkeypatch.setattr(analyzer, "analyze_many", slow_judge)
    worker = workers(analyzer, wait_s=0.01)
    calls, stop = {f"p{k}": [] for k in range(8)}, time.monotonic() + 3.0

    def player(name: str):
        while time.monotonic() < stop:  # a camera far faster than the machine can analyse
            started = time.monotonic()
            worker.analyze(name, faces["laugh"])
            calls[name].append(time.monotonic() - started)

    threads = [threading.Thread(target=player, args=(name,)) for name in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = worker.stats()
    analysed = [stats[name].analysed for name in calls]
    assert min(analysed) >= 0.5 * max(analysed) > 0, analysed  # degraded evenly
    assert all(stats[name].dropped > 0 for name in calls)  # stale frames were dropped, not queued
    slowest = max(np.percentile(c, 95) for c in calls.values())
    assert slowest < 0.08, f"a video callback waited {slowest * 1000:.0f} ms (p95) for a 100 ms judge"


def test_a_failing_consumer_does_not_stop_the_analysis(analyzer, faces, workers):
    worker = workers(analyzer, wait_s=1.0)

    def broken(result, now):
        raise RuntimeError("consumer failed")

    for _ in range(3):
        assert len(worker.analyze("p", faces["laugh"], on_result=broken).faces) == 1
    assert analyzer.errors.counts.get("builtins.RuntimeError", 0) >= 3


def test_the_judge_keeps_to_its_budget_shared_evenly(analyzer, faces, workers):
    worker = workers(analyzer, wait_s=0.0, max_rate=40)  # analyses per second, all players together
    stop = time.monotonic() + 2.0

    def player(name: str):
        while time.monotonic() < stop:
            worker.analyze(name, faces["laugh"])
            time.sleep(1 / 30)  # a 30 fps camera each: 120 frames/s offered in all

    threads = [threading.Thread(target=player, args=(f"p{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    analysed = [s.analysed for s in worker.stats().values()]
    assert sum(analysed) <= 40 * 2.0 + 8, analysed  # the budget (plus the last cycle), not 120/s
    assert min(analysed) >= 0.7 * max(analysed), analysed
    assert worker.active_players() == 4


def test_an_unusable_frame_in_a_batch_fails_only_its_own_player(analyzer, faces, monkeypatch, workers):
    real, sizes = analyzer.results, []

    def slow_batches(frames, *args):  # keeps the worker busy: the next two frames share a batch
        sizes.append(len(frames))
        time.sleep(0.2)
        return real(frames, *args)

    monkeypatch.setattr(analyzer, "results", slow_batches)
    worker = workers(analyzer, wait_s=2.0)
    worker.analyze("warm-up", faces["laugh"], wait_s=0.0)  # the worker takes this one alone
    time.sleep(0.05)
    results = {}
    threads = [threading.Thread(target=lambda k=k, f=f: results.__setitem__(k, worker.analyze(k, f)))
               for k, f in (("broken", np.zeros(10, np.uint8)), ("fine", faces["laugh"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sizes == [1, 2]  # the broken frame and the good one were analysed together
    assert results["broken"].error.startswith("unusable frame") and results["broken"].faces == []
    assert results["fine"].error is None and len(results["fine"].faces) == 1


def test_per_player_extras_slow_down_as_players_join_but_not_for_one_or_two():
    # The coach's landmarker and the live panel: 5 Hz for 1-2 players, a quarter as often for 8.
    assert shared_interval(0.2, 1) == shared_interval(0.2, 2) == 0.2
    assert shared_interval(0.2, 4) == pytest.approx(0.4)
    assert shared_interval(0.2, 8) == pytest.approx(0.8)


class ViewsAsked:
    """The real judge, recording which views each predict call asked for."""

    def __init__(self, real):
        self.real, self.asked = real, []
        self.live_views, self.resize = real.live_views, real.resize

    def predict(self, faces, views=None):
        self.asked.append(views)
        return self.real.predict(faces, views)


def test_the_mirror_view_is_for_one_or_two_players_and_one_pass_beyond(models, faces, workers, tmp_path):
    import shutil

    from facematch.config import DEFAULT_MODEL_DIR
    from facematch.model_spec import read_spec, write_spec
    from facematch.play.classifier import EmotionClassifier

    mirror = tmp_path / "mirror"  # the shipped network, under a spec that plays the mirror view live
    shutil.copytree(DEFAULT_MODEL_DIR, mirror)
    write_spec(mirror, read_spec(mirror).replace(live_views="hflip"))
    judge = ViewsAsked(EmotionClassifier(mirror))
    worker = workers(FrameAnalyzer(classifier=judge, detector=models.detector, coach=False), wait_s=1.0)
    worker.analyze("first", faces["laugh"])
    worker.analyze("second", faces["laugh"])
    assert judge.asked == ["hflip", "hflip"]  # the spec's live views: the face and its mirror image
    worker.analyze("third", faces["laugh"])
    assert judge.asked[-1] == "none"  # a third player: one pass per face


def test_the_worker_thread_ends_when_the_last_player_has_left_and_the_next_one_starts_it(
        analyzer, faces, workers, monkeypatch):
    monkeypatch.setattr(worker_module, "IDLE_FORGET_S", 0.2)
    monkeypatch.setattr(worker_module, "STATS_EVERY_S", 0.05)  # how often an idle worker looks round
    worker = workers(analyzer, wait_s=1.0)
    assert not worker.running  # nothing runs before a player hands over a frame
    assert len(worker.analyze("p", faces["laugh"]).faces) == 1 and worker.running
    deadline = time.monotonic() + 5
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.running and worker.stats() == {}  # the player left: forgotten, thread ended
    assert len(worker.analyze("next", faces["laugh"]).faces) == 1 and worker.running


def test_a_worker_stops_and_joins_as_a_context_manager(analyzer, faces):
    with AnalysisWorker(analyzer, wait_s=1.0) as worker:
        assert worker.running
        assert len(worker.analyze("p", faces["laugh"]).faces) == 1
        thread = worker._thread
    assert not worker.running and not thread.is_alive()
    assert not any(t.name == "facematch-analysis" and t.is_alive() for t in threading.enumerate())


def test_the_stats_file_for_the_load_test_is_written_while_players_play(analyzer, faces, workers, tmp_path,
                                                                        monkeypatch):
    import json

    monkeypatch.setattr(worker_module, "STATS_EVERY_S", 0.05)
    path = tmp_path / "stats.json"
    worker = workers(analyzer, wait_s=1.0, stats_path=str(path))
    for _ in range(5):
        worker.analyze("p", faces["laugh"])
        time.sleep(0.06)
    players = json.loads(path.read_text())["players"]
    assert len(players) == 1 and list(players.values())[0]["analysed"] >= 4



def test_with_two_players_the_analysis_keeps_to_its_share_of_the_time(analyzer, faces, monkeypatch, workers):
    real, worked = analyzer.results, []

    def timed(frames, *args):
        started = time.monotonic()
        out = real(frames, *args)
        worked.append(time.monotonic() - started)
        return out

    monkeypatch.setattr(analyzer, "results", timed)
    worker = workers(analyzer, wait_s=0.0, share=0.2)  # a fifth of the time for the judge, the rest the video's
    started, stop = time.monotonic(), time.monotonic() + 3.0

    def player(name: str):
        while time.monotonic() < stop:
            worker.analyze(name, faces["laugh"])
            time.sleep(1 / 30)  # far more frames than a fifth of the time can judge

    threads = [threading.Thread(target=player, args=(f"p{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(worked) >= 3 and sum(worked[1:]) <= 0.2 * elapsed + max(worked), (sum(worked), elapsed)
    assert min(s.analysed for s in worker.stats().values()) >= 2  # both served
