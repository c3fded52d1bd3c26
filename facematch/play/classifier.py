"""Emotion classifier used by the game: a LiteRT (.tflite) export of the trained Keras model.

    from facematch.play.classifier import load_classifier
    clf = load_classifier()              # default model in models/, offline, cached
    probs = clf.predict(faces)           # (N, 48, 48) uint8 gray or (N, H, W, 3) BGR uint8 → (N, 7)

Playing never imports TensorFlow: LiteRT imports in milliseconds. A model directory
holds model.tflite and metadata.json (labels, input size, preprocessing). Loading
reads a flatbuffer and JSON only: no code from the file is ever executed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.config import DEFAULT_MODEL_DIR
from facematch.errors import ModelError

TFLITE_NAME = "model.tflite"
METADATA_NAME = "metadata.json"
# The metadata.json keys that decide what the judge answers (views, temperature, offsets, fusion).
_JUDGING_KEYS = ("labels", "input_size", "test_time_augmentation", "live_test_time_augmentation",
                 "view_temperature", "class_log_offsets", "blendshape_fusion")
_CHUNK = 64  # images per interpreter call

# Test-time augmentation a model's metadata may name: predict() averages the probabilities
# of these views of each face. Every shift (dx, dy), in pixels with the edge rows repeated, is
# taken of the face and of its mirror image. Which one a model uses is chosen on PublicTest.
TTA_SHIFTS = {
    "none": None,
    "hflip": ((0, 0),),
    "hflip+shift2": ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)),
}


def shift_images(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(N, H, W, ...) images moved dx pixels right and dy down, the edge rows and columns repeated."""
    if dx == 0 and dy == 0:
        return x
    p = max(abs(dx), abs(dy))
    pad = ((0, 0), (p, p), (p, p)) + ((0, 0),) * (x.ndim - 3)
    padded = np.pad(x, pad, mode="edge")
    h, w = x.shape[1:3]
    return padded[:, p - dy:p - dy + h, p - dx:p - dx + w]


def tta_view_keys(mode: str) -> list[tuple[int, int, bool]]:
    """(dx, dy, mirrored) of each view `mode` averages, in the order tta_views returns them."""
    if mode not in TTA_SHIFTS:
        raise ValueError(f"unknown test-time augmentation {mode!r}; choose from {sorted(TTA_SHIFTS)}")
    if TTA_SHIFTS[mode] is None:
        return [(0, 0, False)]
    # Each shift of the face, then of its mirror image: faces are left-right symmetric.
    return [(dx, dy, mirrored) for dx, dy in TTA_SHIFTS[mode] for mirrored in (False, True)]


def tta_view(x: np.ndarray, key: tuple[int, int, bool]) -> np.ndarray:
    dx, dy, mirrored = key
    moved = shift_images(x, dx, dy)
    return moved[:, :, ::-1] if mirrored else moved


def tta_views(x: np.ndarray, mode: str) -> list[np.ndarray]:
    """The views of a batch that test-time augmentation `mode` averages (just x for "none")."""
    return [tta_view(x, key) for key in tta_view_keys(mode)]


