"""Fine-tune the whole network (backbone + head) on augmented images, resumable.

Starts from a model directory written by train_model.py (its model.keras), unfreezes the
VGG16 blocks from `unfreeze_from` on, and trains on Training images with flips, shifts,
small rotations and zoom (the seed's augmentation TODO). PublicTest is evaluated every
`eval_every` steps and selects the best weights; PrivateTest is never looked at.

Long runs on a CPU are cut by sessions: everything needed to resume (weights, optimizer,
step) is backed up in `work_dir` every evaluation, and running the same command again
continues where the last run stopped. `finalize` turns the best checkpoint into a
model directory (temperature-calibrated .keras + .tflite + metadata).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.dataset import load_split
from facematch.modeling import assemble, class_weights

BACKBONE_NAME = "vgg16_block4_pool"


@dataclass
class FinetuneConfig:
    total_steps: int = 9000  # ~20 epochs of Training at batch 64
    eval_every: int = 300
    batch_size: int = 64
    learning_rate: float = 5e-5
    unfreeze_from: str = "block1_conv1"
    class_weight: str = "sqrt"
    shift: float = 0.1
    rotation: float = 0.05  # fraction of a full turn (0.05 = 18 degrees)
    zoom: float = 0.1
    patience: int = 10  # evaluations without a better PublicTest accuracy
    seed: int = 1234
    quantize: str = "int8"
    strategy: str = "default"  # default | mirrored (all local GPUs) | multiworker


def get_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    if name != "default":
        raise ValueError(f"strategy must be default, mirrored or multiworker, got {name!r}")
    return tf.distribute.get_strategy()


def _split_model(init_dir: Path):
    import keras

    path = init_dir / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model to start from; run scripts/train_model.py first")
    full = keras.saving.load_model(path, safe_mode=True)
    return full.get_layer(BACKBONE_NAME), full.get_layer("head")


def build_trainable(init_dir: Path, config: FinetuneConfig):
    """Training model: gray 48x48 → logits, through the start model's own backbone and head."""
    import keras

    backbone, head = _split_model(init_dir)
    backbone.trainable = True
    unfrozen = False
    for layer in backbone.layers:
        unfrozen = unfrozen or layer.name == config.unfreeze_from
        layer.trainable = unfrozen and bool(layer.weights) and layer.name.startswith("block")
    if not unfrozen:
        raise ValueError(f"unfreeze_from {config.unfreeze_from!r} is not a layer of the backbone")
    inputs = keras.Input(backbone.input.shape[1:], name="face_gray")
    return keras.Model(inputs, head(backbone(inputs)), name="finetune")


