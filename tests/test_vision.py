"""FrameAnalyzer on real video frames and on frames a webcam should never send."""

import cv2
import numpy as np
import pytest

from conftest import CROWD_TILES, crowd_frame, needs_video, video_frames
from facematch import EMOTIONS
from facematch.play.classifier import resize_gray
from facematch.play.drawing import draw, draw_i420
from facematch.play.faces import Face, FrameResult
from facematch.play.frames import I420Frame, crop_with_margin, to_bgr_uint8
from facematch.play.vision import FrameAnalyzer


@pytest.fixture(scope="module")
def analyzer():
    return FrameAnalyzer()


@needs_video
def test_real_face_is_found_and_classified(analyzer):
    frames = video_frames([2.0, 10.0, 17.0])
    for t, frame in frames.items():
        annotated, result = analyzer.process(frame)
        assert annotated.shape == frame.shape and annotated.dtype == np.uint8
        assert result.error is None
        assert len(result.faces) == 1, f"t={t}s"
        face = result.primary
        x, y, w, h = face.box
        assert 0 <= x < x + w <= frame.shape[1] and 0 <= y < y + h <= frame.shape[0]
        assert w > 40 and h > 40
        assert face.probs.shape == (7,) and abs(float(face.probs.sum()) - 1) < 1e-4
        assert not np.array_equal(annotated, frame)  # the box and label are drawn


@needs_video
def test_laughing_face_reads_as_happy(analyzer):
    _, result = analyzer.process(video_frames([17.0])[17.0])
    assert result.primary.emotion == "happy"


@needs_video
def test_two_faces_are_both_reported_largest_first(analyzer):
    frame = video_frames([17.0])[17.0]
    import cv2

    small = cv2.resize(frame, None, fx=0.5, fy=0.5)
    canvas = np.zeros((frame.shape[0], frame.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, : frame.shape[1]] = frame
    canvas[: small.shape[0], frame.shape[1]:] = small
    _, result = analyzer.process(canvas)
    assert len(result.faces) == 2
    areas = [f.box[2] * f.box[3] for f in result.faces]
    assert areas[0] > areas[1]


@needs_video
def test_faces_carry_their_blendshapes_when_asked_each_its_own(analyzer):
    import cv2

    frames = video_frames([8.0, 17.0])
    brows_up, laugh = frames[8.0], frames[17.0]
    _, result = analyzer.process(laugh, blendshapes=True)
    shapes = result.primary.blendshapes
    assert len(shapes) == 52 and shapes["mouthSmileLeft"] > 0.5
    _, plain = analyzer.process(laugh)
    assert plain.primary.blendshapes is None  # the landmarker runs only when asked (it costs ~12 ms)

    # Two faces: the laughing one large on the left, the brows-up one smaller on the right.
    small = cv2.resize(brows_up, None, fx=0.7, fy=0.7)
    canvas = np.zeros((laugh.shape[0], laugh.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, : laugh.shape[1]] = laugh
    canvas[: small.shape[0], laugh.shape[1]:] = small
    _, result = analyzer.process(canvas, blendshapes=True)
    big, little = result.faces
    assert big.blendshapes["mouthSmileLeft"] > 0.5 > little.blendshapes["mouthSmileLeft"]
    assert little.blendshapes["browInnerUp"] > big.blendshapes["browInnerUp"]


@pytest.mark.parametrize("frame", [
    np.zeros((480, 640, 3), np.uint8),
    np.full((480, 640, 3), 255, np.uint8),
    np.zeros((1, 1, 3), np.uint8),
    np.zeros((480, 640), np.uint8),
    np.zeros((480, 640, 4), np.uint8),
    np.zeros((480, 640, 1), np.uint8),
    np.tile(np.linspace(0, 1, 320), (240, 1))[..., None].repeat(3, axis=2),  # float gradient in 0..1
    np.zeros((0, 0, 3), np.uint8),
    np.zeros((10,), np.uint8),
    np.zeros((480, 640, 3), np.uint16),
], ids=["black", "white", "1x1", "gray", "bgra", "gray1", "float", "empty", "1d", "uint16"])
def test_odd_frames_never_raise_and_always_return_a_frame(analyzer, frame):
    for blendshapes in (False, True):
        annotated, result = analyzer.process(frame, blendshapes=blendshapes)
        assert isinstance(annotated, np.ndarray) and annotated.ndim == 3 and annotated.shape[2] == 3
        assert annotated.dtype == np.uint8
        assert result.faces == []


def test_to_bgr_and_crop_helpers():
    assert to_bgr_uint8(np.ones((4, 4), bool)).max() == 255
    assert to_bgr_uint8(np.full((4, 4, 3), np.nan)).max() == 0
    frame = np.zeros((100, 100, 3), np.uint8)
    assert crop_with_margin(frame, (90, 90, 20, 20), 0.2).shape[:2] == (14, 14)  # 28 px wide, clipped at 100


@needs_video
def test_a_failing_classifier_is_reported_on_the_frame_and_logged_once_per_kind(analyzer, caplog):
    class BrokenClassifier:  # a model that fails on every call, as a damaged interpreter would
        def resize(self, face):
            return resize_gray(face, 48)

        def predict(self, faces, views=None):
            raise RuntimeError("interpreter failed")

    broken = FrameAnalyzer(classifier=BrokenClassifier(), detector=analyzer.detector, coach=False)
    frame = video_frames([2.0])[2.0]
    with caplog.at_level("ERROR", logger="facematch.play"):
        for _ in range(5):
            annotated, result = broken.process(frame)
            assert annotated.shape == frame.shape and result.faces == []
            assert result.error == "RuntimeError: interpreter failed"
    assert len(caplog.records) == 1 and "RuntimeError" in caplog.records[0].getMessage()
    assert broken.errors.counts == {"builtins.RuntimeError": 5}


def _i420_and_bgr(width=320, height=240, level=120):
    bgr = np.full((height, width, 3), level, np.uint8)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), bgr


@pytest.mark.parametrize("target, channel", [("happy", 1), ("sad", 2)])  # green on target, red off it
def test_boxes_drawn_on_webrtc_video_planes_look_like_the_bgr_ones(target, channel):
    happy = np.eye(7, dtype=np.float32)[EMOTIONS.index("happy")]
    result = FrameResult(faces=[Face((100, 80, 80, 90), happy), Face((20, 150, 40, 40), happy)], width=320)
    planes, bgr = _i420_and_bgr()
    drawn = cv2.cvtColor(draw_i420(planes.copy(), result, target), cv2.COLOR_YUV2BGR_I420).astype(int)
    expected = draw(bgr.copy(), result, target).astype(int)
    edge = drawn[130, 100]  # on the player's box's left side
    assert edge[channel] > max(np.delete(edge, channel)) + 40, edge
    assert np.abs(edge - expected[130, 100]).max() < 40
    assert np.ptp(drawn[170, 20]) < 25 and abs(drawn[170, 20, 0] - drawn[120, 200, 0]) > 30  # bystander: grey box
    label = drawn[60:78, 100:200]  # the label above the box: coloured background and dark text
    assert (label.sum(axis=2) < 150).sum() > 50 and (label[..., channel] > 150).sum() > 200
    assert np.abs(drawn[5:40, 250:315] - bgr[5:40, 250:315]).max() <= 2  # the rest of the frame untouched


@needs_video
def test_webrtc_planes_are_analysed_like_the_bgr_frame(analyzer):
    frame = video_frames([10.0])[10.0]
    (_, from_bgr), (_, from_planes) = analyzer.results([frame, I420Frame(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420))])
    assert len(from_planes.faces) == len(from_bgr.faces) == 1
    assert np.abs(np.subtract(from_planes.primary.box, from_bgr.primary.box)).max() <= 4
    assert from_planes.primary.emotion == from_bgr.primary.emotion


