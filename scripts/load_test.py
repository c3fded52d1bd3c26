"""Many players at once: N sessions, each a real callback thread fed by the real video.

    python scripts/load_test.py [--sessions 1 2 4 8] [--seconds 10] [--fps 24]

Each session is what streamlit-webrtc runs per player: a thread that takes the newest
camera frame (older ones are dropped, as with async processing), runs the shared
FrameAnalyzer and feeds its own LiveSession. Prints frames per second per session and in
total, and the frame-step latency p50/p95, as a Markdown table.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np

from facematch import cli
from facematch.config import SAMPLE_VIDEO


def load_frames(video: Path, size=(640, 480), limit: int = 120) -> tuple[list[np.ndarray], float]:
    import av
    import cv2

    if not video.is_file():
        raise cli.CliError(f"{video}: no such video")
    frames = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 24)
        for i, frame in enumerate(container.decode(stream)):
            if i % 2 == 0:  # every other frame: enough variety, half the memory
                frames.append(cv2.resize(frame.to_ndarray(format="bgr24"), size))
            if len(frames) >= limit:
                break
    return frames, fps


def run_sessions(analyzer, frames, n: int, seconds: float, fps: float) -> dict:
    from facematch.play.live import LiveSession
    from facematch.play.rules import RoundRules

    latencies: list[list[float]] = [[] for _ in range(n)]
    errors = [0] * n
    barrier = threading.Barrier(n)

    def session(i: int) -> None:
        live = LiveSession(RoundRules(duration_s=seconds + 10))
        live.start_round(i % 7, time.monotonic())
        barrier.wait()
        start = time.monotonic()
        last_index = -1
        while (now := time.monotonic()) - start < seconds:
            index = int((now - start) * fps)  # the camera's newest frame; stale ones are skipped
            if index == last_index:
                time.sleep(max(0.0, (index + 1) / fps - (now - start)))
                continue
            last_index = index
            t0 = time.perf_counter()
            _, result = analyzer.process(frames[(index + 7 * i) % len(frames)], target=live.target)
            latencies[i].append((time.perf_counter() - t0) * 1000)
            errors[i] += result.error is not None
            live.on_frame(result, time.monotonic())

    threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_session = [len(lat) / seconds for lat in latencies]
    every = np.concatenate([np.asarray(lat) for lat in latencies]) if any(latencies) else np.zeros(1)
    return {"sessions": n, "fps_per_session": float(np.mean(per_session)), "fps_min": float(np.min(per_session)),
            "fps_total": float(np.sum(per_session)), "p50_ms": float(np.percentile(every, 50)),
            "p95_ms": float(np.percentile(every, 95)), "errors": int(sum(errors))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load level")
    parser.add_argument("--fps", type=float, default=None, help="camera frame rate (default: the video's)")
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    args = parser.parse_args()
    if any(n < 1 for n in args.sessions) or args.seconds <= 0:
        raise cli.CliError("--sessions and --seconds must be positive")

    from facematch.play.vision import FrameAnalyzer

    frames, video_fps = load_frames(args.video)
    fps = args.fps or video_fps
    analyzer = FrameAnalyzer()  # shared by all sessions, as in the app
    analyzer.process(frames[0])  # warm-up
    print(f"camera {fps:.1f} fps at 640x480, {args.seconds:.0f} s per level, one shared FrameAnalyzer\n")
    print("| sessions | fps per session (mean / min) | fps total | frame step p50 | p95 | errors |")
    print("|---|---|---|---|---|---|")
    for n in args.sessions:
        r = run_sessions(analyzer, frames, n, args.seconds, fps)
        print(f"| {n} | {r['fps_per_session']:.1f} / {r['fps_min']:.1f} | {r['fps_total']:.1f} | "
              f"{r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['errors']} |", flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
