"""The judge's second opinion: what the face's muscles say, fused with what the network sees.

A small MLP (trained by facematch.pipeline.blendshapes on FER2013 Training) reads the 52 MediaPipe
Face Landmarker blendshapes of a face and gives its own 7 emotion probabilities. The judge adds
`weight` × their logarithm to its log-probabilities (the weight fitted on PublicTest), then the
fusion's own per-class offsets: the muscles tell sad and angry faces apart better than the pixels
do, and the offsets spend part of the accuracy that buys on the classes players miss most.

Runs in numpy (no TensorFlow); the head is a plain .npz of weights, never executable code.
A face where the landmarker finds nothing keeps the network's output (plus the offsets).
"""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.errors import ModelError

# How a 48x48 FER2013-style crop is shown to the landmarker (trained on faces far larger than
# 48 px): upscaled to 192 px with a 48 px replicated border, so its own detector finds the face.
CROP_UPSCALE, CROP_BORDER = 192, 48


def mirrored_names(names: list[str]) -> list[int]:
    """For each blendshape, the index of its mirror image's (Left <-> Right) in `names`."""
    swapped = [n.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right") for n in names]
    try:
        return [names.index(n) for n in swapped]
    except ValueError as exc:
        raise ValueError(f"blendshape names are not closed under Left/Right mirroring: {exc}") from None


class BlendshapeHead:
    """The MLP: (N, 52) blendshapes -> (N, 7) probabilities, averaged with the mirrored face's.

    File format (.npz): `names` (52 blendshape names, input order), `mean`, `variance` (input
    normalisation) and `kernel_0`, `bias_0`, ... (dense layers, ReLU between, softmax at the end).
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelError(f"{path} cannot be read ({exc})") from None
        layers = sorted(int(k.split("_")[1]) for k in arrays if k.startswith("kernel_"))
        needed = {"names", "mean", "variance"} | {f"{p}_{i}" for i in layers for p in ("kernel", "bias")}
        if not layers or needed - set(arrays):
            raise ModelError(f"{path} is not a blendshape head (missing {sorted(needed - set(arrays)) or 'layers'})")
        self.names = [str(n) for n in arrays["names"]]
        self.mean, self.scale = arrays["mean"], 1.0 / np.sqrt(arrays["variance"] + 1e-6)
        self.layers = [(arrays[f"kernel_{i}"], arrays[f"bias_{i}"]) for i in layers]
        if self.layers[0][0].shape[0] != len(self.names) or self.layers[-1][0].shape[1] != len(EMOTIONS):
            raise ModelError(f"{path} maps {self.layers[0][0].shape[0]} inputs to {self.layers[-1][0].shape[1]} "
                             f"outputs; expected {len(self.names)} to {len(EMOTIONS)}")
        self.mirror = mirrored_names(self.names)

    def vector(self, blendshapes: dict[str, float]) -> np.ndarray:
        return np.array([float(blendshapes.get(n, 0.0)) for n in self.names], np.float32)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) * self.scale
        for i, (kernel, bias) in enumerate(self.layers):
            h = h @ kernel + bias
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        return e / e.sum(axis=1, keepdims=True)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """(N, 52) blendshape vectors in `names` order -> (N, 7) probabilities (face and mirror averaged)."""
        x = np.asarray(x, np.float64).reshape(-1, len(self.names))
        return (self._forward(x) + self._forward(x[:, self.mirror])) / 2


class BlendshapeFusion:
    """The metadata's `blendshape_fusion`: the head, its weight and offsets, and a landmarker for crops."""

    def __init__(self, model_dir: Path, spec: dict):
        try:
            self.weight = float(spec["weight"])
            self.head = BlendshapeHead(model_dir / spec["head"])
            offsets = spec.get("class_log_offsets") or {}
            unknown = set(offsets) - set(EMOTIONS)
            if unknown:
                raise ModelError(f"offsets for unknown classes {sorted(unknown)}")
            self.offsets = np.array([float(offsets.get(e, 0.0)) for e in EMOTIONS])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"blendshape_fusion is incomplete ({exc!r})") from None
        # The live game plays the fusion only if the model says so (its landmarker costs ~9 ms a face).
        self.live = bool(spec.get("live", False))
        self._landmarks = None
        self._lock = threading.Lock()

    def terms(self, blendshapes: list[dict | None]) -> np.ndarray:
        """(N, 7) additions to the judge's log-probabilities: weight × log(head) where the face's
        muscles were measured, 0 where not; the offsets everywhere."""
        out = np.tile(self.offsets, (len(blendshapes), 1))
        found = [i for i, b in enumerate(blendshapes) if b]
        if found:
            probs = self.head.probs(np.stack([self.head.vector(blendshapes[i]) for i in found]))
            out[found] += self.weight * np.log(np.maximum(probs, 1e-12))
        return out

    def measure_crops(self, faces: np.ndarray) -> list[dict | None]:
        """The blendshapes of each (N, S, S) uint8 gray crop, None where the landmarker finds no face."""
        with self._lock:  # one landmarker, made on first use (the game's live path may never need it)
            if self._landmarks is None:
                from facematch.play.vision import FaceLandmarks

                self._landmarks = FaceLandmarks(max_faces=1)
        return [measure_crop(self._landmarks, face) for face in faces]


def measure_crop(landmarks, face: np.ndarray) -> dict | None:
    """The blendshapes of one (S, S) uint8 gray crop (a FaceLandmarks measures it), None if no face is found."""
    import cv2

    big = cv2.resize(face, (CROP_UPSCALE, CROP_UPSCALE), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, *(CROP_BORDER,) * 4, cv2.BORDER_REPLICATE)
    found = landmarks.measure(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
    return found[0][1] if found else None
