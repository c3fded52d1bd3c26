"""Classifier head on VGG16 features, calibration, assembly of the whole network, export.

The head is trained on cached bottleneck features (fast); the shipped network is
backbone + head + temperature in one functional Keras model, saved as .keras (no
Lambda layer, loads in safe mode) and exported to .tflite for the game.
"""

from __future__ import annotations

import contextlib
import io
import logging

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from facematch import EMOTIONS
from facematch.errors import ConfigError
from facematch.pipeline.configs import loss_weights

log = logging.getLogger(__name__)


def channel_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of (N, H, W, C) activations, for the head's Normalization."""
    flat = features.reshape(-1, features.shape[-1])
    mean = np.zeros(flat.shape[1], np.float64)
    sq = np.zeros(flat.shape[1], np.float64)
    for start in range(0, len(flat), 1 << 20):  # in chunks: float16 → float64 without a huge copy
        chunk = flat[start:start + (1 << 20)].astype(np.float64)
        mean += chunk.sum(0)
        sq += (chunk ** 2).sum(0)
    mean /= len(flat)
    variance = np.maximum(sq / len(flat) - mean ** 2, 1e-6)
    return mean.astype(np.float32), variance.astype(np.float32)


def build_head(feature_shape, mean, variance, hidden: int = 256, dropout: float = 0.5, l2: float = 1e-4):
    """Normalization (per channel) → Flatten → Dropout → Dense(relu) → Dropout → Dense(7) logits.

    VGG16 activations are unnormalised (values in the hundreds); standardising them
    per channel lets the head train with a plain learning rate.
    """
    inputs = keras.Input(tuple(feature_shape), name="vgg16_features")
    x = layers.Normalization(axis=-1, mean=mean, variance=variance, name="feature_norm")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(hidden, activation="relu", kernel_regularizer=keras.regularizers.L2(l2))(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(len(EMOTIONS), name="logits", dtype="float32")(x)  # float32 under mixed precision too
    return keras.Model(inputs, logits, name="head")


def class_weights(labels: np.ndarray, mode: str = "balanced", boost: str = "") -> dict[int, float] | None:
    """configs.loss_weights for these Training labels, as {label index: weight}."""
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    if (counts == 0).any():
        missing = [EMOTIONS[i] for i in np.flatnonzero(counts == 0)]
        log.warning("no training example of %s; their weight is set to 1", ", ".join(missing))
    weights = loss_weights([int(c) for c in counts], mode, boost)
    return dict(enumerate(weights)) if weights else None


OPTIMIZERS = ("adamw", "sgd")


def optimizer_for(name: str, schedule, weight_decay: float):
    """AdamW, or SGD with Nesterov momentum 0.9 (the optimizer of the published ResNet-18 and VGG recipes at 73%
    on FER2013); both decay the weights decoupled from the gradient, by learning rate × weight_decay each step."""
    if name == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def _calibrated(inputs, logits, temperature: float, name: str):
    """The logits divided by the temperature (fitted on PublicTest), then softmax: the model's output."""
    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits)
    return keras.Model(inputs, layers.Softmax(name="probabilities")(scaled), name=name)


def assemble(backbone, head, temperature: float):
    """Whole network: (N, 48, 48, 1) gray 0..255 → calibrated probabilities (N, 7)."""
    inputs = keras.Input(backbone.input.shape[1:], name="face_gray")
    return _calibrated(inputs, head(backbone(inputs)), temperature, "facematch_vgg16")


def assemble_logits(network, temperature: float):
    """A logits network (its own input) → calibrated probabilities (N, 7)."""
    inputs = keras.Input(network.input.shape[1:], name="face_gray")
    return _calibrated(inputs, network(inputs), temperature, network.name.replace("_logits", ""))


def tflite_bytes(model, quantize: str = "none") -> bytes:
    """A LiteRT flatbuffer of a Keras model, with a dynamic batch dimension."""
    # from_keras_model freezes the weights into the flatbuffer (a concrete function would keep
    # them as uninitialised resource variables).
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":  # dynamic-range: int8 weights, float activations
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize != "none":
        raise ConfigError(f"quantize must be float16, int8 or none, got {quantize!r}")
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured tensor
        return converter.convert()


def export_tflite(model, path, quantize: str = "float16") -> None:
    """Write the model as a LiteRT flatbuffer (see tflite_bytes)."""
    with open(path, "wb") as f:
        f.write(tflite_bytes(model, quantize))
