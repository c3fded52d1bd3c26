"""The classifier API the game and outside evaluators use, on the shipped model."""

import json
import shutil

import numpy as np
import pytest

import facematch
from conftest import FER_CSV
from facematch.config import DEFAULT_MODEL_DIR
from facematch.play.classifier import EmotionClassifier, ModelError, load_classifier, shift_images, tta_views


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


def test_shifted_views_move_the_face_and_repeat_the_edge():
    faces = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    right = shift_images(faces, 2, 0)
    assert np.array_equal(right[:, :, 2:], faces[:, :, :3])
    assert np.array_equal(right[:, :, 0], faces[:, :, 0]) and np.array_equal(right[:, :, 1], faces[:, :, 0])
    up = shift_images(faces[..., None], 0, -1)[..., 0]  # channel axis kept
    assert np.array_equal(up[:, :3], faces[:, 1:]) and np.array_equal(up[:, 3], faces[:, 3])
    assert len(tta_views(faces, "none")) == 1 and len(tta_views(faces, "hflip")) == 2
    views = tta_views(faces, "hflip+shift2")
    assert len(views) == 10 and np.array_equal(views[1], faces[:, :, ::-1])
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        tta_views(faces, "rotate")


def test_a_model_averages_the_views_its_metadata_names(tmp_path):
    model_dir = tmp_path / "ten_views"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["test_time_augmentation"] = "hflip+shift2"
    meta["view_temperature"] = 1.0
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    clf = EmotionClassifier(model_dir)
    import cv2

    noise = np.random.default_rng(2).integers(0, 256, (4 * 48, 48), dtype=np.uint8)
    faces = cv2.GaussianBlur(noise, (15, 15), 0).reshape(4, 48, 48)  # blurred: no single class saturates
    # Class offsets (tested below) and the fusion (tests/test_fusion.py) left out: the views alone.
    views = [clf.predict(np.ascontiguousarray(v), tta=False, offsets=False) for v in tta_views(faces, "hflip+shift2")]
    average = sum(views) / 10
    assert np.allclose(clf.predict(faces, fuse=False, offsets=False), average, atol=1e-5)
    assert not np.allclose(clf.predict(faces, fuse=False, offsets=False), clf.predict(faces, tta=False, offsets=False),
                           atol=1e-3)
    # A view temperature below 1 sharpens the average (the views' mean is under-confident).
    meta["view_temperature"] = 0.7
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    sharpened = EmotionClassifier(model_dir).predict(faces, fuse=False, offsets=False)
    expected = average ** (1 / 0.7)
    assert np.allclose(sharpened, expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert (sharpened.max(1) > average.max(1)).all() and (sharpened.argmax(1) == average.argmax(1)).all()
    meta["view_temperature"] = -1
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="view_temperature"):
        EmotionClassifier(model_dir)
    meta["view_temperature"] = 1.0
    meta["test_time_augmentation"] = "rotate"
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="test-time augmentation 'rotate'"):
        EmotionClassifier(model_dir)  # a fresh load, not load_classifier's cached one


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
    from facematch.pipeline.dataset import read_fer2013

    data = read_fer2013(FER_CSV, progress=False).splits["PrivateTest"]
    accuracy = float((load_classifier().predict(data.images).argmax(1) == data.labels).mean())
    evaluation = json.loads((DEFAULT_MODEL_DIR / "evaluation.json").read_text())
    stated = evaluation["splits"]["PrivateTest"]["accuracy"]
    assert abs(accuracy - stated) <= 0.005
    assert f"PrivateTest accuracy: {100 * stated:.1f}%" in (DEFAULT_MODEL_DIR / "MODEL_CARD.md").read_text()


def test_class_offsets_shift_predictions_towards_their_class_in_every_path(tmp_path):
    model_dir = tmp_path / "offsets"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text())
    import cv2

    noise = np.random.default_rng(3).integers(0, 256, (8 * 48, 48), dtype=np.uint8)
    faces = cv2.GaussianBlur(noise, (15, 15), 0).reshape(8, 48, 48)
    meta.pop("class_log_offsets", None)  # the shipped model's own offsets left out: this test sets its own
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    plain = EmotionClassifier(model_dir)
    fear = facematch.EMOTIONS.index("fear")
    meta["class_log_offsets"] = {"fear": 3.0}
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    shifted = EmotionClassifier(model_dir)
    # The history tells rounds judged with other offsets apart; rewritten metrics change nothing.
    assert shifted.model_id != plain.model_id
    meta["metrics"] = {"rewritten": True}
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    assert EmotionClassifier(model_dir).model_id == shifted.model_id
    for tta in (False, True):  # the live single pass and the 10 views alike
        before, after = plain.predict(faces, tta=tta), shifted.predict(faces, tta=tta)
        assert (after[:, fear] > before[:, fear]).all()
        expected = before * np.exp(3.0 * (np.arange(7) == fear))
        assert np.allclose(after, expected / expected.sum(1, keepdims=True), atol=1e-4)
        assert np.allclose(shifted.predict(faces, tta=tta, offsets=False), plain.predict(faces, tta=tta, offsets=False),
                           atol=1e-6)
    meta["class_log_offsets"] = {"scared": 1.0}
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="scared"):
        EmotionClassifier(model_dir)


def test_the_live_game_plays_the_views_its_model_names_averaged_like_predict(fused_model_dir):
    import cv2

    from facematch.play.vision import FrameAnalyzer

    # The shipped model plays what choose_live_views.py chose on PublicTest; this one names the mirror view.
    assert load_classifier().live_tta in ("none", "hflip")
    clf = load_classifier(fused_model_dir)
    assert clf.live_tta == "hflip"
    noise = np.random.default_rng(4).integers(0, 256, (3 * 48, 48), dtype=np.uint8)
    faces = cv2.GaussianBlur(noise, (15, 15), 0).reshape(3, 48, 48)
    face_and_mirror = [clf.predict(faces, tta=False, offsets=False),
                       clf.predict(np.ascontiguousarray(faces[:, :, ::-1]), tta=False, offsets=False)]
    live = clf.predict(faces, tta="hflip", fuse=False)  # the fusion: tests/test_fusion.py
    assert np.allclose(live, clf.combine(face_and_mirror), atol=1e-5)  # with the model's class offsets
    assert not np.allclose(live, face_and_mirror[0], atol=1e-3)
    assert FrameAnalyzer(classifier=clf, coach=False).tta == "hflip"  # the game's default
    with pytest.raises(ValueError, match="rotate"):
        clf.predict(faces, tta="rotate")
