"""The returned video's encoder: aiortc's VP8 options against the game's (facematch.app.video_encoder).

    python scripts/encoder_benchmark.py [--frames 240] [--video PATH]

Encodes the same 640×480 frames of the game's sample video (`facematch setup sample_video`) at aiortc's
default 500 kbit/s, one thread, pinned to one core, with each option set, and prints per frame: encoding
CPU ms, decoding CPU ms, bytes, and the PSNR of the decoded picture (luma) against the frame encoded.
"""

from __future__ import annotations

import argparse
import os
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from facematch.app.video_encoder import OPTIONS, libvpx_options, open_vp8
from facematch.assets import asset_path

BITRATE = 500_000  # aiortc's DEFAULT_BITRATE


def frames_of(video: Path, count: int) -> list[av.VideoFrame]:
    """`count` yuv420p frames at 640×480 (looping the video if it is short)."""
    frames = []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.reformat(width=640, height=480, format="yuv420p"))
            if len(frames) >= count:
                break
    return [frames[i % len(frames)] for i in range(count)]


def measure(frames: list[av.VideoFrame], options: dict[str, str]) -> dict[str, float]:
    encoder = open_vp8(640, 480, BITRATE, options, threads=1)
    packets, started = [], time.process_time()
    for i, frame in enumerate(frames):
        frame.pts, frame.time_base = i, Fraction(1, 15)
        packets.extend(bytes(p) for p in encoder.encode(frame))
    encode_ms = (time.process_time() - started) / len(frames) * 1000
    decoder, decoded, started = av.CodecContext.create("libvpx", "r"), [], time.process_time()
    for packet in packets:
        decoded.extend(decoder.decode(av.Packet(packet)))
    decode_ms = (time.process_time() - started) / max(len(packets), 1) * 1000
    psnr = []
    for frame, original in zip(decoded, frames):
        a = frame.to_ndarray(format="yuv420p")[:480].astype(np.float64)
        b = original.to_ndarray(format="yuv420p")[:480].astype(np.float64)
        psnr.append(10 * np.log10(255 ** 2 / max(np.mean((a - b) ** 2), 1e-9)))
    return {"encode_ms": encode_ms, "decode_ms": decode_ms, "bytes": float(np.mean([len(p) for p in packets])),
            "psnr_db": float(np.mean(psnr[len(psnr) // 4:]))}  # after the first quarter: the rate control settled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--video", type=Path, help="default: the sample video")
    args = parser.parse_args(argv)
    args.video = args.video or asset_path("sample_video")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    frames = frames_of(args.video, args.frames)
    print(f"{len(frames)} frames, 640×480, {BITRATE // 1000} kbit/s, one thread on one core; the game's: {OPTIONS}")
    print(f"{'options':<28} {'encode ms':>9} {'decode ms':>9} {'bytes':>6} {'PSNR dB':>7}")
    for name, options in (("aiortc's", libvpx_options(BITRATE, changed={})), ("the game's", libvpx_options(BITRATE))):
        m = measure(frames, options)
        print(f"{name:<28} {m['encode_ms']:9.2f} {m['decode_ms']:9.2f} {m['bytes']:6.0f} {m['psnr_db']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
