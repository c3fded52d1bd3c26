"""The steps after training, each reading a model directory and writing a new one through the game's
own judge: the class offsets (fit_offsets) and the evaluation with its model card (evaluate); the views are
chosen in facematch.pipeline.views. PublicTest chooses; PrivateTest is only read by evaluate."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from facematch import EMOTIONS
from facematch.errors import ConfigError
from facematch.model_spec import building_model_dir, copy_network, write_model_dir, write_spec
from facematch.pipeline.calibration import agreement, expected_calibration_error, fit_class_offsets, recall, softmax
from facematch.pipeline.card import write_model_card
from facematch.pipeline.dataset import load_split, read_manifest
from facematch.pipeline.views import live_views
from facematch.play.classifier import EmotionClassifier

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


# How a face can reach the judge at another size: (name, size, OpenCV interpolation of the enlargement). The judge
# brings each back to its input size with to_gray_size (its spec's downscale), as it does live crops.
ENLARGEMENTS = (("96 px bilinear", 96, "INTER_LINEAR"), ("96 px bicubic", 96, "INTER_CUBIC"),
                ("72 px bilinear", 72, "INTER_LINEAR"), ("160 px bicubic", 160, "INTER_CUBIC"))
STEADY_SIZES = ENLARGEMENTS[:2]  # what choose-low-pass and fit-offsets --keep-agreement hold steady


def enlarged(images: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """(N, 48, 48) gray faces as (N, size, size, 3) BGR crops, enlarged with that OpenCV interpolation."""
    flag = getattr(cv2, interpolation)
    return np.stack([cv2.cvtColor(cv2.resize(f, (size, size), interpolation=flag), cv2.COLOR_GRAY2BGR)
                     for f in images])


def resampling_agreement(clf: EmotionClassifier, images: np.ndarray, verdicts: dict[str, np.ndarray],
                         enlargements=ENLARGEMENTS, offsets: bool = True) -> dict:
    """For each enlargement: the share of faces whose verdict on each path (`verdicts`: path → the 48 px
    verdicts, with the class offsets or without them as `offsets` says; "predict" plays the model's views,
    "live" its live views) stays the same."""
    out = {}
    for name, size, interpolation in enlargements:
        crops = enlarged(images, size, interpolation)  # given whole to predict(): resized first, as live crops are
        moved = {"predict": clf.predict(crops, offsets=offsets), "live": clf.predict(crops, clf.live_views, offsets)}
        out[name] = {path: round(float((moved[path].argmax(1) == verdicts[path]).mean()), 4) for path in verdicts}
    return out


def _kept_shares(agreement: dict) -> list[float]:
    """Every enlargement's and path's share of kept verdicts in a resampling_agreement result."""
    return [share for paths in agreement.values() for share in paths.values()]


def mean_agreement(agreement: dict) -> float:
    """The mean share of kept verdicts over every enlargement and path of a resampling_agreement result."""
    return round(float(np.mean(_kept_shares(agreement))), 4)


def worst_agreement(agreement: dict) -> float:
    """The lowest share of kept verdicts over every enlargement and path of a resampling_agreement result."""
    return min(_kept_shares(agreement))


def per_class_recall(probs: np.ndarray, labels: np.ndarray) -> dict:
    return split_metrics(probs, labels)["recall"]


def without_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Undo the shipped temperature: p = softmax(z / T), so softmax(T · log p) = softmax(z)."""
    return softmax(temperature * np.log(np.maximum(probs, 1e-12)))


