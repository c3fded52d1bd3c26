"""The shared analysis worker: batches players' frames without mixing them up, serves one player
every frame, and under load keeps every callback quick and every player served."""

import threading
import time

import numpy as np
import pytest

from conftest import VIDEO
from facematch.play.vision import FrameAnalyzer
from facematch.play.worker import AnalysisWorker, shared_interval

pytestmark = pytest.mark.skipif(not VIDEO.is_file(), reason="shared video not present")


@pytest.fixture(scope="module")
def models():
    return FrameAnalyzer(coach=False)


@pytest.fixture
def analyzer(models):
    """An analyzer of this test's own (sharing the loaded models): the workers of earlier tests keep
    running in the background, and must not call what this test patches or counts."""
    return FrameAnalyzer(classifier=models.classifier, detector=models.detector, coach=False)


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


def test_one_player_gets_every_frames_own_result(analyzer, faces):
    worker = AnalysisWorker(analyzer, wait_s=1.0)
    published = []
    for i in range(20):
        shown = "laugh" if i % 2 == 0 else "empty"
        result = worker.analyze("solo", faces[shown], on_result=lambda r, t: published.append(r))
        assert len(result.faces) == (1 if shown == "laugh" else 0), f"frame {i} got another frame's result"
    stats = worker.stats()["solo"]
    assert stats.analysed == 20 and stats.dropped == 0 and len(published) == 20


def test_a_batch_of_several_players_never_mixes_their_results(analyzer, faces, monkeypatch):
    sizes = BatchSizes(analyzer)
    monkeypatch.setattr(analyzer, "analyze_many", sizes)
    worker = AnalysisWorker(analyzer, wait_s=0.5)
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


def test_under_overload_callbacks_return_quickly_and_nobody_starves(analyzer, faces, monkeypatch):
    real = analyzer.analyze_many

    def slow_judge(frames, *args):  # a machine 100 ms per batch slower than this one
        time.sleep(0.1)
        return real(frames, *args)

    monkeypatch.setattr(analyzer, "analyze_many", slow_judge)
    worker = AnalysisWorker(analyzer, wait_s=0.01)
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


def test_a_failing_consumer_does_not_stop_the_analysis(analyzer, faces):
    worker = AnalysisWorker(analyzer, wait_s=1.0)

    def broken(result, now):
        raise RuntimeError("consumer failed")

    for _ in range(3):
        assert len(worker.analyze("p", faces["laugh"], on_result=broken).faces) == 1
    assert analyzer.errors.counts.get("builtins.RuntimeError", 0) >= 3


def test_the_judge_keeps_to_its_budget_shared_evenly(analyzer, faces):
    worker = AnalysisWorker(analyzer, wait_s=0.0, max_rate=40)  # analyses per second, all players together
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


def test_an_unusable_frame_in_a_batch_fails_only_its_own_player(analyzer, faces, monkeypatch):
    real, sizes = analyzer.results, []

    def slow_batches(frames, *args):  # keeps the worker busy: the next two frames share a batch
        sizes.append(len(frames))
        time.sleep(0.2)
        return real(frames, *args)

    monkeypatch.setattr(analyzer, "results", slow_batches)
    worker = AnalysisWorker(analyzer, wait_s=2.0)
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
    """The real classifier, recording which views each predict call asked for."""

    def __init__(self, real):
        self.real, self.asked = real, []
        self.live_tta, self.input_size = real.live_tta, real.input_size

    def predict(self, faces, tta=None):
        self.asked.append(tta)
        return self.real.predict(faces, tta=tta)


def test_the_mirror_view_is_for_one_or_two_players_and_one_pass_beyond(models, faces, fused_model_dir):
    from facematch.play.classifier import load_classifier

    judge = ViewsAsked(load_classifier(fused_model_dir))  # a model that names the mirror view as its live views
    worker = AnalysisWorker(FrameAnalyzer(classifier=judge, detector=models.detector, coach=False), wait_s=1.0)
    worker.analyze("first", faces["laugh"])
    worker.analyze("second", faces["laugh"])
    assert judge.asked == ["hflip", "hflip"]  # the model's live views: the face and its mirror image
    worker.analyze("third", faces["laugh"])
    assert judge.asked[-1] is False  # a third player: one pass per face


def test_the_judges_fusion_measures_each_player_a_few_times_a_second_not_every_frame(models, faces, monkeypatch,
                                                                                     fused_model_dir):
    from facematch.play.classifier import load_classifier
    from facematch.play.worker import FUSION_EVERY_S

    analyzer = FrameAnalyzer(classifier=load_classifier(fused_model_dir), detector=models.detector, coach=False)
    real, asked = analyzer.results, []

    def recording(frames, blendshapes=None, tta=None, fuse=None, previous=None):
        asked.append((list(fuse), [p is not None for p in previous]))
        return real(frames, blendshapes, tta, fuse, previous)

    monkeypatch.setattr(analyzer, "results", recording)
    worker = AnalysisWorker(analyzer, wait_s=1.0)
    started = time.monotonic()
    for _ in range(30):
        worker.analyze("solo", faces["laugh"])
        time.sleep(1 / 30)  # a 30 fps camera: frames come far more often than the fusion measures
    elapsed = time.monotonic() - started
    fused = sum(f[0] for f, _ in asked)
    assert asked[0] == ([True], [False])  # the first frame is measured; nothing before it to carry
    assert all(p == [True] for _, p in asked[1:])  # later frames carry the player's last faces
    assert 2 <= fused <= elapsed / FUSION_EVERY_S + 1 and fused < len(asked) / 2
    worker.analyze("solo", faces["laugh"], blendshapes=True)  # a frame the coach measures: fused too
    assert asked[-1][0] == [True]
