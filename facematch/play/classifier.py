"""The judge: a LiteRT (.tflite) network and its contract (facematch.model_spec), no TensorFlow.

    from facematch.play.classifier import load_classifier
    judge = load_classifier()                      # the default model, offline, cached
    probs = judge.predict(faces)                   # the whole judge: every view its spec names
    probs = judge.predict(faces, judge.live_views) # what the live game plays per frame

faces: (N, H, W) uint8 gray or (N, H, W, 3) BGR uint8 crops of any size → (N, 7) probabilities in
EMOTIONS order. Every crop is resized to the network's input (to_gray_size) and each view of it smoothed
by the spec's low-pass, the same whatever size the crop had. Loading reads a flatbuffer and JSON only:
no code from the files is ever executed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from facematch import EMOTIONS
from facematch.config import DEFAULT_MODEL_DIR
from facematch.errors import ModelError
from facematch.model_spec import FIX, TFLITE_NAME, ModelSpec, read_spec, view_keys
from facematch.play.litert import LiteRTNetwork


def shift_images(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(N, H, W, ...) images moved dx pixels right and dy down, the edge rows and columns repeated."""
    if dx == 0 and dy == 0:
        return x
    p = max(abs(dx), abs(dy))
    pad = ((0, 0), (p, p), (p, p)) + ((0, 0),) * (x.ndim - 3)
    padded = np.pad(x, pad, mode="edge")
    h, w = x.shape[1:3]
    return padded[:, p - dy:p - dy + h, p - dx:p - dx + w]


def view_image(x: np.ndarray, key: tuple[int, int, bool]) -> np.ndarray:
    """One view (model_spec.view_keys) of a batch of (N, H, W, ...) images."""
    dx, dy, mirrored = key
    moved = shift_images(x, dx, dy)
    return moved[:, :, ::-1] if mirrored else moved


def view_images(x: np.ndarray, views: str) -> list[np.ndarray]:
    """Every view of a batch in the set named `views` (just x for "none")."""
    return [view_image(x, key) for key in view_keys(views)]


def to_gray_size(faces: np.ndarray, size: int, downscale: str = "area", sharpen: float = 0.0) -> np.ndarray:
    """Any supported batch of crops → (N, size, size) uint8 gray: the one resampling every path uses.

    Larger crops are shrunk as `downscale` says (model_spec.DOWNSCALES), then sharpened by `sharpen`
    (model_spec.ModelSpec.sharpen); smaller ones are enlarged bilinearly.
    """
    faces = np.asarray(faces)
    if faces.dtype != np.uint8:
        raise ValueError(f"faces must be uint8 images, got dtype {faces.dtype}")
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim not in (3, 4) or (faces.ndim == 4 and faces.shape[-1] != 3):
        raise ValueError(f"faces must be (N, H, W) grayscale or (N, H, W, 3) BGR, got shape {faces.shape}")
    if faces.shape[1] == 0 or faces.shape[2] == 0:
        raise ValueError(f"faces must have a non-empty height and width, got shape {faces.shape}")
    if faces.ndim == 3 and faces.shape[1:3] == (size, size):
        return faces
    out = np.empty((len(faces), size, size), np.uint8)
    for i, face in enumerate(faces):
        out[i] = resize_gray(face, size, downscale, sharpen)
    return out


# The last halving of model_spec's "area2x-…" downscales.
_LAST_STEP = {"area2x-cubic": cv2.INTER_CUBIC, "area2x-lanczos": cv2.INTER_LANCZOS4}


def resize_gray(face: np.ndarray, size: int, downscale: str = "area", sharpen: float = 0.0) -> np.ndarray:
    """One (H, W) gray or (H, W, 3) BGR crop as (size, size) gray (downscale: a model_spec.DOWNSCALES name;
    sharpen: s in the 3-tap kernel [-s, 1 + 2s, -s] run along the rows and the columns of a shrunk crop)."""
    if face.ndim == 3:
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if face.shape == (size, size):
        return face
    if min(face.shape) < size:
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR)
    shrunk = _shrink(face, size, downscale)
    if not sharpen:
        return shrunk
    # The shrunk face is a little softer than one taken at this size would be (a 2x bilinear enlargement comes
    # back blurred by about [0.08, 0.84, 0.08]); the sharpening gives some of that detail back (rule R24).
    sharp = low_pass(shrunk[None].astype(np.float32), -sharpen)[0]
    return np.clip(np.rint(sharp), 0, 255).astype(np.uint8)


def _shrink(face: np.ndarray, size: int, downscale: str) -> np.ndarray:
    if downscale == "area":
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    # Averaging pixel areas is a box filter: a face enlarged 2x bilinearly comes back blurred by [1/8, 3/4, 1/8].
    # Areas are averaged down to twice the size only (it keeps any aliasing out), and an interpolating kernel,
    # sharper than the box, takes the last step.
    if min(face.shape) > 2 * size:
        face = cv2.resize(face, (2 * size, 2 * size), interpolation=cv2.INTER_AREA)
    return cv2.resize(face, (size, size), interpolation=_LAST_STEP[downscale])


