"""Several networks, one judge: a weighted sum of their logits inside one model.tflite.

The VGG16 network (fine-tuned from HED's backbone) and the compact networks (trained from
scratch, `facematch train --architecture compact`, one per seed) see different features and make
different mistakes; averaging their log-probabilities corrects some of each. The sum is written as
Keras layers (each network's temperature-scaled logits times its share, added, one temperature,
softmax), so the game still runs one LiteRT model through the same `predict()` and the same views,
and the live views and the class offsets are fitted on top of it afterwards.

The first network keeps 1 - s of the sum; the others split s equally (they are meant to be runs of
one recipe, so no one of them earns more than another). s is chosen on PublicTest accuracy of the
views `predict()` averages; a share must beat every smaller one to be chosen. PrivateTest is never
looked at.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
from keras import layers

from facematch.errors import ConfigError, ModelError
from facematch.model_spec import KERAS_NAME, VIEW_SETS, ModelSpec, plain, read_spec, view_keys
from facematch.pipeline.calibration import calibrate, fit_temperature, softmax
from facematch.pipeline.configs import FROM_SCRATCH, network_kind
from facematch.pipeline.dataset import load_split
from facematch.pipeline.runs import machine_description, save_model_dir, view_batch
from facematch.pipeline.views import choose_tta
from facematch.play.classifier import low_pass

log = logging.getLogger(__name__)

SHARES = tuple(round(0.1 * i, 1) for i in range(10))  # the other networks' share of the logits, together


def load_network(model_dir: Path):
    """A model directory's Keras network (rebuilt in memory from its .tflite if only that is there)."""
    path = model_dir / KERAS_NAME
    if path.is_file():
        model = keras.saving.load_model(path, safe_mode=True)
    else:
        from facematch.pipeline.recover import rebuild_keras

        kind = network_kind(read_spec(model_dir).provenance.get("architecture", {}))
        if kind in FROM_SCRATCH:
            raise ModelError(f"{path} is missing, and a {kind} network cannot be rebuilt from its .tflite (its "
                             "batch norm is folded into the convolutions): train it again (`facematch train "
                             f"--architecture {kind}`)")
        model = rebuild_keras(model_dir)
    try:
        model.get_layer("temperature")
    except ValueError:
        raise ModelError(f"{path}: no `temperature` layer; ensemble members are single networks written by "
                         "facematch train-head, finetune or train") from None
    return model


def logits_of(model, name: str):
    """The network's temperature-scaled logits (its probabilities before the softmax), as a model."""
    return keras.Model(model.input, model.get_layer("temperature").output, name=name)


def member_shares(count: int, share: float) -> list[float]:
    """Each network's share of the sum: 1 - share for the first, share split equally among the rest."""
    return [1.0 - share] + [share / (count - 1)] * (count - 1)


def combine(networks: list, shares: list[float], temperature: float):
    """(N, 48, 48, 1) → softmax(Σ_i w_i · z_i / temperature), w = shares (member_shares, or add_network's)."""
    inputs = keras.Input(networks[0].input.shape[1:], name="face_gray")
    # Layer names: recover_keras finds the first network's logits folded into "first_share".
    names = ["first"] + [f"member{i + 1}" for i in range(1, len(networks))]
    parts = [layers.Rescaling(w / temperature, name=f"{name}_share")(logits_of(network, name)(inputs))
             for network, name, w in zip(networks, names, shares) if w > 0]
    summed = layers.Add(name="sum")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, layers.Softmax(name="probabilities")(summed), name="facematch_ensemble")


def _view_logits(model, images: np.ndarray, keys, a: float = 0.0) -> dict:
    """The network's temperature-scaled logits for each view of `images`, each view smoothed by the low-pass `a`
    as predict() smooths it."""
    network = logits_of(model, "logits")
    return {key: network.predict(low_pass(view_batch(images, key), a), batch_size=256, verbose=0) for key in keys}