def evaluate(model_dir, processed_dir, out_dir, progress: bool = True) -> dict:
    """out_dir: model_dir with its evaluation on PublicTest and PrivateTest (evaluation.json, the
    confusion matrices) and the model card generated from them."""
    clf = EmotionClassifier(model_dir)
    results = {"model_id": clf.model_id, "splits": {}}
    for split in EVAL_SPLITS:
        data = load_split(processed_dir, split)
        # predict() averages these views' probabilities; scoring each view once gives the API's
        # default output and, from the first view, the live game's single pass.
        started = time.time()
        views = clf.view_probabilities(data.images)
        seconds = time.time() - started
        probs = clf.combine(views)
        single = clf.combine(views[:1], live=True)  # one pass, as a busy server plays it
        live = clf.combine(live_views(views, clf.views, clf.live_views), live=True)  # what the live game plays
        metrics = split_metrics(probs, data.labels)
        metrics["ms_per_image"] = round(1000 * seconds / max(1, len(data.labels)), 3)
        metrics["test_time_views"] = len(views)
        # The same probabilities without the model's temperature, to show what calibration buys.
        temperature = clf.spec.provenance["metrics"]["temperature"]
        raw = [without_temperature(v, temperature) for v in views]
        metrics["ece_before_temperature"] = expected_calibration_error(sum(raw) / len(raw), data.labels)
        metrics["live"] = {"views": clf.live_views,
                           "accuracy": float((live.argmax(1) == data.labels).mean()),
                           "recall": per_class_recall(live, data.labels),
                           "ece": expected_calibration_error(live, data.labels)}
        if len(views) > 1:  # one pass per face, the cheapest way to play: report that too
            metrics["single_pass"] = {"accuracy": float((single.argmax(1) == data.labels).mean()),
                                      "recall": per_class_recall(single, data.labels),
                                      "ece": expected_calibration_error(single, data.labels),
                                      "ece_before_temperature": expected_calibration_error(raw[0], data.labels)}
        # The same faces enlarged and shrunk back: does each path keep its verdict? (R7)
        metrics["resampling_agreement"] = resampling_agreement(
            clf, data.images, {"predict": probs.argmax(1), "live": live.argmax(1)})
        results["splits"][split] = metrics
        if progress:
            log.info(f"{split}: accuracy {metrics['accuracy']:.4f} on {metrics['count']} images, "
                  f"ECE {metrics['ece']:.4f}, {metrics['ms_per_image']} ms/image"
                  + (f"; single pass {metrics['single_pass']['accuracy']:.4f}" if "single_pass" in metrics else ""))
    cms = {s: results["splits"][s]["confusion_matrix"] for s in EVAL_SPLITS}
    manifest = read_manifest(processed_dir)
    with building_model_dir(out_dir, model_dir) as building:
        copy_network(model_dir, building)  # the judge's own files, then what was measured
        write_spec(building, clf.spec)
        (building / "evaluation.json").write_text(json.dumps(results, indent=2))
        (building / "confusion_matrix.json").write_text(json.dumps({"labels": list(EMOTIONS), **cms}, indent=2))
        plot_confusion(np.array(cms["PrivateTest"]), building / "confusion_matrix.png",
                       f"{clf.spec.name}: PrivateTest confusion matrix (rows: true, normalised)")
        write_model_card(building, clf.spec, results, manifest)
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


OFFSET_PATHS = ("both", "predict")  # what fit_offsets fits: one set for both paths, or predict()'s alone (R35)


