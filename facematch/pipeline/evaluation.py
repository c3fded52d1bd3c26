"""Evaluate a model directory through the game's own API and write its model card."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.errors import ConfigError, ModelError
from facematch.pipeline.calibration import expected_calibration_error, fit_class_offsets, recall, softmax
from facematch.pipeline.card import write_model_card
from facematch.pipeline.dataset import load_split, read_manifest
from facematch.play.classifier import EmotionClassifier, tta_view_keys, tta_views

log = logging.getLogger(__name__)
EVAL_SPLITS = ("PublicTest", "PrivateTest")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    k = len(EMOTIONS)
    return np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)


def split_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    predictions = probs.argmax(axis=1)
    cm = confusion_matrix(labels, predictions)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(cm) / cm.sum(axis=1)
        precision = np.diag(cm) / cm.sum(axis=0)
    clean = lambda a: [None if np.isnan(v) else round(float(v), 4) for v in a]  # noqa: E731
    return {
        "count": int(len(labels)),
        "accuracy": float((predictions == labels).mean()) if len(labels) else None,
        "ece": expected_calibration_error(probs, labels),
        "precision": dict(zip(EMOTIONS, clean(precision))),
        "recall": dict(zip(EMOTIONS, clean(recall))),
        "confusion_matrix": cm.tolist(),
    }


def view_probabilities(clf: EmotionClassifier, images: np.ndarray) -> list[np.ndarray]:
    """One single-pass probability array per test-time view of the model (tta_view_keys order),
    without its class offsets or blendshape fusion: combine() applies them once, to the average
    of whichever views."""
    return [clf.predict(np.ascontiguousarray(v), tta=False, offsets=False, fuse=False)
            for v in tta_views(images, clf.tta)]


def live_views(views: list[np.ndarray], mode: str, live_mode: str) -> list[np.ndarray]:
    """Of the probabilities of `mode`'s views (tta_view_keys order), those `live_mode` averages."""
    keys = tta_view_keys(mode)
    missing = [key for key in tta_view_keys(live_mode) if key not in keys]
    if missing:
        raise ModelError(f"the live views {live_mode!r} are not among the model's test-time views {mode!r}")
    return [views[keys.index(key)] for key in tta_view_keys(live_mode)]


def choose_live_views(model_dir, processed_dir, candidates=("none", "hflip"), min_gain: float = 0.0065) -> dict:
    """Which views the live game plays per frame, chosen on PublicTest and written into metadata.json.

    Candidates go cheapest first; a dearer one is taken only if it beats the one chosen so far by
    more than `min_gain` (paired noise on 3,589 faces is ~0.65 pt). Each must be a subset of the
    model's own test-time views. Check the frame step with `make benchmark` afterwards.
    """
    model_dir = Path(model_dir)
    clf = EmotionClassifier(model_dir)
    data = load_split(processed_dir, "PublicTest")
    views = view_probabilities(clf, data.images)
    accuracy = {}
    for mode in candidates:
        probs = clf.combine(live_views(views, clf.tta, mode))
        accuracy[mode] = round(float((probs.argmax(1) == data.labels).mean()), 4)
    chosen = candidates[0]
    for mode in candidates[1:]:
        if accuracy[mode] > accuracy[chosen] + min_gain:
            chosen = mode
    metadata = dict(clf.metadata)
    metadata["live_test_time_augmentation"] = chosen
    metadata.setdefault("metrics", {})["publictest_accuracy_by_live_views"] = accuracy
    write_metadata(model_dir, metadata)
    return {"chosen": chosen, "publictest_accuracy": accuracy, "min_gain": min_gain}


def write_metadata(model_dir: Path, metadata: dict) -> None:
    """metadata.json replaced whole (the game reads it; the pipeline steps each add to it)."""
    path = model_dir / "metadata.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(metadata, indent=2))
    os.replace(partial, path)  # never a half-written metadata.json


def per_class_recall(probs: np.ndarray, labels: np.ndarray) -> dict:
    return split_metrics(probs, labels)["recall"]


