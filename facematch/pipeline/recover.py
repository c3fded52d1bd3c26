"""Rebuild a shipped model's Keras network from its model.tflite, to train it further.

Only model.tflite goes into git (model.keras is 40 MB), so a new checkout cannot continue
training the shipped model from its Keras file. Its LiteRT file holds every weight: the
convolution and dense kernels as int8 with one scale per output channel (dynamic-range
quantization), the biases and the feature normalisation in float32, and the temperature folded
into the logits layer. This reads them back into the same functional network that
training.py builds, so a copy of the model directory with `model.keras` can be used as a start
(`facematch train --init-model`). The int8 rounding stays: the recovered network predicts
what the shipped .tflite predicts.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.errors import ModelError
from facematch.model_spec import KERAS_NAME, TFLITE_NAME, plain, read_spec, write_model_dir
from facematch.pipeline.configs import network_kind
from facematch.pipeline.features import VGG16_CONV_LAYERS, build_backbone
from facematch.pipeline.modeling import assemble, build_head

log = logging.getLogger(__name__)


def _tensors(tflite: Path) -> dict[str, np.ndarray]:
    """Constant tensors by name, as float32 (int8 ones dequantised with their per-channel scales)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    out = {}
    for detail in interpreter.get_tensor_details():
        try:
            value = interpreter.get_tensor(detail["index"])
        except ValueError:  # activations have no data before a call
            continue
        q = detail["quantization_parameters"]
        if value.dtype == np.int8 and len(q["scales"]):
            axis = q["quantized_dimension"]
            shape = [1] * value.ndim
            shape[axis] = -1
            value = value.astype(np.float32) * q["scales"].reshape(shape).astype(np.float32)
        out[detail["name"]] = np.asarray(value, np.float32)
    return out


def _find(tensors: dict, *parts: str, shape=None) -> np.ndarray:
    for name, value in tensors.items():
        if all(p in name for p in parts) and (shape is None or tuple(value.shape) == tuple(shape)):
            return value
    raise ModelError(f"the .tflite has no tensor named like {parts} with shape {shape}; it was not written "
                     "by this version of the pipeline")


def recover_keras(model_dir, out_dir) -> Path:
    """Write out_dir: a copy of model_dir with model.keras rebuilt from its model.tflite; returns its path.

    For an ensemble, model.keras is its first (VGG16) network alone, the start `facematch train
    --init-model` needs; the compact networks are not rebuilt (their batch norm is folded away).
    """
    model = rebuild_keras(model_dir)
    if plain(read_spec(model_dir).provenance).get("ensemble"):
        log.info("%s: rebuilt the ensemble's first (VGG16) network only", model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / KERAS_NAME)
        out = write_model_dir(model_dir, out_dir, read_spec(model_dir), extra={
            KERAS_NAME: (Path(tmp) / KERAS_NAME).read_bytes()}, keep=(TFLITE_NAME,))
    log.info("rebuilt %s from %s (int8 weights dequantised)", out / KERAS_NAME, TFLITE_NAME)
    return out / KERAS_NAME


def rebuild_keras(model_dir):
    """The Keras network of model_dir, rebuilt in memory from its model.tflite (see recover_keras)."""
    model_dir = Path(model_dir)
    metadata = plain(read_spec(model_dir).provenance)
    tensors = _tensors(model_dir / TFLITE_NAME)
    backbone = build_backbone("random", "block4_pool")
    for name in VGG16_CONV_LAYERS[:10]:  # block1_conv1 … block4_conv3
        layer = backbone.get_layer(name)
        kernel_shape = layer.kernel.shape  # (3, 3, in, out); LiteRT stores (out, 3, 3, in)
        kernel = _find(tensors, f"/{name}_1/convolution", shape=(kernel_shape[3], 3, 3, kernel_shape[2]))
        bias = _find(tensors, f"/{name}_1/BiasAdd", shape=(kernel_shape[3],))
        layer.set_weights([kernel.transpose(1, 2, 3, 0), bias])
    feature_shape = backbone.output.shape[1:]
    channels = feature_shape[-1]
    # feature_norm: (x - mean) * 1 / max(sqrt(variance), eps) in the flatbuffer.
    mean = _find(tensors, "Const", shape=(1, 1, 1, channels)).reshape(-1)
    inverse_std = _find(tensors, "feature_norm_1/truediv", shape=(1, 1, 1, channels)).reshape(-1)
    hidden_kernel = _find(tensors, "head_1/dense_1/MatMul")  # (hidden, 3·3·512)
    hidden = hidden_kernel.shape[0]
    head = build_head(feature_shape, mean, (1.0 / inverse_std) ** 2, hidden=hidden)
    dense = [layer for layer in head.layers if layer.name.startswith("dense")][0]
    dense.set_weights([hidden_kernel.T, _find(tensors, "head_1/dense_1/BiasAdd", shape=(hidden,))])
    # The temperature is folded into the logits layer: W/T and b/T. In an ensemble (ensemble.py) the
    # VGG16 network is the first member, its logits further scaled by its share over the sum's temperature.
    temperature = float(metadata["metrics"]["temperature"])
    scale, folded = temperature, "temperature_1/mul"
    spec = metadata.get("ensemble")
    if spec:
        temperature = float(spec["members"][0]["metrics"]["temperature"])
        first_share = float(spec["member_shares"][0]) if spec.get("member_shares") else 1 - spec["share"]
        scale = temperature * float(metadata["metrics"]["temperature"]) / first_share
        folded = "first_share_1/mul"
    logits_kernel = _find(tensors, folded + "1")  # (7, hidden)
    logits_bias = _find(tensors, folded, shape=(logits_kernel.shape[0],))
    head.get_layer("logits").set_weights([logits_kernel.T * scale, logits_bias * scale])
    return assemble(backbone, head, temperature)


