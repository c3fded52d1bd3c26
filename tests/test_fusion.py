"""The judge's blendshape fusion: the head file, the fused predict(), and the live game's carried fusion."""

import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import VIDEO
from facematch import EMOTIONS
from facematch.config import DEFAULT_MODEL_DIR
from facematch.play.classifier import EmotionClassifier, ModelError, load_classifier
from facematch.play.fusion import BlendshapeHead, mirrored_names
from facematch.play.vision import FUSION_CARRY_S, Face, FrameAnalyzer, add_log_terms, crop_with_margin

needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason="shared video not present")


@pytest.fixture(scope="module")
def laugh_frame():
    import av

    with av.open(str(VIDEO)) as container:
        for frame in container.decode(video=0):
            if float(frame.pts * frame.time_base) >= 17.0:
                return frame.to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def analyzer(fused_model_dir):
    return FrameAnalyzer(classifier=load_classifier(fused_model_dir), coach=False)


def test_mirrored_names_swap_left_and_right_only():
    names = ["browInnerUp", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight"]
    assert mirrored_names(names) == [0, 2, 1, 4, 3]
    with pytest.raises(ValueError, match="mirroring"):
        mirrored_names(["eyeBlinkLeft"])


def laugh_crop(analyzer, frame) -> np.ndarray:
    box = analyzer.detector.detect(frame)[0][0]
    return cv2.resize(cv2.cvtColor(crop_with_margin(frame, box, analyzer.margin), cv2.COLOR_BGR2GRAY),
                      (48, 48), interpolation=cv2.INTER_AREA)[None]


@needs_video
def test_a_trained_head_reads_a_laugh_as_happy_and_a_mirrored_face_the_same(analyzer, laugh_frame):
    fusion = analyzer.classifier.fusion
    assert fusion is not None and fusion.live
    head = fusion.head
    shapes = fusion.measure_crops(laugh_crop(analyzer, laugh_frame))[0]
    assert shapes is not None and shapes["mouthSmileLeft"] > 0.3  # the landmarker finds the laugh in 48 px
    probs = head.probs(head.vector(shapes)[None])[0]
    assert EMOTIONS[int(probs.argmax())] == "happy" and abs(probs.sum() - 1) < 1e-6
    mirrored = {n.replace("Left", "@").replace("Right", "Left").replace("@", "Right"): v for n, v in shapes.items()}
    lopsided = {**shapes, "mouthSmileLeft": 0.9, "mouthSmileRight": 0.1, "eyeBlinkLeft": 0.7}
    mirrored_lopsided = {**mirrored, "mouthSmileRight": 0.9, "mouthSmileLeft": 0.1, "eyeBlinkRight": 0.7}
    assert np.allclose(head.probs(head.vector(lopsided)[None]), head.probs(head.vector(mirrored_lopsided)[None]))
    assert not np.allclose(head.probs(head.vector(lopsided)[None]), probs[None], atol=1e-3)


def test_fusion_terms_add_the_offsets_everywhere_and_the_muscles_where_measured(fused_model_dir):
    fusion = load_classifier(fused_model_dir).fusion
    shapes = {name: 0.05 for name in fusion.head.names}
    terms = fusion.terms([None, shapes])
    assert np.allclose(terms[0], fusion.offsets)  # no face found by the landmarker: the network alone
    head = fusion.head.probs(fusion.head.vector(shapes)[None])[0]
    expected = fusion.offsets + fusion.weight * np.log(np.maximum(head, 1e-12))
    assert np.allclose(terms[1], expected)


@needs_video
def test_predict_fuses_the_faces_muscles_into_the_whole_judge(analyzer, laugh_frame):
    clf = analyzer.classifier
    face = laugh_crop(analyzer, laugh_frame)
    measured = clf.fusion.measure_crops(face)
    unfused = clf.predict(face, fuse=False)
    fused = clf.predict(face)  # the default: the model's views and its fusion
    assert np.allclose(fused, add_log_terms(unfused[0], clf.fusion.terms(measured)[0]), atol=1e-5)
    assert not np.allclose(fused, unfused, atol=1e-3)
    assert EMOTIONS[int(fused.argmax())] == "happy"
    # The live views are fused too (the model plays it live), a single pass is not unless asked.
    assert not np.allclose(clf.predict(face, tta="hflip"), clf.predict(face, tta="hflip", fuse=False), atol=1e-3)
    assert np.allclose(clf.predict(face, tta=False), clf.predict(face, tta=False, fuse=False))


def test_a_damaged_or_missing_head_fails_at_load_with_a_clear_message(tmp_path, fused_model_dir):
    model_dir = tmp_path / "model"
    shutil.copytree(fused_model_dir, model_dir)
    head = model_dir / json.loads((model_dir / "metadata.json").read_text())["blendshape_fusion"]["head"]
    head.write_bytes(head.read_bytes()[:2000])
    with pytest.raises(ModelError, match="blendshape_head.npz cannot be read.*git checkout models/"):
        EmotionClassifier(model_dir)
    head.unlink()
    with pytest.raises(ModelError, match="blendshape_head.npz"):
        EmotionClassifier(model_dir)
    np.savez(head, names=np.array(["a"]), mean=np.zeros(1), variance=np.ones(1))
    with pytest.raises(ModelError, match="not a blendshape head"):
        BlendshapeHead(head)


@needs_video
def test_the_live_game_measures_a_few_frames_and_carries_their_fusion_to_the_same_face(analyzer, laugh_frame):
    measured = analyzer.analyze_many([laugh_frame], fuse=[True], now=100.0)[0]
    plain = analyzer.analyze_many([laugh_frame], fuse=[False], now=100.1)[0]  # nothing to carry from
    assert measured[0].fusion_terms is not None and plain[0].fusion_terms is None
    assert np.allclose(measured[0].probs, add_log_terms(plain[0].probs, measured[0].fusion_terms), atol=1e-5)
    carried = analyzer.analyze_many([laugh_frame], fuse=[False], previous=[measured], now=100.0 + FUSION_CARRY_S)[0]
    assert np.allclose(carried[0].probs, measured[0].probs, atol=1e-5) and carried[0].fused_at == 100.0
    stale = analyzer.analyze_many([laugh_frame], fuse=[False], previous=[measured], now=100.1 + FUSION_CARRY_S)[0]
    assert stale[0].fusion_terms is None
    elsewhere = [Face(box=(0, 0, 20, 20), probs=measured[0].probs, fusion_terms=measured[0].fusion_terms,
                      fused_at=100.0)]  # another face, far from this one: not lent
    lent = analyzer.analyze_many([laugh_frame], fuse=[False], previous=[elsewhere], now=100.2)[0]
    assert lent[0].fusion_terms is None
    busy = analyzer.analyze_many([laugh_frame], tta=False, fuse=[True], now=100.0)[0]  # busy: one pass, no fusion
    assert busy[0].fusion_terms is None


def test_a_trained_head_is_read_by_the_game_without_tensorflow_and_learned_its_classes(tmp_path, fused_model_dir):
    from facematch.pipeline.blendshapes import train_head

    names = load_classifier(fused_model_dir).fusion.head.names
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (len(EMOTIONS), len(names)))
    labels = np.repeat(np.arange(len(EMOTIONS)), 60)
    x = np.clip(centres[labels] + rng.normal(0, 0.05, (len(labels), len(names))), 0, 1).astype(np.float32)
    fit = train_head(x, labels, names, tmp_path / "head.npz", seed=1, hidden=(32,), dropout=0.1)
    head = BlendshapeHead(tmp_path / "head.npz")
    assert head.names == list(names) and fit["train_faces"] == 378
    assert (head.probs(x).argmax(1) == labels).mean() > 0.9
    assert np.allclose(head.probs(x), head.probs(x[:, head.mirror]))  # a face and its mirror image agree