def low_pass(x: np.ndarray, a: float) -> np.ndarray:
    """(N, H, W, ...) float images smoothed by the 3-tap kernel [a, 1 - 2a, a] along rows, then columns
    (edges repeated; a negative a sharpens); x itself when a is 0."""
    if not a:
        return x
    for axis in (1, 2):
        padded = np.pad(x, [(1, 1) if i == axis else (0, 0) for i in range(x.ndim)], mode="edge")
        n = x.shape[axis]
        x = (a * (padded.take(range(0, n), axis) + padded.take(range(2, n + 2), axis))
             + (1 - 2 * a) * padded.take(range(1, n + 1), axis))
    return x.astype(np.float32)


class EmotionClassifier:
    """One LiteRT network (facematch.play.litert) and the contract it was exported with. Thread-safe."""

    def __init__(self, model_dir: str | Path, num_threads: int | None = None, spec: ModelSpec | None = None):
        """spec: judge by this contract instead of the directory's (a pipeline step weighing a candidate)."""
        self.model_dir = Path(model_dir)
        self.spec = read_spec(self.model_dir) if spec is None else spec
        tflite = self.model_dir / TFLITE_NAME
        if not tflite.is_file():
            raise ModelError(f"{tflite} is missing. {FIX}")
        content = tflite.read_bytes()
        self.model_id = self.spec.model_id(content)
        try:
            self._network = LiteRTNetwork(content, num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{tflite} cannot be loaded ({exc}). {FIX}") from None
        size, network = self.input_size, self._network
        if network.input_shape != (size, size, 1) or network.outputs != len(EMOTIONS):
            raise ModelError(
                f"{tflite} has input {list(network.input_shape)} and {network.outputs} outputs; "
                f"spec.json says (N, {size}, {size}, 1) → (N, {len(EMOTIONS)}). {FIX}")
        self.class_offsets = np.array(self.spec.offsets())
        self.live_class_offsets = np.array(self.spec.offsets(live=True))

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    @property
    def views(self) -> str:
        """The views predict() averages by default: the whole judge."""
        return self.spec.views

    @property
    def live_views(self) -> str:
        """The views the live game plays per frame (a cheaper subset, chosen on PublicTest)."""
        return self.spec.live_views

    def resize(self, face: np.ndarray) -> np.ndarray:
        """One crop of any size as the (input_size, input_size) gray face predict() would judge."""
        return resize_gray(face, self.input_size, self.spec.downscale, self.spec.sharpen)

    def predict(self, faces: np.ndarray, views: str | None = None, offsets: bool = True) -> np.ndarray:
        """Emotion probabilities (N, 7) float32, columns in EMOTIONS order, rows summing to 1.

        views: the set of views to average (model_spec.VIEW_SETS), by default the spec's `views`
        (e.g. 10 shifted and mirrored views); the live game passes `live_views`.
        offsets=False leaves the class offsets out (to fit new ones). Views other than the spec's own are
        the live game's (its live views, or one pass on a busy server) and get its offsets where it has its own.
        """
        return self.combine(self.view_probabilities(faces, views), offsets,
                            live=views is not None and views != self.views)

    def view_probabilities(self, faces: np.ndarray, views: str | None = None) -> list[np.ndarray]:
        """The single-pass probabilities (N, 7) of each view predict() would average (model_spec.view_keys order),
        before combine(): no view temperature, no class offsets."""
        x = to_gray_size(faces, self.input_size, self.spec.downscale, self.spec.sharpen).astype(np.float32)[..., None]
        stacked = view_images(x, self.views if views is None else views)
        if len(x) == 0:
            return [np.zeros((0, len(EMOTIONS)), np.float32) for _ in stacked]
        # All views in one batch: one interpreter call instead of one per view. Each view is smoothed as it
        # is, as if it were the face given alone (the pipeline scores views that way).
        batch = np.concatenate(stacked) if len(stacked) > 1 else np.ascontiguousarray(stacked[0])
        out, n = self._run(low_pass(batch, self.spec.low_pass)), len(x)
        return [out[i * n:(i + 1) * n] for i in range(len(stacked))]

    def combine(self, view_probs: list[np.ndarray], offsets: bool = True, live: bool = False) -> np.ndarray:
        """The probabilities of several views of the same faces (or one view), averaged and recalibrated.

        Each view is calibrated for a single pass; their average is less confident than it should
        be, so it is sharpened by the spec's `view_temperature` (fitted on PublicTest). Then the
        class offsets shift the classes the network under-predicts: the live game's own where the
        spec has them and `live` says the live game plays these views (R35).
        """
        probs = (sum(view_probs) / len(view_probs)).astype(np.float64)
        sharpen = len(view_probs) > 1 and self.spec.view_temperature != 1.0
        class_offsets = self.live_class_offsets if live else self.class_offsets
        shift = offsets and bool(class_offsets.any())
        if sharpen or shift:
            logits = np.log(np.maximum(probs, 1e-12))
            if sharpen:
                logits = logits / self.spec.view_temperature
            if shift:
                logits = logits + class_offsets
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = probs.astype(np.float32)
        return probs / probs.sum(axis=1, keepdims=True)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self._network.run(x)


@functools.lru_cache(maxsize=4)
def _cached(model_dir: Path) -> EmotionClassifier:
    return EmotionClassifier(model_dir)


def load_classifier(path: str | Path | None = None) -> EmotionClassifier:
    """Load (once, then cached) the judge in `path`, or the default model (FACEMATCH_MODEL or the shipped one)."""
    return _cached(Path(path or DEFAULT_MODEL_DIR).resolve())
