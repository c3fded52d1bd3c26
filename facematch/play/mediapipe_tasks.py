"""MediaPipe's face detector and Face Landmarker (the coach's eyes), offline, thread-safe, no TensorFlow."""

from __future__ import annotations

import atexit
import sys
import threading
import types

import cv2
import numpy as np

from facematch.assets import asset_path


def _import_mediapipe_vision():
    """Import mediapipe's Tasks vision API without pulling in TensorFlow.

    mediapipe.tasks imports `tensorflow.tools.docs.doc_controls` when TensorFlow is
    installed (it is, for the retraining scripts), only for a documentation decorator, and
    that costs the game 7-15 s of start-up. A stand-in module answers that one import;
    it is removed again at once so a real TensorFlow import later is unaffected.
    """
    name = "tensorflow.tools.docs"
    if "tensorflow" in sys.modules or "mediapipe.tasks.python.vision" in sys.modules:
        from mediapipe.tasks.python import BaseOptions, vision
        return BaseOptions, vision
    stub = types.ModuleType(name)
    stub.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
    sys.modules[name] = stub
    try:
        from mediapipe.tasks.python import BaseOptions, vision
    finally:
        if sys.modules.get(name) is stub:
            del sys.modules[name]
    return BaseOptions, vision


class _LockedTask:
    """A MediaPipe vision task in image mode with an offline model file: calls serialised by a
    lock (a task graph is not re-entrant), closed early at interpreter exit.

    kind: the task's name in mediapipe.tasks.python.vision ("FaceDetector", "FaceLandmarker");
    options: that task's own options.
    """

    def __init__(self, kind: str, model_path, **options):
        BaseOptions, mp_vision = _import_mediapipe_vision()

        settings = getattr(mp_vision, f"{kind}Options")(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=mp_vision.RunningMode.IMAGE, **options)
        self._task = task = getattr(mp_vision, kind).create_from_options(settings)
        # mediapipe calls its C library through a thread pool that Python shuts down before
        # atexit handlers run, so its own close()/__del__ at exit print tracebacks. Closing in
        # the same early phase as that pool's shutdown (threading's exit hooks) avoids that.
        getattr(threading, "_register_atexit", atexit.register)(task.close)
        self._lock = threading.Lock()

    def run(self, frame_bgr: np.ndarray):
        import mediapipe as mp

        rgb = np.ascontiguousarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
        with self._lock:
            return self._task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))


class FaceDetector:
    """MediaPipe Tasks BlazeFace (short range), image mode, with the offline model file."""

    def __init__(self, min_confidence: float = 0.5, model_path=None):
        self._detector = _LockedTask("FaceDetector", model_path or asset_path("face_detector"),
                                     min_detection_confidence=min_confidence)

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """Boxes (x, y, w, h) clipped to the frame, with scores, largest first."""
        h, w = frame_bgr.shape[:2]
        detections = self._detector.run(frame_bgr).detections
        boxes = []
        for det in detections:
            bb = det.bounding_box
            x0, y0 = max(0, bb.origin_x), max(0, bb.origin_y)
            x1, y1 = min(w, bb.origin_x + bb.width), min(h, bb.origin_y + bb.height)
            if x1 - x0 >= 8 and y1 - y0 >= 8:  # ignore slivers at the border
                score = float(det.categories[0].score) if det.categories else 0.0
                boxes.append(((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), score))
        boxes.sort(key=lambda b: b[0][2] * b[0][3], reverse=True)
        return boxes


class FaceLandmarks:
    """MediaPipe Face Landmarker (478 landmarks, 52 blendshapes), image mode, offline bundle: the coach's eyes.

    Image mode, because one instance serves every player's stream (video mode needs one
    timeline per instance).
    """

    def __init__(self, max_faces: int = 2, model_path=None):
        self.max_faces = max_faces
        self._landmarker = _LockedTask("FaceLandmarker", model_path or asset_path("face_landmarker"),
                                       num_faces=max_faces, output_face_blendshapes=True)

    def measure(self, frame_bgr: np.ndarray) -> list[tuple[tuple[float, float], dict[str, float]]]:
        """Each face's centre (x, y in pixels, from its landmarks) and its blendshapes."""
        h, w = frame_bgr.shape[:2]
        found = self._landmarker.run(frame_bgr)
        faces = []
        for points, shapes in zip(found.face_landmarks, found.face_blendshapes):
            xs, ys = [p.x for p in points], [p.y for p in points]
            centre = ((min(xs) + max(xs)) / 2 * w, (min(ys) + max(ys)) / 2 * h)
            faces.append((centre, {c.category_name: float(c.score) for c in shapes}))
        return faces

    def measure_one(self, crop_bgr: np.ndarray) -> dict[str, float] | None:
        """The blendshapes of the face nearest the centre of a crop around one face (None if none is found):
        a neighbour partly inside the crop never stands in for it."""
        found = self.measure(crop_bgr)
        if not found:
            return None
        h, w = crop_bgr.shape[:2]
        return min(found, key=lambda m: (m[0][0] - w / 2) ** 2 + (m[0][1] - h / 2) ** 2)[1]
