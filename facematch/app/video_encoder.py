"""The returned video's VP8 encoder: aiortc's, without its denoiser and at libvpx's faster realtime speed.

aiortc opens libvpx with `noise-sensitivity 4` (a temporal denoiser, made for raw camera pictures) and
`cpu-used -6`. The video the game sends back has been through the browser's encoder already and only gets
labels drawn on it, so the denoiser has nothing to do but costs; `cpu-used -10` is the next speed step
that keeps the picture (scripts/encoder_benchmark.py measures both; the figures are in docs/operations.md).

`install()` makes aiortc's RTP senders use it; aiortc is pinned (requirements/), and the options below
are the ones aiortc 1.x sets, with those two changed.
"""

from __future__ import annotations

import multiprocessing

import av
from aiortc import rtcrtpsender
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import Vp8Encoder, number_of_threads

OPTIONS = {"noise-sensitivity": "0", "cpu-used": "-10"}  # the two that differ from aiortc's


def libvpx_options(bitrate: int, changed: dict[str, str] = OPTIONS) -> dict[str, str]:
    """aiortc's libvpx options for `bitrate` (CBR, realtime, no lag), with `changed` instead of its own
    (changed={}: aiortc's as they are)."""
    return {
        "bufsize": str(bitrate),  # rc_buf_sz = 1000 ms (FFmpeg: bufsize × 1000 / bit_rate)
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate),  # minrate = maxrate = bit_rate: CBR
        "maxrate": str(bitrate),
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
        **changed,
    }


def open_vp8(width: int, height: int, bitrate: int, options: dict[str, str], threads: int):
    """A libvpx encoding context as aiortc sets one up, with `options`."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.bit_rate = bitrate
    codec.pix_fmt = "yuv420p"
    codec.gop_size = 3000  # kf_max_dist: key frames only when the receiver asks
    codec.qmin, codec.qmax = 2, 56
    codec.options = options
    codec.thread_count = threads
    return codec


class QuickVp8Encoder(Vp8Encoder):
    """aiortc's Vp8Encoder, whose libvpx context is opened here with libvpx_options()."""

    def __init__(self) -> None:
        super().__init__()
        self._first_pts = None  # the time stamp of the first frame the open context encoded

    def encode(self, frame, force_keyframe: bool = False):
        codec = self.codec
        # aiortc reopens its context when the size changes or the bitrate moves by over 10%: open it first,
        # so that aiortc's encode() finds a context of the right size and bitrate and keeps it.
        # libvpx also refuses a frame stamped before the first one its context encoded (av raises
        # InvalidDataError, aiortc's sender stops and the player's video freezes). The stamps are the browser's
        # RTP clock: a frame that comes late just after a bitrate change reopened the context, or a clock that
        # wraps or restarts, steps back. A new context takes any stamp (its first frame is a key frame).
        stepped_back = frame.pts is not None and self._first_pts is not None and frame.pts < self._first_pts
        if codec is None or stepped_back or (codec.width, codec.height) != (frame.width, frame.height) or (
                abs(self.target_bitrate - codec.bit_rate) / codec.bit_rate > 0.1):
            self.codec = open_vp8(frame.width, frame.height, self.target_bitrate,
                                  libvpx_options(self.target_bitrate),
                                  number_of_threads(frame.width * frame.height, multiprocessing.cpu_count()))
            self._first_pts = frame.pts
        return super().encode(frame, force_keyframe)


def _get_encoder(codec):
    if codec.mimeType.lower() == "video/vp8":
        return QuickVp8Encoder()
    return get_encoder(codec)


def install() -> None:
    """Make aiortc's senders (every player's returned video) encode VP8 with QuickVp8Encoder."""
    rtcrtpsender.get_encoder = _get_encoder
