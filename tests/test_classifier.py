"""The judge's API the game and outside evaluators use, on the shipped model."""

import json
import shutil

import cv2
import numpy as np
import pytest

import facematch
from conftest import FER_CSV
from facematch.config import DEFAULT_MODEL_DIR
from facematch.errors import ModelError
from facematch.model_spec import DOWNSCALES, read_spec, write_spec
from facematch.play.classifier import (
    EmotionClassifier,
    load_classifier,
    low_pass,
    resize_gray,
    shift_images,
    view_images,
)


def judge_with(tmp_path, name: str, **changes) -> EmotionClassifier:
    """The shipped network under a spec with these fields changed (a fresh load, not the cached one)."""
    model_dir = tmp_path / name
    if not model_dir.exists():
        shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    write_spec(model_dir, read_spec(DEFAULT_MODEL_DIR).replace(**changes))
    return EmotionClassifier(model_dir)


def blurred_faces(n: int, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (n * 48, 48), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (15, 15), 0).reshape(n, 48, 48)  # blurred: no single class saturates


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
    clf = load_classifier()
    rng = np.random.default_rng(1)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (3, 120, 90, 3), dtype=np.uint8).reshape(-1, 90, 3), (9, 9), 0)
    bgr = bgr.reshape(3, 120, 90, 3)
    gray48 = np.stack([clf.resize(cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)) for b in bgr])
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
    assert len(view_images(faces, "none")) == 1 and len(view_images(faces, "hflip")) == 2
    views = view_images(faces, "hflip+shift2")
    assert len(views) == 10 and np.array_equal(views[1], faces[:, :, ::-1])
    with pytest.raises(ValueError, match="unknown views"):
        view_images(faces, "rotate")


def test_the_low_pass_blurs_every_face_alike_whatever_its_crop_size(tmp_path):
    edge = np.zeros((1, 48, 48), np.uint8)
    edge[:, :, 24:] = 200
    flat = np.full((1, 48, 48), 90, np.uint8)
    sharp = judge_with(tmp_path, "sharp", low_pass=0.0, downscale="area", sharpen=0.0)
    smooth = judge_with(tmp_path, "smooth", low_pass=0.25, downscale="area", sharpen=0.0)
    seen = low_pass(edge.astype(np.float32), 0.25)
    assert np.allclose(seen[0, :, 22:26], [0, 50, 150, 200]) and np.allclose(low_pass(flat * 1.0, 0.25), flat)
    assert not np.allclose(smooth.predict(edge), sharp.predict(edge), atol=1e-3)
    assert np.allclose(smooth.predict(flat), sharp.predict(flat), atol=1e-5)  # nothing to blur in a flat face
    # A 96 px crop of the face made by repeating its pixels comes back (pixel areas) to the same 48 px face, then
    # the same blur.
    big = np.repeat(np.repeat(edge, 2, axis=1), 2, axis=2)
    assert np.allclose(smooth.predict(big), smooth.predict(edge), atol=1e-6)
    with pytest.raises(ValueError, match="low_pass: 0.4"):
        read_spec(DEFAULT_MODEL_DIR).replace(low_pass=0.4)


def test_a_face_enlarged_and_brought_back_keeps_more_of_itself_with_an_interpolated_last_step(tmp_path):
    face = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (48, 48), dtype=np.uint8), (5, 5), 0)
    for interpolation in (cv2.INTER_LINEAR, cv2.INTER_CUBIC):
        big = cv2.resize(face, (96, 96), interpolation=interpolation)
        error = {d: np.abs(resize_gray(big, 48, d).astype(float) - face).mean() for d in DOWNSCALES}
        assert error["area2x-cubic"] < 0.8 * error["area"] and error["area2x-lanczos"] < 0.8 * error["area"]
    # Stripes far finer than 48 px turn gray with every downscale (pixel areas are averaged first), not into
    # coarse false stripes, which an interpolating kernel alone would make of them.
    stripes = np.zeros((480, 480), np.uint8)
    stripes[:, ::2] = 255
    for d in DOWNSCALES:
        assert resize_gray(stripes, 48, d).std() < 3 and abs(resize_gray(stripes, 48, d).mean() - 127.5) < 3
    assert resize_gray(face[:20, :20], 48, "area2x-cubic").shape == (48, 48)  # small crops are enlarged
    # The judge shrinks crops as its spec says, on every path.
    crops = np.stack([cv2.resize(f, (150, 150), interpolation=cv2.INTER_LINEAR) for f in blurred_faces(3, 4)])
    judge = judge_with(tmp_path, "cubic", downscale="area2x-cubic", sharpen=0.0)
    shrunk = np.stack([resize_gray(c, 48, "area2x-cubic") for c in crops])
    assert np.array_equal(np.stack([judge.resize(c) for c in crops]), shrunk)
    assert np.allclose(judge.predict(crops), judge.predict(shrunk), atol=1e-6)
    assert np.allclose(judge.predict(crops, "hflip"), judge.predict(shrunk, "hflip"), atol=1e-6)