def training_data(images: np.ndarray, labels: np.ndarray, config: FinetuneConfig):
    """Endless shuffled, augmented batches with per-example class weights (tf.data)."""
    import keras
    import tensorflow as tf

    augment = keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=config.seed),
        keras.layers.RandomTranslation(config.shift, config.shift, fill_mode="nearest", seed=config.seed),
        keras.layers.RandomRotation(config.rotation, fill_mode="nearest", seed=config.seed),
        keras.layers.RandomZoom(config.zoom, fill_mode="nearest", seed=config.seed),
    ], name="augment")
    weights = class_weights(labels, config.class_weight)
    table = tf.constant([weights[i] if weights else 1.0 for i in range(len(EMOTIONS))], tf.float32)
    data = tf.data.Dataset.from_tensor_slices((images[..., None].astype(np.float32), labels))
    return (data.shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True).repeat()
            .batch(config.batch_size)
            .map(lambda x, y: (augment(x, training=True), y, tf.gather(table, y)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def finetune(processed_dir, init_dir, work_dir, log_dir, config: FinetuneConfig, verbose: int = 2) -> Path:
    """Train (resuming from work_dir if a backup is there); returns the best checkpoint's path."""
    import keras

    processed_dir, init_dir, work_dir, log_dir = map(Path, (processed_dir, init_dir, work_dir, log_dir))
    work_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "config.json"
    if config_path.is_file() and json.loads(config_path.read_text()) != asdict(config):
        raise ValueError(f"{work_dir} holds a run with another configuration; use a new work directory")
    config_path.write_text(json.dumps(asdict(config), indent=2))
    (work_dir / "init_model.txt").write_text(str(init_dir.resolve()))

    keras.utils.set_random_seed(config.seed)
    train, val = load_split(processed_dir, "Training"), load_split(processed_dir, "PublicTest")
    with get_strategy(config.strategy).scope():
        model = build_trainable(init_dir, config)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[], metrics=["accuracy"])
    evaluations = max(1, config.total_steps // config.eval_every)
    best = work_dir / "best.keras"
    log = log_dir / "finetune_log.csv"
    previous = [float(r["val_accuracy"]) for r in _read_log(log)]
    if len(previous) >= evaluations and best.is_file():
        print(f"{work_dir}: all {evaluations} evaluations done already; finalizing the best checkpoint")
        return best
    model.fit(
        training_data(train.images, train.labels, config),
        steps_per_epoch=config.eval_every, epochs=evaluations,
        validation_data=(val.images[..., None].astype(np.float32), val.labels),
        callbacks=[
            # Weights, optimizer and position, so a cut run resumes where it stopped.
            keras.callbacks.BackupAndRestore(str(work_dir / "backup"), save_freq="epoch"),
            # After a resume, only a better PublicTest accuracy than any before replaces best.keras.
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_accuracy", mode="max", save_best_only=True,
                                            initial_value_threshold=max(previous) if previous else None),
            _wall_clock(work_dir / "seconds.txt"),
            keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience),
            keras.callbacks.CSVLogger(str(log), append=True),
            keras.callbacks.TensorBoard(log_dir=str(log_dir / "tensorboard"), write_graph=False),
        ],
        verbose=verbose,
    )
    return best


def _read_log(path: Path) -> list[dict]:
    import csv

    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _wall_clock(path: Path):
    """A callback adding each evaluation period's wall time to a file, so cut and resumed runs sum up."""
    import keras

    class WallClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            total = float(path.read_text()) if path.is_file() else 0.0
            path.write_text(str(total + time.time() - self.started))

    return WallClock()


def finalize(processed_dir, work_dir, model_dir, log_dir) -> dict:
    """Best checkpoint → calibrated whole network in model_dir (replacing its files)."""
    import keras
    import tensorflow as tf

    from facematch.training import calibrate, machine_description, save_model_dir

    processed_dir, work_dir, model_dir, log_dir = map(Path, (processed_dir, work_dir, model_dir, log_dir))
    best = work_dir / "best.keras"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: no checkpoint yet; run the fine-tuning first")
    config = json.loads((work_dir / "config.json").read_text())
    init_dir = Path((work_dir / "init_model.txt").read_text())
    init_meta = json.loads((init_dir / "metadata.json").read_text())
    trained = keras.saving.load_model(best, safe_mode=True)
    backbone, head = trained.get_layer(BACKBONE_NAME), trained.get_layer("head")
    val = load_split(processed_dir, "PublicTest")
    val_logits = trained.predict(val.images[..., None].astype(np.float32), batch_size=256, verbose=0)
    calibration = calibrate(val_logits, val.labels)
    model = assemble(backbone, head, calibration["temperature"])
    history = _read_log(log_dir / "finetune_log.csv")
    metadata = {**{k: init_meta[k] for k in ("labels", "input_size", "input", "preprocessing", "output",
                                              "test_time_augmentation")},
                "name": model_dir.name,
                "architecture": {**init_meta["architecture"], "backbone_trainable": True,
                                 "parameters": int(model.count_params())},
                "training": {**init_meta["training"],
                             "finetune": {"config": config,
                                          "evaluations_run": len(history),
                                          "best_publictest_accuracy": max(
                                              (h["val_accuracy"] for h in history), default=None),
                                          "seconds": round(float((work_dir / "seconds.txt").read_text()), 1)
                                          if (work_dir / "seconds.txt").is_file() else None,
                                          "machine": machine_description(),
                                          "tensorflow": tf.__version__}},
                "metrics": calibration}
    return save_model_dir(model_dir, model, config["quantize"], metadata)
