"""The model card's account of training: the head on cached features, the fine-tuning runs, the
whole-network recipe, their learning curves and the class imbalance (written from the spec's provenance)."""

from __future__ import annotations

from pathlib import Path

from facematch import EMOTIONS
from facematch.pipeline.configs import FROM_SCRATCH, filled_config, loss_weights


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


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
            f"keep the best weights ({run['evaluations_run']} evaluations, best PublicTest {pct(best)} single pass "
            f"before calibration), {(run.get('seconds') or 0) / 3600:.1f} h on {run['machine']}."
            + _weights_text(run) + "\n"
            + _learning_curve(run.get("history", [])))


def _weights_text(run: dict) -> str:
    scores = run.get("publictest_accuracy_by_weights")
    if not scores or len(scores) < 2:
        return ""
    return (f" The weights kept are the {run['weights']}, chosen on PublicTest single-pass accuracy among "
            + ", ".join(f"{name} ({pct(acc)})" for name, acc in scores.items()) + ".")


def _learning_curve(history: list[dict], unit: str = "step") -> str:
    """One row per PublicTest evaluation; `unit` is the history's key for when it was made (step, epoch)."""
    if not history:
        return ""
    rows = "\n".join(f"| {h[unit]} | {pct(h.get('accuracy'))} | {h.get('loss', float('nan')):.3f} | "
                     f"{pct(h.get('val_accuracy'))} | {h.get('val_loss', float('nan')):.3f} |" for h in history)
    return ("\nLearning curve (training figures are on augmented, class-weighted batches; PublicTest single "
            f"pass, before calibration):\n\n| {unit} | training accuracy | training loss | PublicTest accuracy "
            f"| PublicTest loss |\n|---|---|---|---|---|\n{rows}\n")


def imbalance_text(mode: str, counts: dict[str, int], private_counts: dict[str, int], boost: str = "") -> str:
    rarest = min(counts, key=counts.get)
    share = counts[rarest] / max(1, sum(counts.values()))
    text = (f"**Class imbalance and {rarest}.** {rarest.capitalize()} has {counts[rarest]:,} Training images "
            f"({share:.1%}) and {private_counts[rarest]:,} in PrivateTest. ")
    weights = loss_weights([counts.get(e, 0) for e in EMOTIONS], mode, boost)  # as the training computed them
    if not weights:
        return text + "The loss is not reweighted (`--class-weight none`)."
    formula = {"balanced": "n / (7 · count)", "sqrt": "√(n / (7 · count))", "none": "1"}[mode]
    boosted = f", multiplied by `{boost}`" if boost else ""
    return text + (f"The loss uses class weights `{mode}` ({formula}{boosted}): "
                   + ", ".join(f"{e} {w:.2f}" for e, w in zip(EMOTIONS, weights))
                   + ". Its recall below shows what that buys.")


def head_training_text(training: dict) -> str:
    config = training["config"]
    features = training["features"]
    return (f"""Head trained on cached bottleneck features ({features['cut_layer']}, shape
{features['feature_shape']}): Adam lr {config['learning_rate']}, batch {config['batch_size']},
up to {config['epochs']} epochs with early stopping on PublicTest accuracy (patience {config['patience']}),
class weights `{config['class_weight']}`, seed {config['seed']}. Ran {training['epochs_run']} epochs,
best epoch {training['best_epoch']}, {training['train_seconds']:.0f} s of head training on
{training['machine']} (TensorFlow {training['tensorflow']}, Keras {training['keras']}).
{_finetune_text(training.get('finetune'))}""")


def _distill_text(c: dict) -> str:
    if not c.get("teacher"):
        return ""
    return (f" Distilled from the judge `{Path(c['teacher']).name}`: each image's target was {c['distill']} × the "
            f"teacher's probabilities (the average for the face and its mirror image, the teacher's class offsets "
            f"included) + {1 - c['distill']:.1f} × its label.")


