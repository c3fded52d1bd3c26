"""Calibration and its measures, in numpy only (the evaluation needs no TensorFlow)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) (Guo et al. 2017); fit on PublicTest."""
    if len(labels) == 0:
        return 1.0

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12)))

    grid = np.exp(np.linspace(np.log(0.2), np.log(20.0), 200))  # T < 0.2 only fits separable toy data
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    lo, hi = best / 1.05, best * 1.05  # golden-section refinement inside the best grid cell
    golden = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float((lo + hi) / 2)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence, equal-width bins."""
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def calibrate(val_logits: np.ndarray, y_val: np.ndarray) -> dict:
    """Temperature fitted on PublicTest logits, with accuracy and ECE before and after."""
    temperature = fit_temperature(val_logits, y_val)
    return {
        "publictest_accuracy_head": float((val_logits.argmax(1) == y_val).mean()),
        "temperature": temperature,
        "publictest_ece_before_temperature": expected_calibration_error(softmax(val_logits), y_val),
        "publictest_ece_after_temperature": expected_calibration_error(softmax(val_logits / temperature), y_val),
    }
