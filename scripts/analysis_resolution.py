"""Does analysing a smaller copy of each frame keep detection and the coach's blendshapes? (issue 29)

    python scripts/analysis_resolution.py [--video data/external/WolfgangLanger_Pexels.mp4] [--every 3]

For every `--every`-th frame of the sample video at 640x480: the face found, the judge's verdict and
the 52 blendshapes at full size and at each smaller width (the frame shrunk with INTER_AREA). Prints
how often the face is still found, how often the verdict agrees, the mean absolute blendshape
difference, and the frame step's p50 with and without the landmarker (detection, judge and drawing,
from a BGR frame).
"""

import argparse
import statistics
import time

import av
import cv2
import numpy as np

from facematch.config import EXTERNAL_DIR
from facematch.play.vision import FrameAnalyzer


def frames(path: str, every: int) -> list[np.ndarray]:
    out = []
    with av.open(path) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                out.append(cv2.resize(frame.to_ndarray(format="bgr24"), (640, 480)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(EXTERNAL_DIR / "WolfgangLanger_Pexels.mp4"))
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=[480, 320, 240])
    args = parser.parse_args()
    analyzer = FrameAnalyzer()
    video = frames(args.video, args.every)
    reference = []
    for frame in video:
        _, result = analyzer.process(frame, blendshapes=True)
        reference.append(result.primary)
    print(f"{len(video)} frames of {args.video}, 640x480; a face found in {sum(f is not None for f in reference)}")
    print("| analysed at | face found | same verdict | blendshapes: mean abs. difference | frame step p50, "
          "with / without the landmarker |")
    print("|---|---|---|---|---|")
    for width in [640, *args.widths]:
        height = width * 3 // 4
        found = same = 0
        diffs, times, plain = [], [], []
        for frame, ref in zip(video, reference):
            small = frame if width == 640 else cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            start = time.perf_counter()
            _, result = analyzer.process(small, blendshapes=True)
            times.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            analyzer.process(small)
            plain.append((time.perf_counter() - start) * 1000)
            face = result.primary
            if ref is None or face is None:
                continue
            found += 1
            same += face.emotion == ref.emotion
            if face.blendshapes and ref.blendshapes:
                diffs.append(np.mean([abs(face.blendshapes[k] - ref.blendshapes[k]) for k in ref.blendshapes]))
        seen = sum(r is not None for r in reference)
        print(f"| {width}x{height} | {found / seen:.1%} | {same / max(1, found):.1%} | "
              f"{statistics.mean(diffs) if diffs else float('nan'):.3f} | {statistics.median(times):.1f} / "
              f"{statistics.median(plain):.1f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