def _resample_text(c: dict) -> str:
    text = ""
    if c.get("resample"):
        text += (f" With probability {c['resample']} a face was also resampled to a random 32-160 px and back to 48 "
                 f"(bilinear or bicubic up, then area down; or area down, then bilinear up).")
    if c.get("consistency"):
        text += (f" Each face was also given enlarged to a random 56-160 px (bilinear or bicubic) and shrunk back as "
                 f"the judge shrinks a crop (areas to 96 px, then bicubic); the loss added {c['consistency']} × the "
                 f"symmetric KL divergence between the predictions for the face and for its resized twin.")
    if c.get("low_pass"):
        text += (f" Every face, PublicTest's too, was smoothed by the judge's low-pass [{c['low_pass']}, "
                 f"{1 - 2 * c['low_pass']}, {c['low_pass']}].")
    return text


def network_training_text(training: dict) -> str:
    c = training["config"]
    start = "from the backbone weights above and a fresh head"
    if c.get("init_model"):
        start = f"from the model `{Path(c['init_model']).name}`: the backbone above and the head trained above"
    head = head_training_text(training["init"]) + "\n\n" if training.get("init") else ""
    if c.get("architecture") in FROM_SCRATCH:
        before = training.get("warm_start")
        earlier = ("its own training is in that model's card" if not before
                   else "the cycles before, below" if before.get("warm_start") else "the cycle before, below")
        origin = (f"from the {c['architecture']} network `{Path(c['init_model']).name}`'s weights (a warm restart: "
                  f"a new warm-up and cosine cycle; {earlier})" if c.get("init_model")
                  else "from scratch (random initialisation)")
        opening = (f"The {c['architecture']} network was trained {origin} on the centre {c['crop']} "
                   f"px of Training images, shifted at random first (random crops) and augmented in every batch: "
                   f"mirror images, shifts ")
    else:
        opening = (f"{'Then the' if head else 'The'} whole network (all VGG16 blocks and the head, {start}) was "
                   f"trained end to end on Training images, augmented in every batch: mirror images, shifts ")
    return head + (opening +
            f"±{c['shift']:.0%}, rotations ±{360 * c['rotation']:.0f}°, zoom ±{c['zoom']:.0%}, contrast "
            f"±{c['contrast']:.0%} and, with probability {c['erase']}, one blanked 16 px square. "
            f"{_optimizer_text(c)} (weight decay {c['weight_decay']}), learning rate warmed up to "
            f"{c['learning_rate']} over {c['warmup_epochs']} epoch(s) then cosine-decayed to 0 at epoch "
            f"{c['epochs']}, batch {c['batch_size']}, label smoothing "
            f"{c['label_smoothing']}, class weights `{c['class_weight']}`{_boost_text(c)}, {_head_text(c)}, seed "
            f"{c['seed']}.{_resample_text(c)}{_distill_text(c)} Precision policy "
            f"`{training['precision']}` "
            f"(the logits layer in float32); the shipped network is float32 with int8 weights. PublicTest was "
            f"evaluated after every epoch ({training['epochs_run']} epochs, best "
            f"{pct(training.get('best_publictest_accuracy'))} single pass before calibration); "
            f"{(training.get('seconds') or 0) / 3600:.1f} h on {training['machine']} "
            f"(TensorFlow {training['tensorflow']}, Keras {training['keras']})." + _weights_text(training) + "\n"
            + _learning_curve(training.get("history", []), unit="epoch") + _earlier_cycle_text(training))


def _optimizer_text(c: dict) -> str:
    return "SGD with Nesterov momentum 0.9" if c.get("optimizer") == "sgd" else "AdamW"


def _boost_text(c: dict) -> str:
    return f" multiplied by `{c['class_boost']}`" if c.get("class_boost") else ""


def _head_text(c: dict) -> str:
    if c.get("architecture") == "residual":
        return f"dropout {c['dropout']} before the logits"
    return f"head Dense({c['hidden']}) with dropout {c['dropout']}"


def _earlier_cycle_text(training: dict) -> str:
    """The warm-started network's earlier cycle (and, through it, every cycle before), as the spec recorded them."""
    before = training.get("warm_start")
    if not before or before.get("config", {}).get("architecture") not in FROM_SCRATCH:
        return ""
    return f"\n**The cycle before** (`{Path(training['config']['init_model']).name}`): " + network_training_text(before)