def choose_share(summed, keys, mode: str, labels: np.ndarray, shares, whose: str,
                 keep_views: bool = False) -> tuple[dict, float, dict, str]:
    """Each share's PublicTest accuracy (a single pass and the views of `mode`, the sum `summed(share, key)`
    calibrated by its own temperature), the share chosen (a larger share must beat every smaller one), and the
    chosen sum's calibration and test-time views (`mode` itself if keep_views, else the most accurate)."""
    def scores(share: float) -> dict:
        logits = {key: summed(share, key) for key in keys}
        t = fit_temperature(logits[keys[0]], labels)
        views = sum(softmax(logits[key] / t) for key in keys)
        return {"single_pass": round(float((logits[keys[0]].argmax(1) == labels).mean()), 4),
                mode: round(float((views.argmax(1) == labels).mean()), 4)}

    by_share = {str(s): scores(s) for s in shares}
    chosen = shares[0]
    for s in shares:
        if by_share[str(s)][mode] > by_share[str(chosen)][mode]:
            chosen = s
    log.info("PublicTest %s accuracy by %s share: %s; chosen %.1f", mode, whose,
             ", ".join(f"{s} {v[mode]:.2%}" for s, v in by_share.items()), chosen)
    calibration = calibrate(summed(chosen, keys[0]), labels)
    tta, calibration["publictest_accuracy_by_tta"], views = choose_tta(
        lambda key: summed(chosen, key), labels, calibration["temperature"], mode if keep_views else None)
    calibration.update(views)
    return by_share, chosen, calibration, tta


def ensemble_models(member_dirs, processed_dir, model_dir, shares=SHARES) -> dict:
    """Write model_dir: the networks' logits summed with the share chosen on PublicTest.

    member_dirs[0] leads (its views, card and training are the model's); the rest split the share.
    """
    member_dirs = [Path(d) for d in member_dirs]
    processed_dir, model_dir = Path(processed_dir), Path(model_dir)
    if len(member_dirs) < 2:
        raise ModelError("an ensemble needs at least two model directories")
    specs = [read_spec(d) for d in member_dirs]
    metas = [plain(spec.provenance) for spec in specs]
    for d, meta in zip(member_dirs, metas):
        if meta.get("ensemble"):
            raise ModelError(f"{d} is an ensemble; each member must be a single network")
    networks = [load_network(d) for d in member_dirs]
    for d, network in zip(member_dirs[1:], networks[1:]):
        if tuple(network.input.shape[1:]) != tuple(networks[0].input.shape[1:]):
            raise ModelError(f"the networks take different inputs: {networks[0].input.shape} ({member_dirs[0]}) "
                             f"and {network.input.shape} ({d})")
    val = load_split(processed_dir, "PublicTest")
    mode = specs[0].views
    keys = view_keys(mode)
    # Every view any test-time mode uses, once per network: the share search and the views' choice share them.
    every = list(dict.fromkeys(key for m in VIEW_SETS for key in view_keys(m)))
    log.info("PublicTest logits of %d networks, %d views each", len(networks), len(every))
    z = [_view_logits(network, val.images, every) for network in networks]

    def summed(share: float, key: str) -> np.ndarray:
        return sum(w * z_i[key] for w, z_i in zip(member_shares(len(z), share), z))

    by_share, chosen, calibration, tta = choose_share(summed, keys, mode, val.labels, shares, "the other networks'")
    model = combine(networks, member_shares(len(networks), chosen), calibration["temperature"])
    provenance = {
        **{k: v for k, v in metas[0].items() if k != "files"},
        "metrics": calibration,
        "ensemble": {
            "share": chosen,
            "member_shares": [round(w, 4) for w in member_shares(len(networks), chosen)],
            "publictest_accuracy_by_share": by_share,
            "views_compared": mode,
            # The first network's training is the model's own `training` (above), not repeated here.
            "members": [{"name": member_dirs[0].name, "architecture": metas[0]["architecture"],
                         "metrics": metas[0]["metrics"]}]
            + [{"name": d.name, "architecture": meta["architecture"], "training": meta["training"],
                "metrics": meta["metrics"]} for d, meta in zip(member_dirs[1:], metas[1:])],
            "machine": machine_description(),
        },
    }
    provenance["architecture"] = {**metas[0]["architecture"], "parameters": int(model.count_params())}
    if chosen == 0:
        log.warning("the other networks add nothing on PublicTest; the model is the first network alone")
    quantize = metas[0].get("files", {}).get("tflite_quantization", "int8")
    spec = ModelSpec(name=model_dir.name, input_size=specs[0].input_size, views=tta,
                     view_temperature=calibration["view_temperature"], provenance=provenance)
    return save_model_dir(model_dir, model, quantize, spec)


