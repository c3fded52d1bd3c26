"""The returned video's encoder: what aiortc's senders use after install(), and a picture that survives it."""

from fractions import Fraction

import av
import numpy as np
from aiortc import RTCRtpCodecParameters, rtcrtpsender
from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame

from conftest import VIDEO
from facematch.app import video_encoder
from facematch.app.video_encoder import QuickVp8Encoder

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
VIDEO_TIME_BASE = Fraction(1, 90000)
H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)


def video_frames(count: int) -> list[av.VideoFrame]:
    frames = []
    with av.open(str(VIDEO)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.reformat(width=640, height=480, format="yuv420p"))
            if len(frames) == count:
                return frames
    return frames


def test_aiortc_senders_encode_vp8_with_the_quick_encoder_and_other_codecs_as_before(monkeypatch):
    monkeypatch.setattr(rtcrtpsender, "get_encoder", rtcrtpsender.get_encoder)  # undone after the test
    video_encoder.install()
    assert type(rtcrtpsender.get_encoder(VP8)) is QuickVp8Encoder
    assert type(rtcrtpsender.get_encoder(H264)).__name__ == "H264Encoder"


def test_the_picture_comes_through_and_only_the_first_frame_is_a_key_frame():
    encoder, decoder = QuickVp8Encoder(), Vp8Decoder()
    keys, psnr = [], []
    for i, frame in enumerate(video_frames(45)):
        payloads, timestamp = encoder.encode(_stamped(frame, i * 6000))
        data = b"".join(vp8_depayload(p) for p in payloads)
        keys.append(data[0] & 1 == 0)  # VP8's frame tag: bit 0 clear on a key frame
        decoded, = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
        shown = decoded.to_ndarray(format="yuv420p")[:480].astype(float)
        sent = frame.to_ndarray(format="yuv420p")[:480].astype(float)
        psnr.append(10 * np.log10(255 ** 2 / np.mean((shown - sent) ** 2)))
    # One libvpx context for the whole stream (reopening it would send a key frame every frame).
    assert keys == [True] + [False] * 44, keys
    assert min(psnr[15:]) > 32, psnr  # after the rate control has settled: the face as sent


def test_a_frame_stamped_before_the_encoders_first_one_is_sent_not_fatal():
    # A late frame right after a bitrate change reopened the context, or the browser's RTP clock wrapping:
    # libvpx refuses a stamp below its context's first (aiortc's own encoder raises, and its sender stops).
    frames = video_frames(4)
    stamps = [90_000, 96_000, 93_000, 99_000]  # the third came late; the encoder opened at 96_000 below
    encoder = QuickVp8Encoder()
    encoder.encode(_stamped(frames[0], stamps[0]))
    encoder.target_bitrate = encoder.target_bitrate * 2  # a bitrate change: a new context at the next frame
    sent = [encoder.encode(_stamped(f, s))[0] for f, s in zip(frames[1:], stamps[1:])]
    keys = [vp8_depayload(payloads[0])[0] & 1 == 0 for payloads in sent]
    assert keys == [True, True, False]  # the late frame starts a new picture; the next builds on it


def _stamped(frame: av.VideoFrame, pts: int) -> av.VideoFrame:
    frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
    return frame
