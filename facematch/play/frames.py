"""Video frames as the game receives them (I420 from WebRTC, any array from a photo) and face crops."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class I420Frame:
    """A video frame as WebRTC carries it: I420 (yuv420p) planes as one (h*3/2, w) uint8 array.

    Handed to the analysis as it is; only the frames the judge actually analyses are converted
    to BGR (in the analysis thread), not every frame of every player."""

    planes: np.ndarray

    def bgr(self) -> np.ndarray:
        return cv2.cvtColor(self.planes, cv2.COLOR_YUV2BGR_I420)


def to_bgr_uint8(frame) -> np.ndarray:
    """Any image array → contiguous BGR uint8 (gray, BGRA, float in 0..1 or 0..255, bool, I420Frame)."""
    if isinstance(frame, I420Frame):
        return frame.bgr()
    img = np.asarray(frame)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        img = np.nan_to_num(img.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if img.size and img.max() <= 1.0 and img.min() >= 0.0 and np.issubdtype(np.asarray(frame).dtype, np.floating):
            img = img * 255.0
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"unsupported frame shape {img.shape}")
    return np.ascontiguousarray(img)


def crop_with_margin(frame: np.ndarray, box, margin: float) -> np.ndarray:
    """The box grown by `margin` of its size on every side, clipped to the frame, as a square-ish crop."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(frame.shape[1], cx + side / 2)), int(min(frame.shape[0], cy + side / 2))
    return frame[y0:y1, x0:x1]