def fit_offsets(model_dir, processed_dir, out_dir, classes=("fear", "sad", "angry"),
                max_accuracy_drop: float = 0.0065, floors: dict[str, float] | None = None,
                maximise: str = "recall", keep_agreement: bool = False,
                agreement_floors: dict[str, float] | None = None, path: str = "both") -> dict:
    """out_dir: model_dir with class offsets (calibration.fit_class_offsets) fitted on PublicTest
    through the model's own predict() views; returns what was fitted and measured.
    keep_agreement: on each path, the verdicts of the faces enlarged to 96 px (bilinear, bicubic) must agree
    with those at 48 px at least as often as without offsets (rule R15), or as `agreement_floors` says for
    some of them (keys "bilinear", "bicubic", "live-bilinear", "live-bicubic"; rule R16).
    floors: the recall a class may not fall below (e.g. the judge it replaces, or a target);
    default its own. Where the game plays fewer views live than predict() averages, the bound and
    the floors hold on that live path too: the player meets the live judge.
    path "predict": predict()'s offsets are fitted on its views alone, bounded there alone, and the live game
    keeps the offsets it plays now as its own (spec `live_class_offsets`, rule R35).

    Any earlier offsets of the paths fitted are ignored and replaced. Run `facematch evaluate` afterwards for the card.
    """
    floors = floors or {}
    unknown = [c for c in (*classes, *floors) if c not in EMOTIONS]
    if unknown:
        raise ConfigError(f"unknown classes {unknown}; choose from {list(EMOTIONS)}")
    if path not in OFFSET_PATHS:
        raise ConfigError(f"path: {path!r}; choose one of {list(OFFSET_PATHS)}")
    clf = EmotionClassifier(model_dir)
    two_paths = clf.live_views != clf.views
    if path == "predict" and not two_paths:
        raise ConfigError(f"{model_dir} plays predict()'s own views live: one set of offsets serves both; fit both")
    # A live path that plays predict()'s own views is predict(): no bound or floor of its own.
    paths = ("", "live-") if two_paths and path == "both" else ("",)
    keys = [[prefix + name.split()[-1] for name, *_ in STEADY_SIZES] for prefix in paths]
    agreement_floors = agreement_floors or {}
    unknown = sorted(set(agreement_floors) - {key for names in keys for key in names})
    if unknown:
        raise ConfigError(f"unknown agreement floors {unknown}; choose from {[k for names in keys for k in names]}")
    data = load_split(processed_dir, "PublicTest")
    views = clf.view_probabilities(data.images)
    probs = clf.combine(views, offsets=False)
    live = None
    if two_paths:
        live = clf.combine(live_views(views, clf.views, clf.live_views), offsets=False)
    indices = [EMOTIONS.index(c) for c in classes]
    mine = {c: recall(probs, data.labels, EMOTIONS.index(c)) for c in classes}
    resampled, steady_floors = None, None
    if keep_agreement or agreement_floors:
        steady_floors = [[agreement_floors.get(key) for key in names] for names in keys]
        log.info("PublicTest enlarged to 96 px (%s), for the agreement bound", ", ".join(n for n, *_ in STEADY_SIZES))
        crops = [enlarged(data.images, size, interpolation) for _, size, interpolation in STEADY_SIZES]
        resampled = [[clf.predict(c, offsets=False) for c in crops]]
        if len(paths) == 2:
            resampled.append([clf.predict(c, clf.live_views, offsets=False) for c in crops])
    offsets = fit_class_offsets(probs, data.labels, indices, max_accuracy_drop,
                                floors=[floors.get(c) for c in classes],
                                also=live if len(paths) == 2 else None, maximise=maximise, resampled=resampled,
                                steady_floors=steady_floors)
    kept_live = np.array(clf.spec.offsets(live=True)) if path == "predict" else offsets

    def with_offsets(probabilities: np.ndarray, shift: np.ndarray = offsets) -> np.ndarray:
        """The probabilities as predict() will give them: the offsets added to their logarithms."""
        return softmax(np.log(np.maximum(probabilities, 1e-12)) + shift)

    def measured(before: np.ndarray, shift: np.ndarray = offsets) -> dict:
        after = with_offsets(before, shift)
        return {"accuracy_before": float((before.argmax(1) == data.labels).mean()),
                "accuracy_after": float((after.argmax(1) == data.labels).mean()),
                "recall_before": {c: recall(before, data.labels, EMOTIONS.index(c)) for c in classes},
                "recall_after": {c: recall(after, data.labels, EMOTIONS.index(c)) for c in classes}}

    def steadiness(before: np.ndarray, sizes: list[np.ndarray], size_floors: list[float | None]) -> dict:
        """Each enlargement's share of kept verdicts on one path, before and after the offsets, and its floor."""
        after = with_offsets(before)
        return {name: {"before": round(agreement(before, moved), 4),
                       "after": round(agreement(after, with_offsets(moved)), 4),
                       **({"floor": floor} if floor is not None else {})}
                for (name, *_), moved, floor in zip(STEADY_SIZES, sizes, size_floors)}

    fit = {"views": f"{len(views)}-view" if len(views) > 1 else "single-pass", "path": path,
           "max_accuracy_drop": max_accuracy_drop, "maximise": maximise,
           "floors": {c: floors.get(c, mine[c]) for c in classes}, **measured(probs)}
    if resampled:
        fit["agreement"] = steadiness(probs, resampled[0], steady_floors[0])
    if live is not None:
        fit["live"] = {"views": clf.live_views, **measured(live, kept_live)}
        if len(paths) == 2 and resampled:
            fit["live"]["agreement"] = steadiness(live, resampled[1], steady_floors[1])
    def as_spec(shift: np.ndarray) -> dict:
        """One number per class as spec.json keeps offsets: rounded, zeros left out."""
        return {e: round(float(v), 2) for e, v in zip(EMOTIONS, shift) if v}

    fitted = as_spec(offsets)
    live_fitted = as_spec(kept_live) if path == "predict" else None
    metrics = {**clf.spec.provenance.get("metrics", {}), "class_offsets_fit": fit}
    spec = clf.spec.replace(class_offsets=fitted, live_class_offsets=live_fitted, provenance={"metrics": metrics})
    write_model_dir(model_dir, out_dir, spec)
    return {"offsets": fitted, **({"live_offsets": live_fitted} if path == "predict" else {}), **fit}
