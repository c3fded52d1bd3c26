"""The networks `facematch train` trains: the VGG16 one (HED's backbone and the head), and from scratch the
compact VGG-style one and the residual one; and the training precision this CPU affords."""

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


def _scratch_input(config: NetworkConfig):
    """The input of a network trained from scratch and its centre crop scaled to -1..1: (inputs, x)."""
    if not 16 <= config.crop <= 48:
        raise ConfigError(f"crop must be between 16 and 48 pixels, got {config.crop}")
    if not 4 <= config.width <= 256:
        raise ConfigError(f"width (the first block's channels) must be between 4 and 256, got {config.width}")
    inputs = keras.Input((48, 48, 1), name="face_gray")
    x = keras.layers.CenterCrop(config.crop, config.crop, name="centre_crop")(inputs)
    return inputs, keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(x)


def build_compact(config: NetworkConfig):
    """(48, 48, 1) gray 0..255 → centre crop → small VGG-style network with batch norm → logits.

    A different network from the VGG16 one (its own features, its own errors), cheap enough to
    train from scratch for many epochs here (~500 images/s in mixed_bfloat16): the judge averages
    the two. Training crops at random because the batches are shifted before the centre crop.
    """
    inputs, x = _scratch_input(config)
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


def _basic_block(x, width: int, stride: int, name: str):
    """ResNet's basic block: two 3×3 convolutions with batch norm, added to the input (projected by a 1×1
    convolution where the size or the channels change), then ReLU."""
    y = keras.layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(keras.layers.BatchNormalization(name=f"{name}_bn1")(y))
    y = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != width:
        x = keras.layers.Conv2D(width, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(x)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, x]))


def build_residual(config: NetworkConfig):
    """(48, 48, 1) gray 0..255 → centre crop → ResNet-18's layout (a 3×3 stem, then 4 stages of two basic
    blocks, widths `compact_widths(width)`, each stage after the first halving the size) → global average
    pooling, dropout → logits. The issue's residual lever at 48 px; at width 32 it costs about what the
    width-48 compact network costs to train (~220 M multiply-adds a face on a 40 px crop)."""
    inputs, x = _scratch_input(config)
    x = keras.layers.Conv2D(config.width, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.ReLU(name="stem_relu")(keras.layers.BatchNormalization(name="stem_bn")(x))
    for stage, width in enumerate(compact_widths(config.width), start=1):
        for block in (1, 2):
            x = _basic_block(x, width, 2 if stage > 1 and block == 1 else 1, f"r{stage}_{block}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    logits = keras.layers.Dense(len(EMOTIONS), name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="facematch_residual_logits")


def describe_scratch(config: NetworkConfig) -> dict:
    """A network trained from scratch, as the spec and the card describe it."""
    widths = compact_widths(config.width)
    if config.architecture == "residual":
        return {"backbone": f"residual: centre {config.crop} px crop, a 3×3 stem, then 4 stages of two ResNet basic "
                            f"blocks (3×3 convolutions with batch norm, ReLU and a shortcut), widths {widths}, "
                            "stride 2 from the second stage, from scratch",
                "head": f"global average pooling, Dropout({config.dropout}), Dense(7), temperature, softmax"}
    return {"backbone": f"compact: centre {config.crop} px crop, blocks of two 3×3 convolutions with batch norm "
                        f"and ReLU, widths {widths}, 2×2 max pooling, from scratch",
            "head": f"Flatten, Dropout({config.dropout}), Dense({config.hidden}, relu), Dropout({config.dropout}), "
                    "Dense(7), temperature, softmax"}


def build_network(config: NetworkConfig, mean=None, variance=None):
    """(48, 48, 1) gray 0..255 → logits (float32 even under a mixed policy); the VGG16 network's
    backbone and head too (None, None for the networks trained from scratch)."""
    if config.architecture == "compact":
        return build_compact(config), None, None
    if config.architecture == "residual":
        return build_residual(config), None, None
    if config.architecture != "vgg16":
        raise ConfigError(f"architecture must be vgg16, compact or residual, got {config.architecture!r}")
    backbone = build_backbone(config.weights, "block4_pool")
    if mean is None:
        channels = backbone.output.shape[-1]
        mean, variance = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    head = build_head(backbone.output.shape[1:], mean, variance, config.hidden, config.dropout, l2=0.0)
    return keras.Model(backbone.input, head(backbone.output), name="facematch_vgg16_logits"), backbone, head