class EmotionClassifier:
    """Thread-safe wrapper around one LiteRT interpreter.

    A LiteRT interpreter must not be invoked from two threads at once, so predict()
    holds a lock. One instance is shared by all sessions of the app: inference is a
    few milliseconds, far below the frame interval, so the lock costs little.
    """

    def __init__(self, model_dir: str | Path, num_threads: int | None = None):
        self.model_dir = Path(model_dir)
        self.metadata = _read_metadata(self.model_dir)
        tflite = self.model_dir / TFLITE_NAME
        if not tflite.is_file():
            raise ModelError(f"{tflite} is missing. {_FIX}")
        content = tflite.read_bytes()
        # The id names the judge a round was scored by (it goes into the history): the network's
        # bytes and the metadata that changes its verdicts, not the metrics written beside them.
        judging = json.dumps({key: self.metadata.get(key) for key in _JUDGING_KEYS}, sort_keys=True)
        digest = hashlib.sha256(content + judging.encode()).hexdigest()[:12]
        self.model_id = f"{self.model_dir.name}@{digest}"
        from ai_edge_litert.interpreter import Interpreter

        try:
            # Calls are serialised by the lock below, so each call may use every core.
            threads = num_threads or min(4, os.cpu_count() or 1)
            self._interpreter = Interpreter(model_content=content, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{tflite} cannot be loaded ({exc}). {_FIX}") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        size = self.input_size
        if tuple(self._input["shape"][1:]) != (size, size, 1) or self._output["shape"][-1] != len(EMOTIONS):
            raise ModelError(
                f"{tflite} has input {list(self._input['shape'])} and output {list(self._output['shape'])}; "
                f"expected (N, {size}, {size}, 1) → (N, {len(EMOTIONS)}). {_FIX}"
            )
        self._batch = int(self._input["shape"][0])
        self._lock = threading.Lock()
        self.tta = self.metadata.get("test_time_augmentation") or "none"
        # The views the live game plays per frame (a cheaper subset of `tta`, chosen on PublicTest
        # by scripts/choose_live_views.py; a single pass when the model names none).
        self.live_tta = self.metadata.get("live_test_time_augmentation") or "none"
        tta_view_keys(self.live_tta)  # an unknown name fails here, at load, not in the video thread
        self.view_temperature = float(self.metadata.get("view_temperature") or 1.0)
        # Per-class shifts of the log-probabilities, fitted on PublicTest so the classes the
        # network under-predicts (fear, sad) are not left behind (scripts/fit_class_offsets.py).
        offsets = self.metadata.get("class_log_offsets") or {}
        unknown = set(offsets) - set(EMOTIONS)
        if unknown:
            raise ModelError(f"{self.model_dir / METADATA_NAME} has class_log_offsets for unknown classes "
                             f"{sorted(unknown)}. {_FIX}")
        self.class_offsets = np.array([float(offsets.get(e, 0.0)) for e in EMOTIONS])
        # The face's muscles as a second opinion (facematch.play.fusion), if the model has a head for them.
        self.fusion = None
        if self.metadata.get("blendshape_fusion"):
            from facematch.play.fusion import BlendshapeFusion

            try:
                self.fusion = BlendshapeFusion(self.model_dir, self.metadata["blendshape_fusion"])
            except ModelError as exc:
                raise ModelError(f"{self.model_dir}: {exc}. {_FIX}") from None

    @property
    def input_size(self) -> int:
        return int(self.metadata["input_size"])

    def preprocess(self, faces: np.ndarray) -> np.ndarray:
        """Any supported batch → float32 (N, S, S, 1) gray in 0..255, as the network expects."""
        faces = np.asarray(faces)
        if faces.dtype != np.uint8:
            raise ValueError(f"faces must be uint8 images, got dtype {faces.dtype}")
        if faces.ndim == 4 and faces.shape[-1] == 1:
            faces = faces[..., 0]
        if faces.ndim not in (3, 4) or (faces.ndim == 4 and faces.shape[-1] != 3):
            raise ValueError(
                f"faces must be (N, H, W) grayscale or (N, H, W, 3) BGR, got shape {faces.shape}")
        if faces.shape[1] == 0 or faces.shape[2] == 0:
            raise ValueError(f"faces must have a non-empty height and width, got shape {faces.shape}")
        size = self.input_size
        if faces.ndim == 4 or faces.shape[1:3] != (size, size):
            import cv2

            out = np.empty((len(faces), size, size), np.uint8)
            for i, face in enumerate(faces):
                if face.ndim == 3:
                    face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
                interpolation = cv2.INTER_AREA if min(face.shape) >= size else cv2.INTER_LINEAR
                out[i] = cv2.resize(face, (size, size), interpolation=interpolation)
            faces = out
        return faces.astype(np.float32)[..., None]

    def predict(self, faces: np.ndarray, tta: bool | str | None = None, offsets: bool = True,
                fuse: bool | None = None) -> np.ndarray:
        """Emotion probabilities (N, 7) float32, columns in EMOTIONS order, rows summing to 1.

        tta: average over the model's test-time augmentation views (its metadata's
        `test_time_augmentation`, e.g. 10 shifted and mirrored views) when True or None; a
        single pass when False; or the views of a named mode ("hflip": the face and its mirror
        image, what the live game plays as `live_tta`).
        fuse: also read the face's muscles (the model's blendshape fusion, if it has one): None
        fuses with the model's full views (the whole judge) and, if the model plays it live, with
        its live views; a single pass (tta=False) is not fused unless asked.
        """
        x = self.preprocess(faces)
        if len(x) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        mode = tta if isinstance(tta, str) else self.tta if tta is None or tta else "none"
        views = tta_views(x, mode)
        terms = None
        played = mode == self.tta or (mode == self.live_tta and self.fusion is not None and self.fusion.live)
        if self.fusion is not None and (fuse or (fuse is None and played)):
            terms = self.fusion.terms(self.fusion.measure_crops(x[..., 0].astype(np.uint8)))
        # All views in one batch: one interpreter call instead of one per view (4.1 → 3.8 ms a face
        # for the live game's 2 views here).
        stacked = self._run(np.concatenate(views)) if len(views) > 1 else self._run(np.ascontiguousarray(views[0]))
        n = len(x)
        return self.combine([stacked[i * n:(i + 1) * n] for i in range(len(views))], offsets, terms)

    def combine(self, view_probs: list[np.ndarray], offsets: bool = True,
                fusion_terms: np.ndarray | None = None) -> np.ndarray:
        """The probabilities of several views of the same faces (or one view), averaged and recalibrated.

        Each view is calibrated for a single pass; their average is less confident than it
        should be, so it is sharpened by the model's `view_temperature` (fitted on PublicTest).
        Then `fusion_terms` (BlendshapeFusion.terms: what the muscles say, with the fusion's
        offsets) are added to the log-probabilities, and the model's per-class offsets, if any,
        shift the classes it under-predicts (offsets=False leaves both offsets out, to fit new ones).
        """
        probs = (sum(view_probs) / len(view_probs)).astype(np.float64)
        sharpen = len(view_probs) > 1 and self.view_temperature != 1.0
        shift = offsets and bool(self.class_offsets.any())
        if sharpen or shift or fusion_terms is not None:
            logits = np.log(np.maximum(probs, 1e-12))
            if sharpen:
                logits = logits / self.view_temperature
            if fusion_terms is not None:
                logits = logits + fusion_terms - (0 if offsets else self.fusion.offsets)
            if shift:
                logits = logits + self.class_offsets
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = probs.astype(np.float32)
        return probs / probs.sum(axis=1, keepdims=True)

    def _run(self, x: np.ndarray) -> np.ndarray:
        outputs = []
        with self._lock:
            for start in range(0, len(x), _CHUNK):
                chunk = np.ascontiguousarray(x[start:start + _CHUNK])
                if len(chunk) != self._batch:
                    self._interpreter.resize_tensor_input(self._input["index"], chunk.shape)
                    self._interpreter.allocate_tensors()
                    self._batch = len(chunk)
                self._interpreter.set_tensor(self._input["index"], chunk)
                self._interpreter.invoke()
                outputs.append(self._interpreter.get_tensor(self._output["index"]).copy())
        return np.concatenate(outputs)


_FIX = "Restore the shipped model with `git checkout models/`, or retrain with `make pipeline`."


def _read_metadata(model_dir: Path) -> dict:
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist. {_FIX}")
    path = model_dir / METADATA_NAME
    try:
        metadata = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path} is missing. {_FIX}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is damaged ({exc}). {_FIX}") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{path} is damaged (not a JSON object). {_FIX}")
    if tuple(metadata.get("labels", ())) != EMOTIONS:
        raise ModelError(f"{path} lists labels {metadata.get('labels')}; this version of Facematch "
                         f"needs {list(EMOTIONS)} in that order. {_FIX}")
    if not isinstance(metadata.get("input_size"), int):
        raise ModelError(f"{path} has no integer input_size. {_FIX}")
    if (metadata.get("test_time_augmentation") or "none") not in TTA_SHIFTS:
        raise ModelError(f"{path} names test-time augmentation {metadata['test_time_augmentation']!r}; "
                         f"this version of Facematch knows {sorted(TTA_SHIFTS)}. {_FIX}")
    view_temperature = metadata.get("view_temperature", 1.0)
    if not isinstance(view_temperature, (int, float)) or not view_temperature > 0:
        raise ModelError(f"{path} has view_temperature {view_temperature!r}; expected a positive number. {_FIX}")
    return metadata


@functools.lru_cache(maxsize=4)
def _cached(model_dir: Path) -> EmotionClassifier:
    return EmotionClassifier(model_dir)


def load_classifier(path: str | Path | None = None) -> EmotionClassifier:
    """Load (once, then cached) the classifier in `path`, or the default model in models/."""
    return _cached(Path(path or DEFAULT_MODEL_DIR).resolve())
