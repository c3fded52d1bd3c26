"""Calibration and its measures, in numpy only (the evaluation needs no TensorFlow)."""

from __future__ import annotations

import itertools

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


def recall(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of class k's faces that are predicted as k."""
    mine = labels == k
    return float((probs[mine].argmax(1) == k).mean()) if mine.any() else 0.0


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of faces with the same verdict in two (N, classes) arrays of scores."""
    return float((a.argmax(1) == b.argmax(1)).mean())


def fit_class_offsets(probs: np.ndarray, labels: np.ndarray, classes: list[int], max_accuracy_drop: float,
                      grid: np.ndarray | None = None, floors: list[float | None] | None = None,
                      also: np.ndarray | None = None, maximise: str = "recall",
                      resampled: list[list[np.ndarray]] | None = None,
                      steady_floors: list[list[float | None]] | None = None) -> np.ndarray:
    """Offsets for the log-probabilities of `classes` (the rest stay 0), fit on PublicTest, such that
    overall accuracy falls by at most `max_accuracy_drop` and none of those classes falls below its
    floor; among those, the offsets that `maximise` "recall" (the classes' mean recall) or
    "accuracy" (overall accuracy: the floors are then a target the classes must keep, e.g. 55%).
    floors: the recall each class may not fall below (None, the default: its own recall before on
    each path), e.g. another judge's, when these probabilities already moved them.
    also: the same faces' probabilities by a second path (the live game's single pass when `probs`
    averages several views): the bound and the floors must hold there too, and its figures count
    half in what is maximised.
    resampled: for each path (`probs`, then `also`), the probabilities of the same faces given at other sizes
    (one array per size): on each, the share of faces whose verdict holds may not fall below that share
    without offsets, so that the offsets do not buy recall by moving the verdicts a change of size moves;
    or below `steady_floors` (the same shape; None: that share without offsets), e.g. another judge's.

    A judge that is right on average can still be wrong on most fearful faces: FER2013's Training
    set has 4× more happy than fear faces, and the network learns that prior. Shifting the prior
    back for the classes players miss most is the cheapest cure; only a few numbers are fitted, so
    the rest of the judge is untouched. The search is a full grid over the named classes together
    (at most 3): moved one at a time, each class only gains by taking another one's faces.
    """
    if not 1 <= len(classes) <= 3:
        raise ValueError(f"offsets are fitted for 1 to 3 classes at once, got {len(classes)}")
    if maximise not in ("recall", "accuracy"):
        raise ValueError(f"maximise is 'recall' or 'accuracy', got {maximise!r}")
    grid = np.round(np.arange(-0.5, 1.0001, 0.1), 2) if grid is None else grid
    paths = [probs] if also is None else [probs, also]
    log_paths = [np.log(np.maximum(p, 1e-12)) for p in paths]
    accuracy_floors = [float((p.argmax(1) == labels).mean()) - max_accuracy_drop for p in paths]
    floors = [None] * len(classes) if floors is None else list(floors)
    recall_floors = [[recall(p, labels, k) if f is None else f for k, f in zip(classes, floors)] for p in paths]
    if resampled is not None and len(resampled) != len(paths):
        raise ValueError(f"resampled needs one list of arrays per path ({len(paths)}), got {len(resampled)}")
    log_resampled = [[np.log(np.maximum(r, 1e-12)) for r in sizes] for sizes in resampled or [[]] * len(paths)]
    given = steady_floors or [[None] * len(sizes) for sizes in log_resampled]
    agreement_floors = [[agreement(p, r) if f is None else f for r, f in zip(sizes, path_given)]
                        for p, sizes, path_given in zip(log_paths, log_resampled, given)]

    def score(shifted_paths, offsets) -> float:
        """What the offsets buy, or -1 where a bound or a floor is broken."""
        total = 0.0
        for shifted, accuracy_floor, path_floors, sizes, steady in zip(shifted_paths, accuracy_floors,
                                                                       recall_floors, log_resampled, agreement_floors):
            accuracy = float((shifted.argmax(1) == labels).mean())
            recalls = [recall(shifted, labels, k) for k in classes]
            if accuracy < accuracy_floor or any(r < f for r, f in zip(recalls, path_floors)):
                return -1.0
            if any(agreement(shifted, r + offsets) < f for r, f in zip(sizes, steady)):
                return -1.0
            total += accuracy if maximise == "accuracy" else float(np.mean(recalls))
        return total / len(shifted_paths)

    best, offsets = score(log_paths, np.zeros(probs.shape[1])), np.zeros(probs.shape[1])
    for values in itertools.product(grid, repeat=len(classes)):
        candidate = np.zeros(probs.shape[1])
        candidate[classes] = values
        gain = score([log_p + candidate for log_p in log_paths], candidate)
        # Ties keep the smaller change: a shift must buy something to be taken.
        if gain >= 0 and (gain > best + 1e-12 or (gain > best - 1e-12 and
                                                  np.abs(candidate).sum() < np.abs(offsets).sum())):
            best, offsets = gain, candidate
    return offsets
