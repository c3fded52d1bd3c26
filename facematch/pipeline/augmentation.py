"""What training does to a face before the network sees it: moves, resampling, cutout and the judge's low-pass;
and the loss that asks a face and its resized twin for the same verdict.

Each function takes and returns a float32 batch (N, 48, 48, 1) on the 0-255 scale, inside a tf.data map;
the random ones draw from one seeded tf.random.Generator, so a run repeats.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from facematch.pipeline.configs import NetworkConfig


def augmenter(config: NetworkConfig):
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=config.seed),
        keras.layers.RandomTranslation(config.shift, config.shift, fill_mode="nearest", seed=config.seed + 1),
        keras.layers.RandomRotation(config.rotation, fill_mode="nearest", seed=config.seed + 2),
        keras.layers.RandomZoom((-config.zoom, config.zoom), fill_mode="nearest", seed=config.seed + 3),
        keras.layers.RandomContrast(config.contrast, value_range=(0, 255), seed=config.seed + 4),
    ], name="augment")


def cutout(x, rng: tf.random.Generator, share: float, size: int = 16):
    """A `size`-pixel square of a random `share` of the faces set to the face's mean."""
    n = tf.shape(x)[0]
    cy = rng.uniform([n], 0, x.shape[1], tf.int32)
    cx = rng.uniform([n], 0, x.shape[2], tf.int32)
    on = rng.uniform([n]) < share
    yy = tf.range(x.shape[1])[None, :, None]
    xx = tf.range(x.shape[2])[None, None, :]
    box = ((tf.abs(yy - cy[:, None, None]) <= size // 2) & (tf.abs(xx - cx[:, None, None]) <= size // 2)
           & on[:, None, None])
    return tf.where(box[..., None], tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True), x)


def _enlarged(x, rng: tf.random.Generator, smallest: int):
    """One random size per batch (smallest-160 px) and the faces resized to it, bilinear or bicubic at random
    (clipped to 0-255: bicubic overshoots)."""
    size = rng.uniform([], smallest, 161, tf.int32)
    bicubic = rng.uniform([]) < 0.5
    up = tf.cond(bicubic, lambda: tf.image.resize(x, [size, size], "bicubic"),
                 lambda: tf.image.resize(x, [size, size], "bilinear"))
    return size, tf.clip_by_value(up, 0.0, 255.0)


def resample(x, rng: tf.random.Generator, share: float):
    """One random size per batch (32-160 px), applied to a random `share` of its faces: up with bilinear or
    bicubic, back down by area averaging (as to_gray_size's `area` downscale shrinks a large crop), or down by
    area and back up bilinearly (as it enlarges a small one)."""
    size, up = _enlarged(x, rng, 32)
    enlarged = tf.image.resize(up, [48, 48], "area")
    shrunk = tf.image.resize(tf.image.resize(x, [size, size], "area"), [48, 48], "bilinear")
    moved = tf.cond(size >= 48, lambda: enlarged, lambda: shrunk)
    on = rng.uniform([tf.shape(x)[0], 1, 1, 1]) < share
    return tf.where(on, moved, x)


def judge_round_trip(x, rng: tf.random.Generator):
    """The faces enlarged to one random size per batch (56-160 px, bilinear or bicubic) and shrunk back to 48 px as
    the judge's `area2x-cubic` downscale shrinks a crop: areas to 96 px where larger, then bicubic. (TensorFlow's
    bicubic kernel is Keys' with a = -0.5, OpenCV's a = -0.75: near enough for the blur this teaches.)"""
    size, up = _enlarged(x, rng, 56)
    up = tf.cond(size > 96, lambda: tf.image.resize(up, [96, 96], "area"), lambda: up)
    return tf.clip_by_value(tf.image.resize(up, [48, 48], "bicubic"), 0.0, 255.0)


class PairedConsistency(keras.losses.Loss):
    """For a batch whose second half is its first half's faces resized (judge_round_trip): the cross-entropy of
    each prediction (logits) with its soft target, plus `weight` × the symmetric KL divergence between the
    predictions for a face and for its twin."""

    def __init__(self, weight: float, label_smoothing: float = 0.0, name: str = "paired_consistency", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight, self.label_smoothing = weight, label_smoothing

    def call(self, y_true, y_pred):
        y_pred = keras.ops.cast(y_pred, "float32")
        cross = keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True,
                                                      label_smoothing=self.label_smoothing)
        face, twin = keras.ops.split(keras.ops.log_softmax(y_pred, axis=-1), 2, axis=0)
        kl = keras.ops.sum((keras.ops.exp(face) - keras.ops.exp(twin)) * (face - twin), axis=-1) / 2
        return cross + self.weight * keras.ops.concatenate([kl, kl], axis=0)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "label_smoothing": self.label_smoothing}


def paired(x, target, weight, rng: tf.random.Generator, low_pass: float):
    """A batch of faces (before the judge's low-pass) → the faces, then their resized twins; targets and
    weights repeated; the low-pass on both halves."""
    both = tf.concat([x, judge_round_trip(x, rng)], axis=0)
    if low_pass:
        both = low_pass_tf(both, low_pass)
    return both, tf.concat([target, target], axis=0), tf.concat([weight, weight], axis=0)


def low_pass_tf(x, a: float):
    """classifier.low_pass for a (N, H, W, 1) tensor: [a, 1 - 2a, a] along rows, then columns, edges repeated."""
    for axis in (1, 2):
        n = x.shape[axis]
        first = tf.gather(x, [0], axis=axis)
        last = tf.gather(x, [n - 1], axis=axis)
        padded = tf.concat([first, x, last], axis=axis)
        before = tf.gather(padded, tf.range(0, n), axis=axis)
        after = tf.gather(padded, tf.range(2, n + 2), axis=axis)
        x = a * (before + after) + (1 - 2 * a) * x
    return x