def test_sharpening_gives_back_what_shrinking_blurs_and_never_touches_a_face_at_the_judges_size(tmp_path):
    face = cv2.GaussianBlur(np.random.default_rng(5).integers(0, 256, (48, 48), dtype=np.uint8), (5, 5), 0)
    big = cv2.resize(face, (96, 96), interpolation=cv2.INTER_LINEAR)
    error = {s: np.abs(resize_gray(big, 48, "area2x-cubic", s).astype(float) - face).mean() for s in (0.0, 0.1)}
    assert error[0.1] < 0.7 * error[0.0]
    # A face already at 48 px (gray or colour) is judged as it is, and a small one is only enlarged.
    assert np.array_equal(resize_gray(face, 48, "area2x-cubic", 0.2), face)
    assert np.array_equal(resize_gray(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), 48, "area2x-cubic", 0.2), face)
    assert np.array_equal(resize_gray(face[:30, :30], 48, "area2x-cubic", 0.2), resize_gray(face[:30, :30], 48))
    # The judge sharpens as its spec says, on every path.
    judge = judge_with(tmp_path, "sharp", downscale="area2x-cubic", sharpen=0.1)
    crops = np.stack([cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)] * 2)
    sharp = np.stack([resize_gray(c, 48, "area2x-cubic", 0.1) for c in crops])
    assert np.array_equal(judge.resize(crops[0]), sharp[0])
    assert np.allclose(judge.predict(crops, "hflip"), judge.predict(sharp, "hflip"), atol=1e-6)
    assert not np.allclose(judge.predict(crops), judge.predict(np.stack([resize_gray(c, 48, "area2x-cubic")
                                                                         for c in crops])), atol=1e-4)


def test_a_judge_averages_the_views_its_spec_names(tmp_path):
    clf = judge_with(tmp_path, "ten_views", views="hflip+shift2", view_temperature=1.0, class_offsets={})
    faces = blurred_faces(4, 2)
    # Class offsets (tested below) left out: the views alone.
    views = [clf.predict(np.ascontiguousarray(v), "none", offsets=False) for v in view_images(faces, "hflip+shift2")]
    average = sum(views) / 10
    assert np.allclose(clf.predict(faces, offsets=False), average, atol=1e-5)
    assert not np.allclose(clf.predict(faces, offsets=False), clf.predict(faces, "none", offsets=False), atol=1e-3)
    # A view temperature below 1 sharpens the average (the views' mean is under-confident).
    sharpened = judge_with(tmp_path, "ten_views", view_temperature=0.7).predict(faces, offsets=False)
    expected = average ** (1 / 0.7)
    assert np.allclose(sharpened, expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert (sharpened.max(1) > average.max(1)).all() and (sharpened.argmax(1) == average.argmax(1)).all()


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
    (broken / "model.tflite").unlink()
    with pytest.raises(ModelError, match="model.tflite is missing"):
        load_classifier(broken)
    # A damaged spec.json: tests/test_model_spec.py


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
    faces = blurred_faces(8, 3)
    # The shipped offsets left out (the live game's own too): this test sets one set of its own for every path.
    plain = judge_with(tmp_path, "offsets", class_offsets={}, live_class_offsets=None)
    fear = facematch.EMOTIONS.index("fear")
    shifted = judge_with(tmp_path, "offsets", class_offsets={"fear": 3.0}, live_class_offsets=None)
    # The history tells rounds judged with other offsets apart; rewritten provenance changes nothing.
    assert shifted.model_id != plain.model_id
    rewritten = judge_with(tmp_path, "offsets", class_offsets={"fear": 3.0}, live_class_offsets=None,
                           provenance={"metrics": {"new": 1}})
    assert rewritten.model_id == shifted.model_id
    for views in ("none", None):  # the live single pass and the 10 views alike
        before, after = plain.predict(faces, views), shifted.predict(faces, views)
        assert (after[:, fear] > before[:, fear]).all()
        expected = before * np.exp(3.0 * (np.arange(7) == fear))
        assert np.allclose(after, expected / expected.sum(1, keepdims=True), atol=1e-4)
        assert np.allclose(shifted.predict(faces, views, offsets=False), plain.predict(faces, views, offsets=False),
                           atol=1e-6)


def test_the_live_views_get_the_live_games_own_offsets_where_the_spec_has_them(tmp_path):
    faces = blurred_faces(8, 4)
    fear = facematch.EMOTIONS.index("fear")
    plain = judge_with(tmp_path, "own", class_offsets={}, live_class_offsets=None)
    own = judge_with(tmp_path, "own", class_offsets={}, live_class_offsets={"fear": 3.0})
    assert own.model_id != plain.model_id
    assert np.allclose(own.predict(faces), plain.predict(faces), atol=1e-6)  # predict()'s views: no offsets
    for views in (own.live_views, "none"):  # the live views, and the one pass a busy server plays
        before, after = plain.predict(faces, views), own.predict(faces, views)
        assert (after[:, fear] > before[:, fear]).all()
        expected = before * np.exp(3.0 * (np.arange(7) == fear))
        assert np.allclose(after, expected / expected.sum(1, keepdims=True), atol=1e-4)


def test_the_live_game_plays_the_views_its_spec_names_averaged_like_predict(tmp_path):
    from facematch.play.vision import FrameAnalyzer

    # The shipped model plays what `facematch choose-views` chose on PublicTest; this one names the mirror view.
    assert load_classifier().live_views in ("none", "hflip")
    clf = judge_with(tmp_path, "mirror", live_views="hflip")
    assert clf.live_views == "hflip"
    faces = blurred_faces(3, 4)
    face_and_mirror = [clf.predict(faces, "none", offsets=False),
                       clf.predict(np.ascontiguousarray(faces[:, :, ::-1]), "none", offsets=False)]
    live = clf.predict(faces, clf.live_views)
    assert np.allclose(live, clf.combine(face_and_mirror, live=True), atol=1e-5)  # with the live game's offsets
    assert not np.allclose(live, face_and_mirror[0], atol=1e-3)
    assert FrameAnalyzer(classifier=clf, coach=False).views == "hflip"  # the game's default
    with pytest.raises(ValueError, match="rotate"):
        clf.predict(faces, "rotate")