@needs_video
def test_fitting_the_fusion_measures_once_and_a_dry_run_leaves_the_model_alone(tmp_path, analyzer):
    import av

    from facematch.pipeline.blendshapes import fit_fusion, measure_splits
    from facematch.pipeline.dataset import read_fer2013, write_dataset

    rows, index = ["emotion,pixels,Usage"], 0
    with av.open(str(VIDEO)) as container:  # the video's face: laughing from 11 s on, calmer before
        for frame in container.decode(video=0):
            t = float(frame.pts * frame.time_base)
            if t < 1.0 or abs(t * 4 - round(t * 4)) > 0.02:
                continue
            image = frame.to_ndarray(format="bgr24")
            face = laugh_crop(analyzer, image)[0]
            split = ("Training", "Training", "PublicTest", "PrivateTest")[index % 4]
            rows.append(f"{3 if 11.0 <= t <= 19.5 else 6},{' '.join(map(str, face.ravel()))},{split}")
            index += 1
    (tmp_path / "faces.csv").write_text("\n".join(rows) + "\n")
    processed = tmp_path / "processed"
    write_dataset(read_fer2013(tmp_path / "faces.csv", progress=False), processed, tmp_path / "faces.csv")
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}

    report = fit_fusion(model_dir, processed, tmp_path / "cache", write=False, progress=False)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert report["landmarker_found"] > 0.9 and report["weight"] > 0 and set(report["gains"]) == {"predict", "live"}
    cached = tmp_path / "cache" / "Training.npz"
    stamp = cached.stat().st_mtime_ns
    again = measure_splits(processed, tmp_path / "cache", ("Training",), progress=False)
    assert cached.stat().st_mtime_ns == stamp and again["Training"]["found"].mean() > 0.9
