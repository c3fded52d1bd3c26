"""Chromium's fake camera, fed from a video file: for the browser tests and the load test (not the game).

Chromium plays a raw YUV4MPEG2 (.y4m) file in a loop as its camera with
`--use-file-for-fake-video-capture`; these helpers write one from any video PyAV reads and give
the launch flags that make headless Chromium use it offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's package, never Playwright's download


def chromium_args(camera: Path) -> list[str]:
    """Headless Chromium flags: the fake camera, no prompts, nothing contacted outside this machine."""
    return ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"]


def write_y4m(source, target, start_s: float = 0.0, end_s: float | None = None,
              size: tuple[int, int] | None = None, fps: int | None = None) -> None:
    """The part [start_s, end_s] of a video as a .y4m, optionally resized to `size` (width, height)
    and resampled to `fps` frames per second (else the video's own rate)."""
    import av
    import cv2

    with av.open(str(source)) as container, open(target, "wb") as out:
        stream = container.streams.video[0]
        rate = (fps, 1) if fps else (stream.average_rate.numerator, stream.average_rate.denominator)
        next_t, written = start_s, 0
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            if t < start_s or (fps and t < next_t):
                continue
            if end_s is not None and t > end_s:
                break
            image = frame.to_ndarray(format="bgr24")
            if size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
            if not written:
                out.write(f"YUV4MPEG2 W{image.shape[1]} H{image.shape[0]} F{rate[0]}:{rate[1]} Ip A1:1 C420jpeg\n"
                          .encode())
            out.write(b"FRAME\n" + np.ascontiguousarray(yuv).tobytes())
            written += 1
            next_t = start_s + written / fps if fps else t