def add_network(judge_dir, network_dir, processed_dir, model_dir, shares=SHARES,
                keep_views: bool = False) -> ModelSpec:
    """Write model_dir: an ensemble judge with one more network, its share s chosen on PublicTest.

    The judge's networks are rebuilt from its .tflite (recover.rebuild_members) and keep their shares times
    1 - s; the new network (a model directory with its model.keras, e.g. from `facematch train`) gets s. The sum
    is scored as predict() sees it: every view smoothed by the judge's low-pass, class offsets off. The judge's
    low-pass is kept; its live views and class offsets are not (choose-views and fit-offsets fit them anew).
    Its test-time views are chosen again on PublicTest accuracy, or kept (keep_views: more views average
    away more of what a change of crop size does to each).
    """
    from facematch.pipeline.recover import rebuild_members

    judge_dir, network_dir = Path(judge_dir), Path(network_dir)
    processed_dir, model_dir = Path(processed_dir), Path(model_dir)
    judge, added = read_spec(judge_dir), read_spec(network_dir)
    meta, added_meta = plain(judge.provenance), plain(added.provenance)
    if added_meta.get("ensemble"):
        raise ModelError(f"{network_dir} is an ensemble; the network to add must be a single one")
    if added.low_pass != judge.low_pass:
        log.warning("%s trained on faces smoothed with a = %s, the judge smooths with a = %s: it will see the "
                    "judge's", network_dir, added.low_pass, judge.low_pass)
    if not shares or any(not 0 <= s < 1 for s in shares):
        raise ConfigError(f"the new network's share candidates must be at least 0 and under 1, got {list(shares)}")
    networks, old_shares, _ = rebuild_members(judge_dir)
    network = load_network(network_dir)
    if tuple(network.input.shape[1:]) != tuple(networks[0].input.shape[1:]):
        raise ModelError(f"{network_dir} takes {network.input.shape}, the judge {networks[0].input.shape}")
    val = load_split(processed_dir, "PublicTest")
    mode, keys = judge.views, view_keys(judge.views)
    every = list(dict.fromkeys(key for m in VIEW_SETS for key in view_keys(m)))
    log.info("PublicTest logits of the judge's %d networks and the new one, %d views each", len(networks),
             len(every))
    old = [_view_logits(n, val.images, every, judge.low_pass) for n, w in zip(networks, old_shares) if w > 0]
    old = {key: sum(w * z[key] for w, z in zip([w for w in old_shares if w > 0], old)) for key in every}
    new = _view_logits(network, val.images, every, judge.low_pass)

    def summed(share: float, key: str) -> np.ndarray:
        return (1 - share) * old[key] + share * new[key]

    by_share, chosen, calibration, tta = choose_share(summed, keys, mode, val.labels, shares, "the new network's",
                                                      keep_views)
    member_weights = [(1 - chosen) * w for w in old_shares] + [chosen]
    model = combine(networks + [network], member_weights, calibration["temperature"])
    ensemble = meta["ensemble"]
    provenance = {
        **{k: v for k, v in meta.items() if k != "files"},
        "metrics": calibration,
        "ensemble": {
            **ensemble,
            "member_shares": [round(w, 4) for w in member_weights],
            "members": ensemble["members"] + [{"name": network_dir.name, "architecture": added_meta["architecture"],
                                               "training": added_meta["training"], "metrics": added_meta["metrics"]}],
            # The new network's share against the judge as it was (its own choice: the judge's stays as recorded).
            "added": {"name": network_dir.name, "share": chosen, "publictest_accuracy_by_share": by_share,
                      "views_compared": mode, "views_kept": keep_views,
                      "judge": judge_dir.name, "judge_low_pass": judge.low_pass},
            "machine": machine_description(),
        },
    }
    provenance["architecture"] = {**meta["architecture"], "parameters": int(model.count_params())}
    spec = ModelSpec(name=model_dir.name, input_size=judge.input_size, views=tta,
                     view_temperature=calibration["view_temperature"], low_pass=judge.low_pass,
                     provenance=provenance)
    return save_model_dir(model_dir, model, meta.get("files", {}).get("tflite_quantization", "int8"), spec)
