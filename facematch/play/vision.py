"""One video frame → faces → emotion probabilities → annotated frame. No Streamlit here.

    from facematch.play.vision import FrameAnalyzer
    annotated, result = FrameAnalyzer().process(frame_bgr, blendshapes=True)
    result.faces  # each face's box and its 7 probabilities, largest face first
    result.faces[0].blendshapes  # its 52 MediaPipe blendshapes (the coach), when asked for

process() and results() never raise: the WebRTC video callback calls them, and a callback that
raises kills the stream. Frames are handled in memory only; nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facematch.play.classifier import load_classifier
from facematch.play.drawing import draw, draw_i420
from facematch.play.faces import Face, FrameResult, attach_blendshapes
from facematch.play.frames import crop_with_margin, to_bgr_uint8
from facematch.play.mediapipe_tasks import FaceDetector, FaceLandmarks
from facematch.play.oncelog import OnceLog

SEAT_MARGIN = 0.5  # around a seat's face for its own landmarker call: the whole head, little of a neighbour


class FrameAnalyzer:
    """Detect faces, judge each (largest first), draw the result on a copy of the frame.

    Safe to share between threads: the detector, landmarker and judge each hold their own lock.
    `views` are the judge's views per face (model_spec.VIEW_SETS): by default the ones its spec
    plays live (a judge without `live_views`, any object with predict and resize, plays "none").
    """

    def __init__(self, classifier=None, detector: FaceDetector | None = None, margin: float = 0.15,
                 max_faces: int = 4, views: str | None = None, coach: bool = True,
                 landmarks: FaceLandmarks | None = None):
        self.classifier = classifier if classifier is not None else load_classifier()
        self.detector = detector or FaceDetector()
        self.margin = margin
        self.max_faces = max_faces
        self.errors = OnceLog("frame analysis")  # shared by every player's video thread
        self.views = views or getattr(self.classifier, "live_views", "none")
        # The coach's landmarker costs ~2.5x the rest of the frame step, so callers ask for it on
        # some frames only (blendshapes=True); coach=False never loads it.
        self.landmarks = (landmarks or FaceLandmarks()) if coach else None

    def analyze_many(self, frames: Sequence[np.ndarray], blendshapes: Sequence[bool] | None = None,
                     views: str | None = None) -> list[list[Face]]:
        """Faces of several BGR frames (several players'), with every face of every frame judged
        in one batch; blendshapes[i] asks for frame i's muscles (the coach); views overrides the
        analyzer's views for this call ("none": one pass, when the machine is busy)."""
        wanted = list(blendshapes) if blendshapes is not None else [False] * len(frames)
        boxes = [self.detector.detect(frame)[: self.max_faces] if min(frame.shape[:2]) >= 8 else []
                 for frame in frames]
        crops = [self.classifier.resize(crop_with_margin(frame, box, self.margin))
                 for frame, found in zip(frames, boxes) for box, _ in found]
        probs = iter(self.classifier.predict(np.stack(crops), views or self.views) if crops else [])
        out = []
        for frame, found, measure in zip(frames, boxes, wanted):
            faces = [Face(box=box, probs=next(probs), detection_score=score,
                          image=crop_with_margin(frame, box, self.margin)) for box, score in found]
            if faces and measure and self.landmarks is not None:
                self._measure(frame, faces)
            out.append(faces)
        return out

    def _measure(self, frame: np.ndarray, faces: list[Face]) -> None:
        """The coach's blendshapes for the largest faces (the seats: Challenge's player, Duel's two).

        The landmarker finds at most `max_faces` faces anywhere in the frame, on its own: with more
        faces in the picture it may measure bystanders and leave a player without a coach. Then each
        of the largest faces is measured on its own crop instead (one landmarker call each).
        """
        if len(faces) <= self.landmarks.max_faces:
            attach_blendshapes(faces, self.landmarks.measure(frame))
            return
        for face in faces[: self.landmarks.max_faces]:
            face.blendshapes = self.landmarks.measure_one(crop_with_margin(frame, face.box, SEAT_MARGIN))

    def results(self, frames: Sequence, blendshapes: Sequence[bool] | None = None,
                views: str | None = None) -> list[tuple[np.ndarray, FrameResult]]:
        """(BGR image, FrameResult) per frame; never raises: an unusable frame or a failing model
        gives a result with `error` set (and is logged once per kind)."""
        images, out = [], []
        for frame in frames:
            try:
                images.append(to_bgr_uint8(frame))
            except Exception as exc:  # never raise out of the video callback
                images.append(None)
                out.append(FrameResult(error=f"unusable frame: {exc}"))
            else:
                out.append(None)
        usable = [i for i, image in enumerate(images) if image is not None]
        wanted = list(blendshapes) if blendshapes is not None else [False] * len(frames)
        try:
            faces = self.analyze_many([images[i] for i in usable], [wanted[i] for i in usable], views)
            for i, found in zip(usable, faces):
                out[i] = FrameResult(faces=found, width=images[i].shape[1])
        except Exception as exc:
            self.errors.exception(exc)
            for i in usable:
                out[i] = FrameResult(error=f"{exc.__class__.__name__}: {exc}", width=images[i].shape[1])
        blank = np.zeros((48, 48, 3), np.uint8)
        return [(image if image is not None else blank, result) for image, result in zip(images, out)]

    def annotate(self, image: np.ndarray, result: FrameResult, target: str | None = None, seats: int = 1):
        """A copy of the image with the result drawn on it (the image itself if drawing fails)."""
        try:
            return draw(image.copy(), result, target, seats)
        except Exception as exc:
            self.errors.exception(exc)
            return image

    def annotate_i420(self, planes: np.ndarray, result: FrameResult, target: str | None = None,
                      seats: int = 1) -> np.ndarray:
        """A copy of the I420 planes with the result drawn on them (the planes themselves if drawing fails)."""
        try:
            return draw_i420(planes.copy(), result, target, seats)
        except Exception as exc:
            self.errors.exception(exc)
            return planes

    def process(self, frame, target: str | None = None, seats: int = 1,
                blendshapes: bool = False) -> tuple[np.ndarray, FrameResult]:
        """Analyse and annotate one frame; seats=2 labels the two players' faces (Duel);
        blendshapes=True also measures the faces' muscles for the coach."""
        (image, result), = self.results([frame], [blendshapes])
        return self.annotate(image, result, target, seats), result
