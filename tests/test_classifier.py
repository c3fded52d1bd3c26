"""The classifier API the game and outside evaluators use, on the shipped model."""

import json
import shutil

import numpy as np
import pytest

import facematch
from conftest import FER_CSV
from facematch.classifier import ModelError, load_classifier
from facematch.config import DEFAULT_MODEL_DIR


def test_emotions_are_fer2013_label_order():
    assert facematch.EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_default_model_predicts_probabilities_for_gray_crops():
    clf = load_classifier()
    assert load_classifier() is clf  # cached
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probs = clf.predict(faces)
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and (probs >= 0).all()


def test_colour_crops_of_any_size_match_their_gray_48px_version():
    import cv2

    clf = load_classifier()
    rng = np.random.default_rng(1)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (3, 120, 90, 3), dtype=np.uint8).reshape(-1, 90, 3), (9, 9), 0)
    bgr = bgr.reshape(3, 120, 90, 3)
    gray48 = np.stack([cv2.resize(cv2.cvtColor(b, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
                       for b in bgr])
    assert np.allclose(clf.predict(bgr), clf.predict(gray48), atol=1e-5)
    assert clf.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    assert clf.predict(np.zeros((130, 48, 48), np.uint8)).shape == (130, 7)  # more than one chunk


@pytest.mark.parametrize("faces", [np.zeros((2, 48, 48), np.float32), np.zeros((48, 48, 3, 2), np.uint8),
                                   np.zeros((2, 48, 48, 5), np.uint8), np.zeros((2, 0, 48), np.uint8)])
def test_bad_inputs_raise_value_error(faces):
    with pytest.raises(ValueError):
        load_classifier().predict(faces)


def test_missing_or_damaged_models_fail_with_a_clear_message(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT_MODEL_DIR, broken)
    (broken / "model.tflite").write_bytes((DEFAULT_MODEL_DIR / "model.tflite").read_bytes()[:5000])
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_classifier(broken)
    labels = tmp_path / "labels"
    shutil.copytree(DEFAULT_MODEL_DIR, labels)
    meta = json.loads((labels / "metadata.json").read_text())
    meta["labels"] = ["happy", "sad"]
    (labels / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="labels"):
        load_classifier(labels)
    (labels / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="damaged"):
        load_classifier(labels)


@pytest.mark.slow
@pytest.mark.skipif(not FER_CSV.is_file(), reason="shared FER2013 not present")
def test_shipped_model_reaches_its_model_card_accuracy_on_privatetest():
    from facematch.dataset import read_fer2013

    data = read_fer2013(FER_CSV, progress=False).splits["PrivateTest"]
    accuracy = float((load_classifier().predict(data.images).argmax(1) == data.labels).mean())
    evaluation = json.loads((DEFAULT_MODEL_DIR / "evaluation.json").read_text())
    stated = evaluation["splits"]["PrivateTest"]["accuracy"]
    assert abs(accuracy - stated) <= 0.005
    assert f"PrivateTest accuracy: {100 * stated:.1f}%" in (DEFAULT_MODEL_DIR / "MODEL_CARD.md").read_text()
