"""Which views of a face the judge averages, chosen on PublicTest: predict()'s (choose_tta, for a network the
pipeline has just trained or summed, and choose_predict_views, for a judge already made) and the live game's
(choose_live_views). No TensorFlow: each works from probabilities already computed or from the game's own judge."""

from __future__ import annotations

import numpy as np

from facematch.errors import ModelError
from facematch.model_spec import VIEW_SETS, view_keys, write_model_dir
from facematch.pipeline.calibration import expected_calibration_error, fit_temperature, softmax
from facematch.pipeline.dataset import load_split
from facematch.play.classifier import EmotionClassifier


def choose_tta(view_logits, labels: np.ndarray, temperature: float, keep: str | None = None,
               modes=tuple(VIEW_SETS)) -> tuple[str, dict, dict]:
    """The test-time augmentation with the best PublicTest accuracy among `modes` (or `keep`, when given: a mode
    chosen before, kept for what accuracy does not measure), each one's accuracy, and the calibration of the chosen
    views' average.

    view_logits maps a view's key (model_spec.view_keys) to the PublicTest logits of that view
    (e.g. `lambda key: predict(view_image(images, key))`, or logits already computed). A mode with more views must do
    strictly better than every cheaper one to be chosen. Each view is calibrated for a single
    pass (temperature); their average is under-confident, so a second temperature is fitted to
    it (`view_temperature`, 1 for a single view) and the ECE before and after is reported.
    """
    probs = {}  # each distinct view is scored once: the modes' views overlap
    accuracy = {}
    for mode in modes:  # cheapest first
        for key in view_keys(mode):
            if key not in probs:
                probs[key] = softmax(view_logits(key) / temperature)
        total = sum(probs[key] for key in view_keys(mode))
        accuracy[mode] = round(float((total.argmax(1) == labels).mean()), 4)
    best = keep or max(accuracy, key=lambda m: (accuracy[m], -len(view_keys(m))))
    average = sum(probs[key] for key in view_keys(best)) / len(view_keys(best))
    log_average = np.log(np.maximum(average, 1e-12))
    view_temperature = fit_temperature(log_average, labels) if len(view_keys(best)) > 1 else 1.0
    views = {"view_temperature": view_temperature,
             "publictest_views_ece_before": expected_calibration_error(average, labels),
             "publictest_views_ece_after": expected_calibration_error(softmax(log_average / view_temperature),
                                                                       labels)}
    return best, accuracy, views


def live_views(views: list[np.ndarray], mode: str, live_mode: str) -> list[np.ndarray]:
    """Of the probabilities of `mode`'s views (model_spec.view_keys order), those `live_mode` averages."""
    keys = view_keys(mode)
    missing = [key for key in view_keys(live_mode) if key not in keys]
    if missing:
        raise ModelError(f"the live views {live_mode!r} are not among the model's views {mode!r}")
    return [views[keys.index(key)] for key in view_keys(live_mode)]


def choose_live_views(model_dir, processed_dir, out_dir, candidates=("none", "hflip"),
                      min_gain: float = 0.0065) -> dict:
    """out_dir: model_dir with the views the live game plays per frame chosen on PublicTest.

    Candidates go cheapest first; a dearer one is taken only if it beats the one chosen so far by
    more than `min_gain` (paired noise on 3,589 faces is ~0.65 pt). Each must be a subset of the
    model's own views. Check the frame step with `make benchmark` afterwards.
    """
    clf = EmotionClassifier(model_dir)
    data = load_split(processed_dir, "PublicTest")
    views = clf.view_probabilities(data.images)
    accuracy = {}
    for mode in candidates:
        probs = clf.combine(live_views(views, clf.views, mode))
        accuracy[mode] = round(float((probs.argmax(1) == data.labels).mean()), 4)
    chosen = candidates[0]
    for mode in candidates[1:]:
        if accuracy[mode] > accuracy[chosen] + min_gain:
            chosen = mode
    metrics = {**clf.spec.provenance.get("metrics", {}), "publictest_accuracy_by_live_views": accuracy}
    # The live game's own offsets (R35) were fitted on the views it played; new views start from predict()'s.
    spec = clf.spec.replace(live_views=chosen, live_class_offsets=None, provenance={"metrics": metrics})
    write_model_dir(model_dir, out_dir, spec)
    return {"chosen": chosen, "publictest_accuracy": accuracy, "min_gain": min_gain}


def choose_predict_views(model_dir, processed_dir, out_dir) -> dict:
    """out_dir: model_dir with the views predict() averages chosen again on PublicTest among every view set that
    holds the live game's views (choose_tta: a set with more views must do strictly better than every cheaper one)
    and `view_temperature` fitted to them where the live game plays one view (R36). The live game plays as it did;
    predict()'s offsets are kept too, to be fitted anew for the chosen views (`fit-offsets --path predict`)."""
    clf = EmotionClassifier(model_dir)
    data = load_split(processed_dir, "PublicTest")
    every = max(VIEW_SETS, key=lambda m: len(view_keys(m)))
    if not all(set(view_keys(m)) <= set(view_keys(every)) for m in VIEW_SETS):
        raise ModelError(f"the view set {every!r} does not hold every view of the others")
    probs = dict(zip(view_keys(every), clf.view_probabilities(data.images, every)))
    # Only the sets that hold the live game's views: the live game plays a subset of predict()'s.
    modes = [m for m in VIEW_SETS if set(view_keys(clf.live_views)) <= set(view_keys(m))]
    chosen, accuracy, calibration = choose_tta(lambda key: np.log(np.maximum(probs[key], 1e-12)), data.labels, 1.0,
                                               modes=modes)
    metrics = {**clf.spec.provenance.get("metrics", {}), "publictest_accuracy_by_tta": accuracy}
    played = dict(zip(clf.spec.labels, clf.spec.offsets(live=True)))  # the spec leaves the zeros out itself
    # Where predict() now averages the views the live game plays, one set of offsets serves both: the game's.
    offsets = {"class_offsets": played, "live_class_offsets": None} if chosen == clf.live_views else {
        "live_class_offsets": played}
    # combine() sharpens every average of views by the one view temperature: where the live game plays several
    # views, it keeps the temperature it plays now.
    if len(view_keys(clf.live_views)) > 1:
        calibration = {"view_temperature": clf.spec.view_temperature}
    spec = clf.spec.replace(views=chosen, view_temperature=calibration["view_temperature"],
                            provenance={"metrics": {**metrics, **calibration}}, **offsets)
    write_model_dir(model_dir, out_dir, spec)
    return {"chosen": chosen, "publictest_accuracy": accuracy, **calibration}
