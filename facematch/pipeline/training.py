"""Train the head on cached features and write the model directory the game loads."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from facematch import EMOTIONS
from facematch.config import IMAGE_SIZE
from facematch.errors import DatasetError
from facematch.model_spec import ModelSpec
from facematch.pipeline.calibration import calibrate
from facematch.pipeline.configs import TrainConfig
from facematch.pipeline.features import FEATURES_META, build_backbone, load_features
from facematch.pipeline.modeling import assemble, build_head, channel_stats, class_weights
from facematch.pipeline.runs import machine_description, save_model_dir


def train(interim_dir, model_dir, log_dir, config: TrainConfig, verbose: int = 2) -> dict:
    interim_dir, model_dir, log_dir = Path(interim_dir), Path(model_dir), Path(log_dir)
    x_train, y_train = load_features(interim_dir, "Training")  # raises the helpful error if not built
    features_meta = json.loads((interim_dir / FEATURES_META).read_text())
    x_val, y_val = load_features(interim_dir, "PublicTest")
    if config.use_flipped and features_meta.get("flip"):
        x_flip, y_flip = load_features(interim_dir, "Training_flip")
        x_train, y_train = np.concatenate([x_train, x_flip]), np.concatenate([y_train, y_flip])
    if len(y_train) == 0 or len(y_val) == 0:
        raise DatasetError("training needs Training and PublicTest rows; the dataset has "
                         f"{len(y_train)} and {len(y_val)}")

    keras.utils.set_random_seed(config.seed)
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)

    mean, variance = channel_stats(x_train)
    head = build_head(x_train.shape[1:], mean, variance, config.hidden, config.dropout, config.l2)
    head.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
    callbacks = [
        # Model selection on PublicTest only; PrivateTest is never looked at here.
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=config.patience,
                                      restore_best_weights=True, mode="max"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, config.patience // 3)),
        keras.callbacks.CSVLogger(str(log_dir / "training_log.csv")),
        keras.callbacks.TensorBoard(log_dir=str(log_dir / "tensorboard"), write_graph=False),
    ]
    started = time.time()
    weights = class_weights(y_train, config.class_weight)
    history = head.fit(x_train.astype(np.float32), y_train, validation_data=(x_val.astype(np.float32), y_val),
                       epochs=config.epochs, batch_size=config.batch_size, class_weight=weights,
                       callbacks=callbacks, verbose=verbose)
    train_seconds = time.time() - started

    val_logits = head.predict(x_val.astype(np.float32), batch_size=512, verbose=0)
    calibration = calibrate(val_logits, y_val)
    backbone = build_backbone(features_meta["weights"], features_meta["cut_layer"])
    model = assemble(backbone, head, calibration["temperature"])

    provenance = {
        "input": "float32 (N, 48, 48, 1) grayscale in 0..255; predict() converts uint8 gray or BGR crops",
        "preprocessing": "in-network: gray replicated to 3 channels, VGG16 BGR mean subtracted",
        "output": "calibrated probabilities (N, 7) in label order",
        "architecture": {
            "backbone": f"keras.applications.VGG16 convolutional layers up to {features_meta['cut_layer']}",
            "backbone_weights": features_meta["weights"],
            "backbone_trainable": False,
            "head": f"per-channel Normalization, Flatten, Dropout({config.dropout}), "
                    f"Dense({config.hidden}, relu, L2 {config.l2}), Dropout({config.dropout}), Dense(7), "
                    "temperature, softmax",
            "parameters": int(model.count_params()),
        },
        "training": {
            "config": asdict(config),
            "features": {k: features_meta[k] for k in ("weights", "cut_layer", "flip", "feature_shape")},
            "dataset_sha256": features_meta["key"]["source_sha256"],
            "train_examples": int(len(y_train)),
            "class_weights": dict(zip(EMOTIONS, weights.values())) if weights else None,
            "epochs_run": len(history.history["loss"]),
            "best_epoch": int(np.argmax(history.history["val_accuracy"])) + 1,
            "train_seconds": round(train_seconds, 1),
            "machine": machine_description(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "metrics": calibration,
    }
    spec = ModelSpec(name=model_dir.name, input_size=IMAGE_SIZE, views="hflip", provenance=provenance)
    return save_model_dir(model_dir, model, config.quantize, spec)