@needs_video
def test_in_a_crowd_each_seated_face_gets_its_own_blendshapes_and_no_bystander_takes_them(analyzer):
    crowd = crowd_frame()
    _, result = analyzer.process(crowd, blendshapes=True)
    assert len(result.faces) >= 3  # more faces than the landmarker looks for at once
    seats = result.faces[:2]
    assert all(face.blendshapes is not None for face in seats)
    assert all(face.blendshapes is None for face in result.faces[2:])  # bystanders are not measured
    for face in seats:  # each seat's muscles are its own face's: the grimace shuts the eyes, the laugh does not
        centre = face.box[0] + face.box[2] / 2
        tile = next(i for i, (left, size) in enumerate(CROWD_TILES) if left <= centre < left + size)
        grimacing = tile in (1, 3)
        assert (face.blendshapes["eyeBlinkLeft"] > 0.5) == grimacing, (tile, face.blendshapes["eyeBlinkLeft"])


def test_labels_of_faces_side_by_side_never_overlap():
    from facematch.play.drawing import _marks, label_layout

    faces = [Face(box=(100 + 70 * i, 200, 66, 66), probs=np.eye(7, dtype=np.float32)[5]) for i in range(3)]
    result = FrameResult(faces=faces, width=640)
    marks = _marks(result, None, seats=2)
    placed = label_layout(marks, 0.8, 480)
    rects = list(placed.values())
    assert len(rects) == 2  # two seats labelled, the bystander boxed only
    a, b = rects
    assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    drawn = draw(np.zeros((480, 640, 3), np.uint8), result, seats=2)
    assert drawn.any()