def without_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Undo the shipped temperature: p = softmax(z / T), so softmax(T · log p) = softmax(z)."""
    return softmax(temperature * np.log(np.maximum(probs, 1e-12)))


def evaluate(model_dir, processed_dir, progress: bool = True) -> dict:
    model_dir = Path(model_dir)
    clf = EmotionClassifier(model_dir)  # read afresh: its files may have just been rewritten
    results = {"model_id": clf.model_id, "splits": {}}
    for split in EVAL_SPLITS:
        data = load_split(processed_dir, split)
        # predict() averages these views' probabilities; scoring each view once gives the API's
        # default output and, from the first view, the live game's single pass.
        started = time.time()
        views = view_probabilities(clf, data.images)
        # The face's muscles, if the model fuses them: measured once, added to the views' average.
        terms = clf.fusion.terms(clf.fusion.measure_crops(data.images)) if clf.fusion is not None else None
        seconds = time.time() - started
        probs = clf.combine(views, fusion_terms=terms)
        single = clf.combine(views[:1])  # one pass, offsets included
        live = clf.combine(live_views(views, clf.tta, clf.live_tta),  # what the live game plays per frame
                           fusion_terms=terms if clf.fusion is not None and clf.fusion.live else None)
        metrics = split_metrics(probs, data.labels)
        metrics["ms_per_image"] = round(1000 * seconds / max(1, len(data.labels)), 3)
        metrics["test_time_views"] = len(views)
        # The same probabilities without the model's temperature, to show what calibration buys.
        temperature = clf.metadata["metrics"]["temperature"]
        raw = [without_temperature(v, temperature) for v in views]
        metrics["ece_before_temperature"] = expected_calibration_error(sum(raw) / len(raw), data.labels)
        metrics["live"] = {"views": clf.live_tta, "fused": terms is not None and clf.fusion.live,
                           "accuracy": float((live.argmax(1) == data.labels).mean()),
                           "recall": per_class_recall(live, data.labels),
                           "ece": expected_calibration_error(live, data.labels)}
        if len(views) > 1:  # one pass per face, the cheapest way to play: report that too
            metrics["single_pass"] = {"accuracy": float((single.argmax(1) == data.labels).mean()),
                                      "recall": per_class_recall(single, data.labels),
                                      "ece": expected_calibration_error(single, data.labels),
                                      "ece_before_temperature": expected_calibration_error(raw[0], data.labels)}
        results["splits"][split] = metrics
        if progress:
            log.info(f"{split}: accuracy {metrics['accuracy']:.4f} on {metrics['count']} images, "
                  f"ECE {metrics['ece']:.4f}, {metrics['ms_per_image']} ms/image"
                  + (f"; single pass {metrics['single_pass']['accuracy']:.4f}" if "single_pass" in metrics else ""))
    (model_dir / "evaluation.json").write_text(json.dumps(results, indent=2))
    cms = {s: results["splits"][s]["confusion_matrix"] for s in EVAL_SPLITS}
    (model_dir / "confusion_matrix.json").write_text(json.dumps({"labels": list(EMOTIONS), **cms}, indent=2))
    plot_confusion(np.array(cms["PrivateTest"]), model_dir / "confusion_matrix.png",
                   f"{model_dir.name}: PrivateTest confusion matrix (rows: true, normalised)")
    write_model_card(model_dir, clf.metadata, results, read_manifest(processed_dir))
    return results


def plot_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with np.errstate(invalid="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=100)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def fit_offsets(model_dir, processed_dir, classes=("fear", "sad", "angry"), max_accuracy_drop: float = 0.0065,
                floors: dict[str, float] | None = None, maximise: str = "recall") -> dict:
    """Fit class offsets (calibration.fit_class_offsets) on PublicTest through the model's own
    predict() views and write them into its metadata.json; returns what was fitted and measured.
    floors: the recall a class may not fall below (e.g. the judge it replaces, or a target);
    default its own. Where the game plays fewer views live than predict() averages, the bound and
    the floors hold on that live path too: the player meets the live judge.

    Any earlier offsets are ignored and replaced. Run evaluate_model.py afterwards for the card.
    """
    model_dir = Path(model_dir)
    floors = floors or {}
    unknown = [c for c in (*classes, *floors) if c not in EMOTIONS]
    if unknown:
        raise ConfigError(f"unknown classes {unknown}; choose from {list(EMOTIONS)}")
    clf = EmotionClassifier(model_dir)  # read afresh: its files may have just been rewritten
    data = load_split(processed_dir, "PublicTest")
    views = view_probabilities(clf, data.images)
    probs = clf.combine(views, offsets=False)
    live = None
    if clf.live_tta != clf.tta:
        live = clf.combine(live_views(views, clf.tta, clf.live_tta), offsets=False)
    indices = [EMOTIONS.index(c) for c in classes]
    mine = {c: recall(probs, data.labels, EMOTIONS.index(c)) for c in classes}
    offsets = fit_class_offsets(probs, data.labels, indices, max_accuracy_drop,
                                floors=[floors.get(c) for c in classes],
                                also=live, maximise=maximise)

    def measured(before: np.ndarray) -> dict:
        after = softmax(np.log(np.maximum(before, 1e-12)) + offsets)
        return {"accuracy_before": float((before.argmax(1) == data.labels).mean()),
                "accuracy_after": float((after.argmax(1) == data.labels).mean()),
                "recall_before": {c: recall(before, data.labels, EMOTIONS.index(c)) for c in classes},
                "recall_after": {c: recall(after, data.labels, EMOTIONS.index(c)) for c in classes}}

    fit = {"views": f"{len(views)}-view" if len(views) > 1 else "single-pass",
           "max_accuracy_drop": max_accuracy_drop, "maximise": maximise,
           "floors": {c: floors.get(c, mine[c]) for c in classes}, **measured(probs)}
    if live is not None:
        fit["live"] = {"views": clf.live_tta, **measured(live)}
    metadata = dict(clf.metadata)
    metadata["class_log_offsets"] = {e: round(float(v), 2) for e, v in zip(EMOTIONS, offsets) if v}
    metadata.setdefault("metrics", {})["class_offsets_fit"] = fit
    write_metadata(model_dir, metadata)
    return {"offsets": metadata["class_log_offsets"], **fit}
