"""The steps that keep the judge's verdict when a face comes at another size (chosen on PublicTest): the
low-pass every face gets at the judge's input size (rule R7), how larger crops are shrunk (rule R21) and
sharpened then (R24). Each reads a model directory and writes a new one; PrivateTest is not read."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from facematch.errors import ConfigError
from facematch.model_spec import DOWNSCALES, read_spec, write_model_dir
from facematch.pipeline.dataset import load_split
from facematch.pipeline.evaluation import (
    ENLARGEMENTS,
    STEADY_SIZES,
    mean_agreement,
    resampling_agreement,
    worst_agreement,
)
from facematch.pipeline.views import live_views
from facematch.play.classifier import EmotionClassifier

log = logging.getLogger(__name__)

RANKS = ("mean", "worst")  # how choose_downscale ranks its candidates' agreement


def choose_low_pass(model_dir, processed_dir, out_dir, candidates=(0.0625, 0.125, 0.1875),
                    max_accuracy_drop: float = 0.003, enlargements=STEADY_SIZES) -> dict:
    """out_dir: model_dir with the low-pass (model_spec.low_pass) chosen on PublicTest by rule R7 (docs/model.md).

    Among the candidates (and none) whose accuracy on `predict()` and on the live path (class offsets off)
    each stays within max_accuracy_drop of none's, the one whose verdicts agree best, on average over both
    paths and the enlargements, with those of the 48 px faces. Refit the class offsets afterwards.
    """
    spec = read_spec(model_dir)
    data = load_split(processed_dir, "PublicTest")
    scores = {}
    for a in (0.0, *candidates):
        judge = EmotionClassifier(model_dir, spec=spec.replace(low_pass=a))
        views = judge.view_probabilities(data.images)
        verdicts = {"predict": judge.combine(views, offsets=False).argmax(1),
                    "live": judge.combine(live_views(views, judge.views, judge.live_views), offsets=False).argmax(1)}
        agreement = resampling_agreement(judge, data.images, verdicts, enlargements, offsets=False)
        accuracy = {path: round(float((v == data.labels).mean()), 4) for path, v in verdicts.items()}
        scores[str(a)] = {"accuracy": accuracy, "agreement": agreement, "mean_agreement": mean_agreement(agreement)}
        log.info("low-pass %s: %s", a, scores[str(a)])
    sharp = scores["0.0"]["accuracy"]
    allowed = [0.0] + [a for a in candidates
                       if all(scores[str(a)]["accuracy"][p] >= sharp[p] - max_accuracy_drop for p in sharp)]
    chosen = max(allowed, key=lambda a: (scores[str(a)]["mean_agreement"], -a))
    metrics = {**spec.provenance.get("metrics", {}),
               "low_pass_choice": {"max_accuracy_drop": max_accuracy_drop, "by_low_pass": scores, "chosen": chosen}}
    write_model_dir(model_dir, out_dir, spec.replace(low_pass=chosen, provenance={"metrics": metrics}))
    return {"chosen": chosen, "publictest": scores}


def video_face_crops(video, every: int = 5, frame_size=(640, 480), margin: float = 0.15) -> list[np.ndarray]:
    """The faces of every `every`-th frame of a video as the game crops them (BGR, their own size): the frame
    brought to the game's camera size, each face found by the game's detector, cropped with its margin."""
    import av

    from facematch.play.frames import crop_with_margin
    from facematch.play.mediapipe_tasks import FaceDetector

    detector, crops = FaceDetector(), []
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if i % every == 0:
                image = cv2.resize(frame.to_ndarray(format="bgr24"), frame_size, interpolation=cv2.INTER_AREA)
                crops += [crop_with_margin(image, box, margin) for box, _ in detector.detect(image)]
    return crops


def choose_downscale(model_dir, processed_dir, out_dir, candidates=DOWNSCALES, video=None,
                     enlargements=ENLARGEMENTS, sharpens=(0.0,), rank: str = "mean") -> dict:
    """out_dir: model_dir with its downscale (model_spec.DOWNSCALES) and sharpening (ModelSpec.sharpen)
    chosen on PublicTest by rules R21 and R24 (docs/model.md).

    Each candidate downscale with each sharpening in `sharpens` is scored by how often the verdicts (class
    offsets on) stay those of the 48 px faces, which none of them touches, over both paths and the
    enlargements. rank "mean": the best mean of those shares wins (R21); "worst": the best lowest share, then
    the best mean (R24). A tie keeps model_dir's. With a video (real camera crops, every one larger than
    48 px), each candidate's live verdicts on its faces are compared with those of pixel-area averaging too,
    for the record: how much the judge changes for real players.
    """
    if rank not in RANKS:
        raise ConfigError(f"rank: {rank!r}; choose one of {list(RANKS)}")
    spec = read_spec(model_dir)
    settings = {(name if not amount else f"{name}, sharpen {amount}"): {"downscale": name, "sharpen": float(amount)}
                for name in candidates for amount in sharpens}
    for setting in settings.values():  # a bad candidate fails now, not after an hour of judging
        try:
            spec.replace(**setting)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    data = load_split(processed_dir, "PublicTest")
    judge = EmotionClassifier(model_dir, spec=spec)
    views = judge.view_probabilities(data.images)
    verdicts = {"predict": judge.combine(views).argmax(1),
                "live": judge.combine(live_views(views, judge.views, judge.live_views), live=True).argmax(1)}
    crops = video_face_crops(video) if video else []
    if video and not crops:
        raise ConfigError(f"no face found in {video}: give a video of a face, or leave --video out")

    def real_live(judge):  # the live verdicts of the video's faces
        return judge.predict(np.stack([judge.resize(c) for c in crops]), judge.live_views).argmax(1)

    by_area = (real_live(EmotionClassifier(model_dir, spec=spec.replace(downscale="area", sharpen=0.0)))
               if crops else None)
    scores = {}
    for key, setting in settings.items():
        judge = EmotionClassifier(model_dir, spec=spec.replace(**setting))
        steady = resampling_agreement(judge, data.images, verdicts, enlargements)
        scores[key] = {"agreement": steady, "mean_agreement": mean_agreement(steady),
                       "worst_agreement": worst_agreement(steady)}
        if crops:
            scores[key]["real_faces_live_same_as_area"] = round(float((real_live(judge) == by_area).mean()), 4)
        log.info("downscale %s: %s", key, scores[key])
    ranked = ("mean_agreement",) if rank == "mean" else ("worst_agreement", "mean_agreement")
    shipped = {"downscale": spec.downscale, "sharpen": spec.sharpen}
    chosen = max(scores, key=lambda k: (*(scores[k][r] for r in ranked), settings[k] == shipped))
    choice = {"by_downscale": scores, "chosen": chosen, "rank": rank, "enlargements": [e[0] for e in enlargements],
              **({"video": Path(video).name, "real_faces": len(crops)} if video else {})}
    metrics = {**spec.provenance.get("metrics", {}), "downscale_choice": choice}
    write_model_dir(model_dir, out_dir, spec.replace(**settings[chosen], provenance={"metrics": metrics}))
    return {"chosen": chosen, **settings[chosen], "publictest": scores,
            **({"real_faces": len(crops)} if video else {})}
