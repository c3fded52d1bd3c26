"""Blendshape fusion for a trained judge: measure, train the head, fit the fusion on PublicTest.

    measure_splits()  FER2013 crops -> 52 MediaPipe blendshapes each (cached per split, ~9 ms a face)
    train_head()      a small Keras MLP on Training (early stopping on a 10% slice of Training)
    fit_fusion()      the fusion weight and offsets on PublicTest; written into the model only if
                      the declared rule holds (see fit_fusion)

The game runs the head in numpy (facematch.play.fusion); TensorFlow is needed only here.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.errors import DatasetError
from facematch.pipeline.calibration import fit_class_offsets, recall, softmax
from facematch.pipeline.dataset import load_split, read_manifest
from facematch.play.fusion import BlendshapeHead, measure_crop, mirrored_names

log = logging.getLogger(__name__)
SPLITS = ("Training", "PublicTest", "PrivateTest")
HEAD_NAME = "blendshape_head.npz"
MIN_GAIN = 0.0065  # paired noise of an accuracy difference on 3,589 faces
WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
WEAK_CLASSES = ("fear", "sad", "angry")


def measure_splits(processed_dir, cache_dir, splits=SPLITS, progress: bool = True) -> dict[str, dict]:
    """Per split: `blendshapes` (N, 52) float32, `found` (N,) bool, `names`; cached in cache_dir
    (remeasured when the dataset changes). A face the landmarker misses has found False, zeros."""
    from tqdm import tqdm

    from facematch.play.vision import FaceLandmarks

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = read_manifest(processed_dir)["source_sha256"]
    landmarks, out = None, {}
    for split in splits:
        path = cache_dir / f"{split}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as cached:
                if str(cached["source_sha256"]) == source:
                    out[split] = {k: cached[k] for k in ("blendshapes", "found", "names")}
                    continue
        landmarks = landmarks or FaceLandmarks(max_faces=1)
        images = load_split(processed_dir, split).images
        measured = [measure_crop(landmarks, face) for face in tqdm(images, desc=f"blendshapes {split}",
                                                                     disable=not progress, mininterval=2)]
        if not any(measured):
            raise DatasetError(f"the face landmarker found no face in {split} ({len(images)} images): "
                               f"the fusion needs real face crops")
        names = next(sorted(m) for m in measured if m)
        arrays = {"blendshapes": np.array([[m[n] for n in names] if m else [0.0] * len(names) for m in measured],
                                          np.float32),
                  "found": np.array([m is not None for m in measured]), "names": np.array(names)}
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, source_sha256=np.array(source), **arrays)
        os.replace(partial, path)
        out[split] = arrays
        log.info(f"{split}: the landmarker found {arrays['found'].mean():.1%} of {len(images)} faces")
    return out


def train_head(x: np.ndarray, y: np.ndarray, names: list[str], path: Path, seed: int = 7,
               hidden=(256, 128), dropout: float = 0.3) -> dict:
    """Train the MLP on the faces the landmarker found (mirrored copies added: Left <-> Right) and
    write it as a BlendshapeHead file. Early stopping watches a seeded 10% slice of these faces."""
    import keras

    keras.utils.set_random_seed(seed)
    ids = np.random.default_rng(seed).permutation(len(x))
    val, train = ids[: max(1, len(ids) // 10)], ids[max(1, len(ids) // 10):]
    mirror = mirrored_names(list(names))
    x_train = np.concatenate([x[train], x[train][:, mirror]])
    y_train = np.concatenate([y[train], y[train]])
    mean, variance = x_train.mean(0), x_train.var(0) + 1e-6
    inputs = keras.Input((x.shape[1],))
    h = keras.layers.Normalization(mean=mean, variance=variance)(inputs)
    for units in hidden:
        h = keras.layers.Dropout(dropout)(keras.layers.Dense(units, activation="relu")(h))
    model = keras.Model(inputs, keras.layers.Dense(len(EMOTIONS), activation="softmax")(h))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x[val], y[val]), epochs=200, batch_size=256, verbose=0,
                        callbacks=[keras.callbacks.EarlyStopping(patience=12, restore_best_weights=True)])
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    weights = {f"{kind}_{i}": w for i, layer in enumerate(dense) for kind, w in zip(("kernel", "bias"),
                                                                                   layer.get_weights())}
    np.savez(path, names=np.array(names), mean=mean, variance=variance, **weights)
    probs = model.predict(x[val], verbose=0)
    picked = probs[np.arange(len(val)), y[val]]
    loss, accuracy = float(-np.log(np.maximum(picked, 1e-12)).mean()), float((probs.argmax(1) == y[val]).mean())
    return {"hidden": list(hidden), "dropout": dropout, "seed": seed, "epochs_run": len(history.history["loss"]),
            "train_faces": int(len(train)), "val_loss": float(loss), "val_accuracy": float(accuracy)}


def _scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    return {"accuracy": float((probs.argmax(1) == labels).mean()),
            "recall": {c: recall(probs, labels, EMOTIONS.index(c)) for c in EMOTIONS}}


def fit_fusion(model_dir, processed_dir, cache_dir, write: bool = True, progress: bool = True) -> dict:
    """Train the head, then on PublicTest choose the weight (best predict() accuracy) and the offsets
    (calibration.fit_class_offsets for fear, sad and angry, none below the unfused judge's recall,
    accuracy kept above the unfused judge's + MIN_GAIN). The rule, declared before the first fit:
    the fusion is written into the model only if predict() gains more than MIN_GAIN and none of
    fear, sad, angry loses recall; it plays live only if the live views gain more than MIN_GAIN
    too (then check the frame step with `make benchmark`).
    Returns every number measured; PrivateTest is never read."""
    from facematch.pipeline.evaluation import live_views, view_probabilities, write_metadata
    from facematch.play.classifier import EmotionClassifier
    from facematch.play.fusion import BlendshapeFusion

    model_dir = Path(model_dir)
    measured = measure_splits(processed_dir, cache_dir, ("Training", "PublicTest"), progress)
    names = [str(n) for n in measured["Training"]["names"]]
    train = measured["Training"]
    labels = load_split(processed_dir, "Training").labels
    head_path = model_dir / HEAD_NAME
    partial = model_dir / f"{HEAD_NAME}.partial.npz"
    head_fit = train_head(train["blendshapes"][train["found"]], labels[train["found"]], names, partial)

    clf = EmotionClassifier(model_dir)
    data = load_split(processed_dir, "PublicTest")
    views = view_probabilities(clf, data.images)
    public = measured["PublicTest"]
    head = BlendshapeHead(partial)
    head_log = np.log(np.maximum(head.probs(public["blendshapes"]), 1e-12))
    found = public["found"][:, None]
    paths = {"predict": views, "live": live_views(views, clf.tta, clf.live_tta)}
    base = {name: np.log(np.maximum(clf.combine(v, offsets=False), 1e-12)) for name, v in paths.items()}
    before = {name: _scores(softmax(b), data.labels) for name, b in base.items()}
    by_weight = {w: _scores(softmax(base["predict"] + np.where(found, w * head_log, 0)), data.labels)["accuracy"]
                 for w in WEIGHTS}
    weight = max(by_weight, key=by_weight.get)
    fused = np.where(found, weight * head_log, 0)
    floor = before["predict"]["accuracy"] + MIN_GAIN + 1e-4
    weak = [EMOTIONS.index(c) for c in WEAK_CLASSES]
    offsets = fit_class_offsets(softmax(base["predict"] + fused), data.labels, weak,
                                max_accuracy_drop=max(0.0, by_weight[weight] - floor),
                                floors=[before["predict"]["recall"][c] for c in WEAK_CLASSES])
    after = {name: _scores(softmax(b + fused + offsets), data.labels) for name, b in base.items()}
    gains = {name: after[name]["accuracy"] - before[name]["accuracy"] for name in paths}
    kept = all(after["predict"]["recall"][c] >= before["predict"]["recall"][c] for c in WEAK_CLASSES)
    ships = gains["predict"] > MIN_GAIN and kept
    report = {"head": head_fit, "weight": weight, "publictest_accuracy_by_weight": by_weight,
              "class_log_offsets": {e: round(float(v), 2) for e, v in zip(EMOTIONS, offsets) if v},
              "landmarker_found": float(public["found"].mean()), "before": before, "after": after,
              "gains": gains, "weak_classes_kept": kept, "ships": ships, "live": ships and gains["live"] > MIN_GAIN}
    if progress:
        log.info(json.dumps({k: report[k] for k in ("weight", "class_log_offsets", "gains", "weak_classes_kept",
                                                     "ships", "live")}))
    if not (write and ships):
        partial.unlink(missing_ok=True)
        return report
    os.replace(partial, head_path)
    spec = {"head": HEAD_NAME, "weight": weight, "class_log_offsets": report["class_log_offsets"],
            "live": report["live"],
            "landmarker_input": "the 48 px crop upscaled to 192 px with a 48 px replicated border",
            "fit": {k: report[k] for k in ("head", "publictest_accuracy_by_weight", "landmarker_found",
                                           "before", "after", "gains")}}
    BlendshapeFusion(model_dir, spec)  # fails here, not in the game, if anything is off
    metadata = dict(clf.metadata)
    metadata["blendshape_fusion"] = spec
    write_metadata(model_dir, metadata)
    return report