def rebuild_compact(tensors: dict, member: str, crop: int, temperature: float, scale: float):
    """A compact network (architectures.build_compact) rebuilt from the tensors of an ensemble's `member` (member2, …).

    Its batch norm is folded into the convolutions in the flatbuffer (kernel · γ/σ, bias β - μγ/σ), so each
    block's convolution comes back with a bias and no batch norm: the same function, not the same layers. Its
    logits layer is folded with its own temperature and `scale` (its share over the sum's temperature), undone
    here so that the network ends in its own `temperature` layer like a trained one.
    """
    import keras

    from facematch.pipeline.modeling import assemble_logits

    prefix = f"{member}_1/facematch_compact_logits_1/"

    def kernel(name: str, rank: int = 4):
        for key, value in tensors.items():
            if key.endswith(f"{prefix}{name}") and value.ndim == rank:
                return value
        raise ModelError(f"the .tflite has no tensor {prefix}{name}; it was not written by this pipeline")

    inputs = keras.Input((48, 48, 1), name="face_gray")
    x = keras.layers.CenterCrop(crop, crop, name="centre_crop")(inputs)
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(x)
    weights = []
    for block in range(1, 5):
        for conv in (1, 2):
            k = kernel(f"c{block}_conv{conv}_1/convolution")  # (out, 3, 3, in)
            b = _conv_bias(tensors, prefix, block, conv, k.shape[0])
            layer = keras.layers.Conv2D(k.shape[0], 3, padding="same", activation="relu",
                                        name=f"c{block}_conv{conv}")
            x = layer(x)
            weights.append((layer, [k.transpose(1, 2, 3, 0), b]))
        x = keras.layers.MaxPooling2D(name=f"c{block}_pool")(x)
    x = keras.layers.Flatten()(x)
    dense_kernel = kernel("c_dense_1/MatMul", 2)  # (hidden, in)
    dense = keras.layers.Dense(dense_kernel.shape[0], activation="relu", name="c_dense")
    x = dense(x)
    weights.append((dense, [dense_kernel.T, _find(tensors, f"{prefix}c_dense_1/BiasAdd",
                                                  shape=(dense_kernel.shape[0],))]))
    logits_kernel = _find(tensors, f"{member}_share_1/mul1", shape=(len(EMOTIONS), dense_kernel.shape[0]))
    logits_bias = _find(tensors, f"{member}_share_1/mul", shape=(len(EMOTIONS),))
    logits = keras.layers.Dense(len(EMOTIONS), name="logits")
    out = logits(x)
    weights.append((logits, [logits_kernel.T * temperature / scale, logits_bias * temperature / scale]))
    network = keras.Model(inputs, out, name="facematch_compact_logits")
    for layer, values in weights:
        layer.set_weights(values)
    return assemble_logits(network, temperature)


def _conv_bias(tensors: dict, prefix: str, block: int, conv: int, channels: int) -> np.ndarray:
    """A compact network's convolution bias: its batch norm's, folded (a trained network, named after the ReLU
    layer), or the convolution's own (a network this module rebuilt, when add-network wrote the judge)."""
    for layer in (f"c{block}_relu{conv}", f"c{block}_conv{conv}"):
        try:
            return _find(tensors, f"{prefix}{layer}_1/Relu;", shape=(channels,))
        except ModelError:
            continue
    raise ModelError(f"the .tflite has no bias for {prefix}c{block}_conv{conv}; it was not written by this pipeline")


def rebuild_members(model_dir) -> tuple[list, list[float], float]:
    """Every network of an ensemble judge (ensemble.py), rebuilt from its model.tflite: the networks (each ending in
    its own `temperature` layer; None for one whose share is 0), their shares of the sum and the sum's
    temperature, so that ensemble.combine(networks, shares, temperature) predicts what the .tflite predicts."""
    model_dir = Path(model_dir)
    metadata = plain(read_spec(model_dir).provenance)
    spec = metadata.get("ensemble")
    if not spec:
        raise ModelError(f"{model_dir} is a single network, not an ensemble; recover-keras rebuilds it")
    shares, temperature = [float(w) for w in spec["member_shares"]], float(metadata["metrics"]["temperature"])
    tensors = _tensors(model_dir / TFLITE_NAME)
    networks = [rebuild_keras(model_dir)]
    for i, member in enumerate(spec["members"][1:], start=2):
        if shares[i - 1] == 0:  # a network with no share is not in the .tflite: it keeps its place, as nothing
            networks.append(None)
            continue
        if network_kind(member["architecture"]) != "compact":
            raise ModelError(f"{model_dir}: member {i} ({member['name']}) is not a compact network; only compact "
                             "members after the first (VGG16) network can be rebuilt from the .tflite")
        own = float(member["metrics"]["temperature"])
        networks.append(rebuild_compact(tensors, f"member{i}",
                                        int(member["training"]["config"]["crop"]), own, shares[i - 1] / temperature))
    return networks, shares, temperature
