"""Fine-tune the upper VGG16 blocks and the head on augmented images, resumable.

Starts from a model directory written by `facematch train-head` or by an earlier fine-tuning run (its
model.keras; the card then shows both runs). The layers before
`train_from` stay frozen, so their activations are computed once per image version and cached
in the work directory (the original, its mirror image and `augmented_copies - 2` randomly
shifted/rotated/zoomed versions); training then only runs the layers from `train_from` on,
with a random shift of the cached activations by up to `feature_shift` cells. On a 2-core CPU
this trains ~1.3x faster (37 against 28 images/s) than back-propagating through the whole
network, for the same augmentation. PublicTest is evaluated every `eval_every` steps and selects the best weights;
PrivateTest is never looked at.

Long runs on a CPU are cut by sessions: everything needed to resume (weights, optimizer,
step) is backed up in `work_dir` every evaluation, and running the same command again
continues where the last run stopped. `finalize` puts the best weights back into the whole
network and writes a model directory (temperature-calibrated .keras + .tflite + metadata).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from facematch import EMOTIONS
from facematch.errors import ConfigError
from facematch.model_spec import ModelSpec, plain, read_spec
from facematch.pipeline.calibration import calibrate
from facematch.pipeline.configs import FinetuneConfig
from facematch.pipeline.dataset import load_split
from facematch.pipeline.features import extract
from facematch.pipeline.modeling import assemble, class_weights
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

BACKBONE_NAME = "vgg16_block4_pool"
log = logging.getLogger(__name__)
CACHE_NAMES = ("train_activations.npy", "train_labels.npy", "PublicTest_activations.npy")


def get_strategy(name: str):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    if name != "default":
        raise ConfigError(f"strategy must be default, mirrored or multiworker, got {name!r}")
    return tf.distribute.get_strategy()


def load_start_model(init_dir: Path):
    path = init_dir / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model to start from; run `facematch train-head` first")
    full = keras.saving.load_model(path, safe_mode=True)
    return full.get_layer(BACKBONE_NAME), full.get_layer("head")


def split_network(backbone, head, train_from: str):
    """(frozen stem: gray image → activations before `train_from`, trainable rest: activations → logits).

    The trainable model reuses the backbone's own layer objects, so training it updates the backbone.
    """
    names = [layer.name for layer in backbone.layers]
    if train_from not in names or not backbone.get_layer(train_from).weights:
        convs = [n for n in names if n.startswith("block") and "conv" in n]
        raise ConfigError(f"train_from must be one of the backbone's convolutions {convs}, got {train_from!r}")
    cut = names.index(train_from)
    stem = keras.Model(backbone.input, backbone.layers[cut - 1].output, name="frozen_stem")
    stem.trainable = False
    inputs = keras.Input(stem.output.shape[1:], name="stem_activations")
    x = inputs
    for layer in backbone.layers[cut:]:
        layer.trainable = True
        x = layer(x)
    return stem, keras.Model(inputs, head(x), name="finetune")


def image_augmenter(config: FinetuneConfig, seed: int):
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(config.shift, config.shift, fill_mode="nearest", seed=seed),
        keras.layers.RandomRotation(config.rotation, fill_mode="nearest", seed=seed),
        keras.layers.RandomZoom(config.zoom, fill_mode="nearest", seed=seed),
    ], name="augment")


def cache_key(stem, train, val, config: FinetuneConfig) -> dict:
    """What the cached activations depend on: the frozen weights, the images and the augmentation."""
    weights = hashlib.sha256()
    for w in stem.get_weights():
        weights.update(np.ascontiguousarray(w).tobytes())
    return {"stem_weights_sha256": weights.hexdigest(),
            "data_sha256": hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (
                train.images, train.labels, val.images))).hexdigest(),
            **{k: getattr(config, k) for k in ("train_from", "augmented_copies", "seed", "shift", "rotation", "zoom")}}


def cache_activations(stem, train, val, config: FinetuneConfig, cache_dir: Path) -> None:
    """Stem activations of every Training image version (and PublicTest), written once, atomically.

    Runs with the same frozen layers, images and augmentation can share a cache directory;
    one made for anything else is refused rather than silently trained on.
    """
    key, key_path = cache_key(stem, train, val, config), cache_dir / "key.json"
    if all((cache_dir / name).is_file() for name in CACHE_NAMES):
        if key_path.is_file() and json.loads(key_path.read_text()) == key:
            return
        raise ConfigError(f"{cache_dir} holds activations of other frozen layers, images or augmentation; "
                         "delete it or give another cache directory")
    cache_dir.mkdir(parents=True, exist_ok=True)
    key_path.write_text(json.dumps(key, indent=2))
    n, copies = len(train.labels), config.augmented_copies
    shape = (n * copies, *stem.output.shape[1:])
    partial = cache_dir / ".train_activations.partial.npy"
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16, shape=shape)
    for copy in range(copies):
        if copy == 0:
            images = train.images
        elif copy == 1:
            images = train.images[:, :, ::-1]
        else:  # a fresh random version of every image, reproducible from the seed
            augment = image_augmenter(config, config.seed + copy)
            images = np.concatenate([
                np.asarray(augment(train.images[i:i + 1024, :, :, None].astype(np.float32), training=True))[..., 0]
                for i in range(0, n, 1024)])
        out[copy * n:(copy + 1) * n] = extract(stem, images, desc=f"caching version {copy + 1}/{copies}")
    out.flush()
    del out
    np.save(cache_dir / "train_labels.npy", np.tile(train.labels, copies))
    np.save(cache_dir / "PublicTest_activations.npy", extract(stem, val.images, desc="caching PublicTest"))
    os.replace(partial, cache_dir / "train_activations.npy")  # last: its presence means complete


def training_data(activations: np.ndarray, labels: np.ndarray, config: FinetuneConfig):
    """Endless shuffled batches of cached activations, randomly shifted, with per-example class weights."""
    height = activations.shape[1]
    shift = keras.layers.RandomTranslation(config.feature_shift / height, config.feature_shift / height,
                                           fill_mode="nearest", interpolation="nearest", seed=config.seed)
    weights = class_weights(labels, config.class_weight)
    table = tf.constant([weights[i] if weights else 1.0 for i in range(len(EMOTIONS))], tf.float32)

    def gather(index):  # numpy side: rows of the memory-mapped cache
        index = np.sort(index)
        return activations[index].astype(np.float32), labels[index].astype(np.int32)

    def load(index):
        x, y = tf.numpy_function(gather, [index], [tf.float32, tf.int32])
        x.set_shape((None, *activations.shape[1:]))
        y.set_shape((None,))
        return shift(x, training=True), y, tf.gather(table, y)

    return (tf.data.Dataset.range(len(labels))
            .shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True).repeat()
            .batch(config.batch_size).map(load, num_parallel_calls=2).prefetch(4))


def finetune(processed_dir, init_dir, work_dir, log_dir, config: FinetuneConfig, verbose: int = 2,
             cache_dir=None) -> Path:
    """Train (resuming from work_dir if a backup is there); returns the best checkpoint's path.

    cache_dir: where the frozen layers' activations are cached (default work_dir/cache).
    """

    processed_dir, init_dir, work_dir, log_dir = map(Path, (processed_dir, init_dir, work_dir, log_dir))
    if (config.augmented_copies < 1 or config.feature_shift < 0 or not 0 <= config.warmup_steps < config.total_steps
            or not 0 <= config.head_dropout < 1):
        raise ConfigError("augmented_copies must be ≥ 1, feature_shift ≥ 0, warmup_steps < total_steps "
                         "and 0 ≤ head_dropout < 1")
    work_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    check_run_config(work_dir, config)
    (work_dir / "init_model.txt").write_text(str(init_dir.resolve()))

    evaluations = max(1, config.total_steps // config.eval_every)
    best = work_dir / "best.keras"
    log_path = log_dir / "finetune_log.csv"
    previous = [float(r["val_accuracy"]) for r in read_log(log_path)]
    if len(previous) >= evaluations and best.is_file():
        log.info("%s: all %d evaluations done already; finalizing the best checkpoint", work_dir, evaluations)
        return best
    keras.utils.set_random_seed(config.seed)
    train, val = load_split(processed_dir, "Training"), load_split(processed_dir, "PublicTest")
    with get_strategy(config.strategy).scope():
        backbone, head = load_start_model(init_dir)
        for layer in head.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = config.head_dropout  # read at call time, so this holds for training
        stem, model = split_network(backbone, head, config.train_from)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, config.total_steps - config.warmup_steps, alpha=0.0,
            warmup_target=config.learning_rate, warmup_steps=config.warmup_steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[], metrics=["accuracy"])
    cache = Path(cache_dir) if cache_dir else work_dir / "cache"
    cache_activations(stem, train, val, config, cache)
    activations = np.load(cache / "train_activations.npy", mmap_mode="r")
    model.fit(
        training_data(activations, np.load(cache / "train_labels.npy"), config),
        steps_per_epoch=config.eval_every, epochs=evaluations,
        validation_data=(np.load(cache / "PublicTest_activations.npy").astype(np.float32), val.labels),
        callbacks=[
            # Weights, optimizer and position, so a cut run resumes where it stopped.
            keras.callbacks.BackupAndRestore(str(work_dir / "backup"), save_freq="epoch"),
            # After a resume, only a better PublicTest accuracy than any before replaces best.keras.
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_accuracy", mode="max", save_best_only=True,
                                            initial_value_threshold=max(previous) if previous else None),
            wall_clock_callback(work_dir / "seconds.txt"),
            snapshot_callback(work_dir / SNAPSHOT_DIR),
            keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience),
            keras.callbacks.CSVLogger(str(log_path), append=True),
            keras.callbacks.TensorBoard(log_dir=str(log_dir / "tensorboard"), write_graph=False),
        ],
        verbose=verbose,
    )
    return best


def finalize(processed_dir, work_dir, model_dir, log_dir, cache_dir=None) -> dict:
    """Best checkpoint, or a better average of the last snapshots → calibrated whole network in model_dir."""
    processed_dir, work_dir, model_dir, log_dir = map(Path, (processed_dir, work_dir, model_dir, log_dir))
    best = work_dir / "best.keras"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: no checkpoint yet; run the fine-tuning first")
    config = json.loads((work_dir / "config.json").read_text())
    init_dir = Path((work_dir / "init_model.txt").read_text())
    init = read_spec(init_dir).provenance
    # The checkpoint holds the trained layers; put them back into the start model's backbone.
    trained = keras.saving.load_model(best, safe_mode=True)
    backbone, _ = load_start_model(init_dir)
    val = load_split(processed_dir, "PublicTest")
    cached = Path(cache_dir or work_dir / "cache") / "PublicTest_activations.npy"
    if cached.is_file():
        val_activations = np.load(cached).astype(np.float32)
    else:  # the frozen stem is the start model's, unchanged by training
        stem, _ = split_network(backbone, load_start_model(init_dir)[1], config["train_from"])
        val_activations = stem.predict(val.images[..., None].astype(np.float32), batch_size=256, verbose=0)
    chosen, candidates = choose_weights(trained, val_activations, val.labels, work_dir / SNAPSHOT_DIR)
    log.info("PublicTest single pass: %s; using the %s",
             ", ".join(f"{n} {a:.2%}" for n, a in candidates.items()), chosen)
    head = trained.get_layer("head")
    for layer in trained.layers:
        if layer.weights and layer is not head:
            backbone.get_layer(layer.name).set_weights(layer.get_weights())
    network = keras.Model(backbone.input, head(backbone.output))
    val_logits = network.predict(val.images[..., None].astype(np.float32), batch_size=256, verbose=0)
    calibration = calibrate(val_logits, val.labels)
    tta, calibration["publictest_accuracy_by_tta"], views = choose_tta(
        lambda key: network.predict(view_batch(val.images, key), batch_size=256, verbose=0),
        val.labels, calibration["temperature"])
    calibration.update(views)
    model = assemble(backbone, head, calibration["temperature"])
    history = read_log(log_dir / "finetune_log.csv")
    provenance = {**{k: plain(init[k]) for k in ("input", "preprocessing", "output")},
                "architecture": {**plain(init["architecture"]), "backbone_trainable": True,
                                 "parameters": int(model.count_params())},
                "training": {**plain(init["training"]),
                             "finetune": {"config": config,
                                          "evaluations_run": len(history),
                                          # The learning curve: one row per PublicTest evaluation.
                                          "history": [{"step": (i + 1) * config["eval_every"],
                                                       **{k: round(v, 4) for k, v in h.items() if k != "epoch"}}
                                                      for i, h in enumerate(history)],
                                          "best_publictest_accuracy": max(
                                              (h["val_accuracy"] for h in history), default=None),
                                          "weights": chosen,
                                          "publictest_accuracy_by_weights": candidates,
                                          "seconds": round(float((work_dir / "seconds.txt").read_text()), 1)
                                          if (work_dir / "seconds.txt").is_file() else None,
                                          "machine": machine_description(),
                                          "tensorflow": tf.__version__,
                                          # Started from an already fine-tuned model: keep its run too.
                                          "previous": plain(init["training"].get("finetune"))}},
                "metrics": calibration}
    spec = ModelSpec(name=model_dir.name, input_size=int(network.input.shape[1]), views=tta,
                     view_temperature=views["view_temperature"], provenance=provenance)
    return save_model_dir(model_dir, model, config["quantize"], spec)
