"""Train a whole network end to end on augmented faces, resumable: the VGG16 one (blocks 1-4 + head) or a compact
or residual one from scratch (architectures.py). Every published FER2013 model at or above 70% trains all of its
convolutions for many epochs with strong augmentation (finetune.py's frozen stem cannot move blocks 1-2).
The VGG16 network trains in `mixed_bfloat16` where the CPU has AVX-512 BF16 (`--speed`: ~100 images/s on 2 cores,
twice float32), from a `facematch train-head` model directory (`init_model`: a head already trained on the frozen
features, so the first steps do not disturb the backbone) or else a fresh head. Each epoch ends with a PublicTest
evaluation; the best epoch's and every epoch's weights are kept, and a backup of weights, optimizer and position lets
the same command resume a cut run. PrivateTest is never looked at. `finalize_network` rebuilds the network in
float32, chooses the best checkpoint or an average of the last epochs' weights on PublicTest, fits the temperature,
chooses the test-time views and writes a model directory.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from facematch import EMOTIONS
from facematch.errors import ConfigError
from facematch.model_spec import ModelSpec, plain, read_spec
from facematch.pipeline.architectures import build_network, describe_scratch, resolve_precision
from facematch.pipeline.augmentation import PairedConsistency, augmenter, cutout, low_pass_tf, paired, resample
from facematch.pipeline.calibration import calibrate
from facematch.pipeline.configs import FROM_SCRATCH, NetworkConfig, class_boost
from facematch.pipeline.dataset import load_split, read_manifest
from facematch.pipeline.finetune import load_start_model
from facematch.pipeline.modeling import assemble, assemble_logits, channel_stats, class_weights, optimizer_for
from facematch.pipeline.runs import (
    SNAPSHOT_DIR,
    check_run_config,
    choose_weights,
    machine_description,
    read_log,
    save_model_dir,
    snapshot_callback,
    view_batch,
    wall_clock_callback,
)
from facematch.pipeline.views import choose_tta
from facematch.play.classifier import low_pass

log = logging.getLogger(__name__)

BEST_WEIGHTS = "best.weights.h5"


def teacher_targets(config: NetworkConfig, images: np.ndarray, cache: Path) -> np.ndarray | None:
    """The teacher's probabilities for each Training image (None without a teacher): the average over the face
    and its mirror image, as the teacher's LiteRT judge gives them (class offsets included). Kept in `cache`,
    so a resumed run does not recompute them (~20 ms a face on 2 cores)."""
    if not config.teacher:
        return None
    from facematch.play.classifier import EmotionClassifier  # the game's LiteRT runtime; no Keras involved

    teacher = EmotionClassifier(config.teacher)
    if cache.is_file():
        saved = np.load(cache)
        if str(saved["model_id"]) == teacher.model_id and len(saved["probs"]) == len(images):
            return saved["probs"]
    chunk = 512
    probs = []
    for start in range(0, len(images), chunk):
        probs.append(teacher.predict(images[start:start + chunk], "hflip"))
        log.info("teacher %s: %d of %d Training faces", teacher.model_id, min(start + chunk, len(images)),
                 len(images))
    probs = np.concatenate(probs).astype(np.float32)
    np.savez(cache, probs=probs, model_id=teacher.model_id)
    return probs


def training_dataset(images: np.ndarray, labels: np.ndarray, config: NetworkConfig,
                     soft: np.ndarray | None = None):
    """Endless shuffled, augmented batches (images, targets, per-example class weight); the targets are the
    one-hot labels, or with a teacher's probabilities `soft` the mix config.distill × soft + the rest one-hot.
    With config.consistency each batch is twice batch_size: the faces, then the same faces resized
    (augmentation.paired; the cutout comes before, so a face and its twin lose the same square)."""
    weights = class_weights(labels, config.class_weight, config.class_boost)
    table = tf.constant([weights[i] if weights else 1.0 for i in range(len(EMOTIONS))], tf.float32)
    augment = augmenter(config)
    rng = tf.random.Generator.from_seed(config.seed)

    def load(x, y, p):
        x = tf.cast(x, tf.float32)[..., None]
        x = tf.clip_by_value(augment(x, training=True), 0.0, 255.0)
        if config.resample > 0 or config.low_pass or config.consistency:
            x = tf.cast(x, tf.float32)  # the augmentation layers follow the mixed policy (bfloat16); resize does not
        if config.resample > 0:
            x = resample(x, rng, config.resample)
        target = tf.one_hot(y, len(EMOTIONS))
        if soft is not None:
            target = config.distill * p + (1.0 - config.distill) * target
        if config.consistency:
            x = cutout(x, rng, config.erase) if config.erase > 0 else x
            return paired(x, target, tf.gather(table, y), rng, config.low_pass)
        if config.low_pass:
            x = low_pass_tf(x, config.low_pass)
        if config.erase > 0:
            x = cutout(x, rng, config.erase)
        return x, target, tf.gather(table, y)

    soft_rows = soft if soft is not None else np.zeros((len(labels), 1), np.float32)  # unused without a teacher
    return (tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32), soft_rows))
            .shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True).repeat()
            .batch(config.batch_size, drop_remainder=True).map(load, num_parallel_calls=2).prefetch(4))


def validation_data(val, config: NetworkConfig):
    """PublicTest as each epoch scores it, smoothed by the judge's low-pass; with a paired loss, each batch is its
    faces twice (each its own twin), so the accuracy and loss are the plain ones."""
    x = low_pass(val.images[..., None].astype(np.float32), config.low_pass)
    y = keras.utils.to_categorical(val.labels, len(EMOTIONS))
    if not config.consistency:
        return x, y
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(256).map(
        lambda a, b: (tf.concat([a, a], axis=0), tf.concat([b, b], axis=0)))


def scratch_start_weights(model_dir: Path, architecture: str) -> list:
    """The weights of a network trained from scratch (compact or residual) in a model directory that `facematch
    train --architecture …` wrote (its model.keras: the network, then the temperature and softmax)."""
    path = model_dir / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained {architecture} network to start from")
    full = keras.saving.load_model(path, safe_mode=True)
    try:
        return full.get_layer(f"facematch_{architecture}_logits").get_weights()
    except ValueError:
        raise ConfigError(f"{model_dir}: not a {architecture} network's model directory (no "
                          f"facematch_{architecture}_logits in its model.keras)") from None


def _feature_stats(backbone, images: np.ndarray, sample: int = 4096, seed: int = 0):
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(images), min(sample, len(images)), replace=False))
    feats = backbone.predict(images[index, :, :, None].astype(np.float32), batch_size=256, verbose=0)
    return channel_stats(feats)


def train_network(processed_dir, work_dir, log_dir, config: NetworkConfig, verbose: int = 2) -> Path:
    """Train (resuming from work_dir if a backup is there); returns the best weights' path."""
    processed_dir, work_dir, log_dir = map(Path, (processed_dir, work_dir, log_dir))
    if (config.epochs < 1 or config.batch_size < 1 or not 0 <= config.dropout < 1 or not 0 <= config.erase <= 1
            or config.consistency < 0):
        raise ConfigError("epochs and batch_size must be positive, 0 ≤ dropout < 1, 0 ≤ erase ≤ 1 and consistency ≥ 0")
    if not 0 <= config.distill <= 1:
        raise ConfigError(f"distill is the teacher's share of the targets, between 0 and 1, got {config.distill}")
    class_boost(config.class_boost)  # a mistyped option fails here, not after the teacher's pass over Training
    optimizer_for(config.optimizer, config.learning_rate, config.weight_decay)
    precision = resolve_precision(config.precision)
    work_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    check_run_config(work_dir, config)
    (work_dir / "precision.txt").write_text(precision)

    history_path = log_dir / "network_log.csv"
    previous = [r["val_accuracy"] for r in read_log(history_path)]
    best = work_dir / BEST_WEIGHTS
    if len(previous) >= config.epochs and best.is_file():
        log.info("%s: all %d epochs done already", work_dir, config.epochs)
        return best

    keras.utils.set_random_seed(config.seed)
    train, val = load_split(processed_dir, "Training"), load_split(processed_dir, "PublicTest")
    soft = teacher_targets(config, train.images, work_dir / "teacher.npz")
    start = None
    if config.init_model:  # loaded in float32, before the mixed policy is set
        start = (scratch_start_weights(Path(config.init_model), config.architecture)
                 if config.architecture in FROM_SCRATCH
                 else [part.get_weights() for part in load_start_model(Path(config.init_model))])
    keras.mixed_precision.set_global_policy(precision)
    try:
        if config.architecture in FROM_SCRATCH:
            model, _, _ = build_network(config)
            if start is not None:  # a warm restart: the trained weights, a new warm-up and cosine cycle
                try:
                    model.set_weights(start)
                except ValueError as err:
                    raise ConfigError(f"{config.init_model}: its {config.architecture} network has other widths than "
                                      f"--width {config.width}: {err}") from None
        elif start is None:
            _, backbone, _ = build_network(config)
            mean, variance = _feature_stats(backbone, train.images, seed=config.seed)
            model, _, _ = build_network(config, mean, variance)
        else:
            model, backbone, head = build_network(config)
            backbone.set_weights(start[0])
            head.set_weights(start[1])
        steps = len(train.labels) // config.batch_size
        warmup = min(int(config.warmup_epochs * steps), config.epochs * steps - 1)  # cosine needs ≥ 1 step
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, config.epochs * steps - warmup, alpha=0.0, warmup_target=config.learning_rate, warmup_steps=warmup)
        loss = (PairedConsistency(config.consistency, config.label_smoothing) if config.consistency else
                keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing))
        model.compile(optimizer=optimizer_for(config.optimizer, schedule, config.weight_decay), loss=loss,
                      weighted_metrics=[], metrics=["accuracy"])
        log.info("training the whole network: %d steps per epoch, %d epochs, policy %s", steps, config.epochs,
                 precision)
        model.fit(
            training_dataset(train.images, train.labels, config, soft), steps_per_epoch=steps, epochs=config.epochs,
            validation_data=validation_data(val, config),
            callbacks=[
                keras.callbacks.BackupAndRestore(str(work_dir / "backup"), save_freq="epoch"),
                keras.callbacks.ModelCheckpoint(str(best), monitor="val_accuracy", mode="max", save_best_only=True,
                                                save_weights_only=True,
                                                initial_value_threshold=max(previous) if previous else None),
                wall_clock_callback(work_dir / "seconds.txt"),
                snapshot_callback(work_dir / SNAPSHOT_DIR),
                keras.callbacks.CSVLogger(str(history_path), append=True),
            ],
            verbose=verbose,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return best


def finalize_network(processed_dir, work_dir, model_dir, log_dir, last_k: int = 6) -> dict:
    """Best epoch, or a better average of the last epochs' weights → calibrated model directory."""
    processed_dir, work_dir, model_dir, log_dir = map(Path, (processed_dir, work_dir, model_dir, log_dir))
    best = work_dir / BEST_WEIGHTS
    if not best.is_file():
        raise FileNotFoundError(f"{best}: no checkpoint yet; run the training first")
    config = NetworkConfig(**json.loads((work_dir / "config.json").read_text()))
    keras.mixed_precision.set_global_policy("float32")
    network, backbone, head = build_network(config)
    val = load_split(processed_dir, "PublicTest")
    x_val = low_pass(val.images[..., None].astype(np.float32), config.low_pass)
    network.load_weights(best)
    chosen, candidates = choose_weights(network, x_val, val.labels, work_dir / SNAPSHOT_DIR, "epochs", last_k)
    log.info("PublicTest single pass: %s; using the %s",
             ", ".join(f"{n} {a:.2%}" for n, a in candidates.items()), chosen)
    val_logits = network.predict(x_val, batch_size=256, verbose=0)
    calibration = calibrate(val_logits, val.labels)
    tta, calibration["publictest_accuracy_by_tta"], views = choose_tta(
        lambda key: network.predict(low_pass(view_batch(val.images, key), config.low_pass), batch_size=256,
                                    verbose=0),
        val.labels, calibration["temperature"])
    calibration.update(views)
    model = (assemble(backbone, head, calibration["temperature"]) if backbone is not None
             else assemble_logits(network, calibration["temperature"]))
    history = read_log(log_dir / "network_log.csv")
    manifest = read_manifest(processed_dir)
    init = plain(read_spec(config.init_model).provenance["training"]) if config.init_model else None
    scratch = config.architecture in FROM_SCRATCH  # trained from scratch: a warm restart, not a head, before it
    seconds = work_dir / "seconds.txt"
    provenance = {
        "input": "float32 (N, 48, 48, 1) grayscale in 0..255; predict() converts uint8 gray or BGR crops",
        "preprocessing": ("in-network: gray replicated to 3 channels, VGG16 BGR mean subtracted" if backbone is not None
                          else f"in-network: the centre {config.crop} px, scaled to -1..1"),
        "output": "calibrated probabilities (N, 7) in label order",
        "architecture": {
            **({"backbone": "keras.applications.VGG16 convolutional layers up to block4_pool",
                "backbone_weights": config.weights,
                "backbone_trainable": True,
                "head": f"per-channel Normalization, Flatten, Dropout({config.dropout}), Dense({config.hidden}, relu), "
                        f"Dropout({config.dropout}), Dense(7), temperature, softmax"}
               if backbone is not None else describe_scratch(config)),
            "parameters": int(model.count_params()),
        },
        "training": {
            "recipe": "whole network end to end",
            # The head-only model it started from (its training, for the card).
            "init": None if scratch else init,
            # A compact or residual network's warm restart: the run it continued (the card names that model).
            "warm_start": init if scratch else None,
            "config": asdict(config),
            "precision": (work_dir / "precision.txt").read_text().strip()
            if (work_dir / "precision.txt").is_file() else config.precision,
            "dataset_sha256": manifest["source_sha256"],
            "train_examples": manifest["splits"]["Training"]["count"],
            "epochs_run": len(history),
            "history": [{"epoch": i + 1, **{k: round(v, 4) for k, v in h.items() if k != "epoch"}}
                        for i, h in enumerate(history)],
            "best_publictest_accuracy": max((h["val_accuracy"] for h in history), default=None),
            "weights": chosen,
            "publictest_accuracy_by_weights": candidates,
            "seconds": round(float(seconds.read_text()), 1) if seconds.is_file() else None,
            "machine": machine_description(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "metrics": calibration,
    }
    spec = ModelSpec(name=model_dir.name, input_size=int(network.input.shape[1]), views=tta,
                     view_temperature=views["view_temperature"], low_pass=config.low_pass, provenance=provenance)
    return save_model_dir(model_dir, model, config.quantize, spec)


def measure_speed(config: NetworkConfig, steps: int = 20) -> float:
    """Training images per second of the whole network under the config's precision (for the docs)."""
    precision = resolve_precision(config.precision)
    keras.mixed_precision.set_global_policy(precision)
    try:
        model, _, _ = build_network(config)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (config.batch_size, 48, 48, 1)).astype(np.float32)
        y = keras.utils.to_categorical(rng.integers(0, 7, config.batch_size), 7)
        model.train_on_batch(x, y)
        started = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        return steps * config.batch_size / (time.perf_counter() - started)
    finally:
        keras.mixed_precision.set_global_policy("float32")
