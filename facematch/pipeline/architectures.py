"""The networks `facematch train` trains: the VGG16 one (HED's backbone and the head) and the compact
VGG-style one from scratch; and the training precision this CPU affords."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from facematch import EMOTIONS
from facematch.errors import ConfigError
from facematch.pipeline.configs import NetworkConfig
from facematch.pipeline.features import build_backbone
from facematch.pipeline.modeling import build_head


def cpu_has_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def resolve_precision(name: str) -> str:
    if name == "auto":
        return "mixed_bfloat16" if cpu_has_bf16() else "float32"
    if name not in ("float32", "mixed_bfloat16"):
        raise ConfigError(f"precision must be auto, float32 or mixed_bfloat16, got {name!r}")
    return name


def compact_widths(width: int) -> list[int]:
    """Channels of the compact network's 4 blocks (two 3×3 convolutions each, then 2×2 max pooling)."""
    return [width * 2 ** block for block in range(4)]


def build_compact(config: NetworkConfig):
    """(48, 48, 1) gray 0..255 → centre crop → small VGG-style network with batch norm → logits.

    A different network from the VGG16 one (its own features, its own errors), cheap enough to
    train from scratch for many epochs here (~500 images/s in mixed_bfloat16): the judge averages
    the two. Training crops at random because the batches are shifted before the centre crop.
    """
    if not 16 <= config.crop <= 48:
        raise ConfigError(f"crop must be between 16 and 48 pixels, got {config.crop}")
    if not 4 <= config.width <= 256:
        raise ConfigError(f"width (the first block's channels) must be between 4 and 256, got {config.width}")
    inputs = keras.Input((48, 48, 1), name="face_gray")
    x = keras.layers.CenterCrop(config.crop, config.crop, name="centre_crop")(inputs)
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(x)
    for block, width in enumerate(compact_widths(config.width), start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"c{block}_conv{conv}")(x)
            x = keras.layers.BatchNormalization(name=f"c{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"c{block}_relu{conv}")(x)
        x = keras.layers.MaxPooling2D(name=f"c{block}_pool")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(config.dropout)(x)
    x = keras.layers.Dense(config.hidden, activation="relu", name="c_dense")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    logits = keras.layers.Dense(len(EMOTIONS), name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="facematch_compact_logits")


def build_network(config: NetworkConfig, mean=None, variance=None):
    """(48, 48, 1) gray 0..255 → logits (float32 even under a mixed policy); the VGG16 network's
    backbone and head too (None, None for the compact network)."""
    if config.architecture == "compact":
        return build_compact(config), None, None
    if config.architecture != "vgg16":
        raise ConfigError(f"architecture must be vgg16 or compact, got {config.architecture!r}")
    backbone = build_backbone(config.weights, "block4_pool")
    if mean is None:
        channels = backbone.output.shape[-1]
        mean, variance = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    head = build_head(backbone.output.shape[1:], mean, variance, config.hidden, config.dropout, l2=0.0)
    return keras.Model(backbone.input, head(backbone.output), name="facematch_vgg16_logits"), backbone, head
