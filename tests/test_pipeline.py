"""The whole retraining chain on a generated CSV, through the real `facematch` commands, with tiny settings.

Every step reads model directories and writes a new one (the pipeline is a DAG: nothing is edited in place)."""

import json
import shutil

import numpy as np
import pytest
from test_e2e_browser import write_still_y4m

from conftest import VIDEO, needs_video, run_command
from facematch import EMOTIONS
from facematch.model_spec import VIEW_SETS, plain, read_spec, view_keys, write_model_dir
from facematch.pipeline.dataset import load_split
from facematch.play.classifier import EmotionClassifier, load_classifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import write_csv

    root = tmp_path_factory.mktemp("chain")
    write_csv(root / "fer2013.csv", per_split=(70, 21, 21))
    processed, interim = root / "processed", root / "interim"
    trained_dir, model_dir = root / "models" / "tiny_trained", root / "models" / "tiny"
    run_command("dataset", root / "fer2013.csv", processed, "--quiet", check=True)
    run_command("visualize", processed, root / "figures", check=True)
    run_command("features", processed, interim, "--weights", "hed", "--quiet", check=True)
    train = run_command("train-head", interim, trained_dir, root / "logs", "--epochs", "3", check=True)
    evaluate = run_command("evaluate", trained_dir, processed, model_dir, check=True)
    return {"root": root, "processed": processed, "interim": interim, "model_dir": model_dir,
            "trained_dir": trained_dir, "train": train, "evaluate": evaluate}


def evaluated(model_dir, processed, tmp_path) -> str:
    """`facematch evaluate` into a new directory beside tmp_path; returns the card it wrote."""
    out = tmp_path / f"{model_dir.name}_evaluated"
    run_command("evaluate", model_dir, processed, out, check=True)
    return (out / "MODEL_CARD.md").read_text()


def test_chain_writes_model_spec_card_and_logs_each_step_into_a_new_directory(trained):
    model_dir, root = trained["model_dir"], trained["root"]
    for name in ("model.keras", "model.tflite", "spec.json", "evaluation.json", "confusion_matrix.png",
                 "confusion_matrix.json", "MODEL_CARD.md"):
        assert (model_dir / name).is_file(), name
    # The trained directory is the evaluation's input: only read, so it has no evaluation of its own.
    assert sorted(p.name for p in trained["trained_dir"].iterdir()) == ["model.keras", "model.tflite", "spec.json"]
    assert (root / "logs" / "training_log.csv").read_text().startswith("epoch")
    assert any((root / "logs" / "tensorboard").rglob("*tfevents*"))
    assert (root / "figures" / "class_counts.png").is_file() and (root / "figures" / "sample_faces.png").is_file()
    spec = read_spec(model_dir)
    assert spec.labels == EMOTIONS and spec.input_size == 48 and spec.views == "hflip"
    assert spec.provenance["training"]["config"]["seed"] == 1234
    assert spec.provenance["metrics"]["temperature"] > 0
    assert spec == read_spec(trained["trained_dir"])  # evaluating changes no field of the contract
    card = (model_dir / "MODEL_CARD.md").read_text()
    evaluation = json.loads((model_dir / "evaluation.json").read_text())
    private = evaluation["splits"]["PrivateTest"]["accuracy"]
    assert f"PrivateTest accuracy: {100 * private:.1f}%" in card
    # Facts about the data come from the evaluated dataset's manifest, not from fixed sentences.
    manifest = json.loads((trained["processed"] / "manifest.json").read_text())
    for split, info in manifest["splits"].items():
        assert f"| {split} | " + " | ".join(f"{n:,}" for n in info["class_counts"]) + " |" in card
    assert f"has {min(manifest['splits']['Training']['class_counts'])} Training images" in card
    assert "../shared" not in card


def test_features_are_cached(trained):
    again = run_command("features", trained["processed"], trained["interim"], "--quiet", check=True)
    assert "cached" in again.stderr


def test_saved_network_loads_without_code_and_matches_the_tflite(trained):
    import keras

    model = keras.saving.load_model(trained["model_dir"] / "model.keras", safe_mode=True)
    assert not any("lambda" in layer.__class__.__name__.lower() for layer in model._flatten_layers())
    faces = load_split(trained["processed"], "PrivateTest").images
    reference = model.predict(faces.astype(np.float32)[..., None], verbose=0)
    probs = load_classifier(trained["model_dir"]).predict(faces, "none")  # the bare network
    assert np.abs(probs - reference).max() < 0.02  # float16 weights
    assert (probs.argmax(1) == reference.argmax(1)).mean() > 0.9


def test_the_tiny_model_learned_the_generated_classes(trained):
    # The generated faces encode the label in a band position: far above chance (1/7) is expected.
    clf = load_classifier(trained["model_dir"])
    data = load_split(trained["processed"], "PrivateTest")
    assert (clf.predict(data.images).argmax(1) == data.labels).mean() > 0.4


def test_missing_features_and_bad_options_fail_with_one_line(tmp_path, trained):
    result = run_command("train-head", tmp_path / "none", tmp_path / "m", tmp_path / "l")
    assert result.returncode == 1 and "facematch features" in result.stderr and "Traceback" not in result.stderr
    result = run_command("features", tmp_path / "none", tmp_path / "i")
    assert result.returncode == 1 and "facematch dataset" in result.stderr
    result = run_command("features", trained["processed"], tmp_path / "i", "--weights", tmp_path / "x.h5")
    assert result.returncode == 1 and "not found" in result.stderr and "Traceback" not in result.stderr
    result = run_command("evaluate", tmp_path / "nomodel", trained["processed"], tmp_path / "out")
    assert result.returncode == 1 and "does not exist" in result.stderr
    # A step never edits its input: evaluating a model directory into itself is refused, untouched.
    before = sorted(p.name for p in trained["model_dir"].iterdir())
    result = run_command("evaluate", trained["model_dir"], trained["processed"], trained["model_dir"])
    assert result.returncode == 1 and "another output than its input" in result.stderr
    assert sorted(p.name for p in trained["model_dir"].iterdir()) == before


def test_a_model_of_the_wrong_shape_is_refused(trained, tmp_path):
    import shutil

    import keras

    from facematch.pipeline.modeling import export_tflite
    from facematch.play.classifier import ModelError

    inputs = keras.Input((32, 32, 1))
    wrong = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inputs)))
    model_dir = tmp_path / "wrong"
    model_dir.mkdir()
    shutil.copy(trained["model_dir"] / "spec.json", model_dir)
    export_tflite(wrong, model_dir / "model.tflite", "none")
    with pytest.raises(ModelError, match="spec.json says"):
        load_classifier(model_dir)
    result = run_command("evaluate", model_dir, trained["processed"], tmp_path / "out")
    assert result.returncode == 1 and "(N, 48, 48, 1)" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def finetuned(trained, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("finetune")
    work, logs, out = tmp_path / "work", tmp_path / "logs", tmp_path / "finetuned"
    args = ("finetune", trained["processed"], trained["model_dir"], work, logs, "--output", out,
            "--total-steps", "4", "--eval-every", "2", "--batch-size", "16", "--warmup-steps", "1",
            "--augmented-copies", "3")
    run_command(*args, check=True)
    return {"args": args, "work": work, "out": out, "root": tmp_path}


def test_finetuning_writes_a_loadable_model_with_views_and_weights_chosen_on_publictest(trained, finetuned):
    work, out = finetuned["work"], finetuned["out"]
    spec = read_spec(out)
    metadata = plain(spec.provenance)
    assert metadata["architecture"]["backbone_trainable"] is True
    assert metadata["training"]["finetune"]["evaluations_run"] == 2
    # The views predict() averages are chosen on PublicTest: the chosen ones score best there.
    by_tta = metadata["metrics"]["publictest_accuracy_by_tta"]
    assert set(by_tta) == set(VIEW_SETS) and by_tta[spec.views] == max(by_tta.values())
    # So are the weights: the best checkpoint or the average of the last evaluations' snapshots.
    run = metadata["training"]["finetune"]
    assert sorted(p.name for p in (work / "snapshots").iterdir()) == ["eval_01.weights.h5", "eval_02.weights.h5"]
    assert set(run["publictest_accuracy_by_weights"]) == {"best checkpoint", "average of evaluations 1-2"}
    assert run["publictest_accuracy_by_weights"][run["weights"]] == max(run["publictest_accuracy_by_weights"].values())
    probs = load_classifier(out).predict(load_split(trained["processed"], "PrivateTest").images)
    assert probs.shape == (21, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    evaluate = run_command("evaluate", out, trained["processed"], finetuned["root"] / "evaluated", check=True)
    card = (finetuned["root"] / "evaluated" / "MODEL_CARD.md").read_text()
    assert "fine-tuned" in card and "PrivateTest" in evaluate.stderr
    assert "chosen on PublicTest accuracy" in card


def test_a_finished_finetuning_run_is_not_trained_twice_nor_resumed_with_other_options(finetuned):
    args = finetuned["args"]
    again = run_command(*args, check=True)
    assert "done already" in again.stderr
    changed = run_command(*args[:-2], "--augmented-copies", "2")
    assert changed.returncode == 1 and "another configuration" in changed.stderr
    bad = run_command(*args[:-2], "--augmented-copies", "3", "--head-dropout", "1.5")
    assert bad.returncode == 1 and "head_dropout" in bad.stderr and "Traceback" not in bad.stderr


def test_a_second_finetuning_run_shares_the_cache_and_the_card_tells_both_runs_apart(trained, finetuned):
    args, work, out, tmp_path = finetuned["args"], finetuned["work"], finetuned["out"], finetuned["root"]
    second = tmp_path / "finetuned2"
    shared = ("--cache-dir", work / "cache")
    other = run_command("finetune", trained["processed"], out, tmp_path / "work3", tmp_path / "logs3",
                       *args[7:-2], "--augmented-copies", "2", *shared)  # not the versions cached there
    assert other.returncode == 1 and "holds activations of other" in other.stderr
    run_command("finetune", trained["processed"], out, tmp_path / "work2", tmp_path / "logs2",
               "--output", second, *args[7:], "--head-dropout", "0.2", *shared, check=True)
    assert not (tmp_path / "work2" / "cache").exists()  # same frozen layers and augmentation: shared
    card = evaluated(second, trained["processed"], tmp_path)
    assert "Fine-tuning run 2 of 2" in card and "head dropout 0.2" in card and "head dropout 0.5" in card
    assert card.count("| step | training accuracy") == 2


def test_whole_network_training_resumes_and_its_card_tells_the_recipe(trained, tmp_path):
    work, logs, out = tmp_path / "work", tmp_path / "logs", tmp_path / "network"
    args = ("train", trained["processed"], work, logs, "--output", out, "--epochs", "2",
            "--batch-size", "16", "--precision", "float32")
    run_command(*args, check=True)
    training = plain(read_spec(out).provenance["training"])
    assert training["recipe"] == "whole network end to end" and training["precision"] == "float32"
    assert training["epochs_run"] == 2 and [h["epoch"] for h in training["history"]] == [1, 2]
    assert training["publictest_accuracy_by_weights"][training["weights"]] == max(
        training["publictest_accuracy_by_weights"].values())
    again = run_command(*args, check=True)  # a finished run is not trained twice
    assert "done already" in again.stderr
    changed = run_command(*args[:-2], "--precision", "mixed_bfloat16")
    assert changed.returncode == 1 and "another configuration" in changed.stderr and "Traceback" not in changed.stderr
    card = evaluated(out, trained["processed"], tmp_path)
    assert "The whole network" in card and "| epoch | training accuracy" in card and "`float32`" in card


def test_a_shipped_tflite_rebuilds_into_keras_and_whole_network_training_continues_from_it(trained, tmp_path):
    import shutil

    import keras

    shipped, start = tmp_path / "shipped", tmp_path / "start"
    shutil.copytree(trained["model_dir"], shipped, ignore=shutil.ignore_patterns("model.keras"))
    run_command("recover-keras", shipped, start, "--check", trained["processed"], check=True)
    assert not (shipped / "model.keras").exists()  # its input is only read
    faces = load_split(trained["processed"], "PrivateTest").images
    rebuilt = keras.saving.load_model(start / "model.keras", safe_mode=True).predict(
        faces[..., None].astype(np.float32), verbose=0)
    tflite = load_classifier(shipped).predict(faces, "none")
    assert np.abs(rebuilt - tflite).max() < 0.02 and (rebuilt.argmax(1) == tflite.argmax(1)).all()
    out = tmp_path / "continued"
    run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--output", out,
               "--init-model", start, "--epochs", "1", "--batch-size", "16", "--precision", "float32", check=True)
    card = evaluated(out, trained["processed"], tmp_path)
    assert "Head trained on cached bottleneck features" in card and "Then the whole network" in card


def test_class_offsets_are_fitted_on_publictest_and_the_card_tells_them(trained, tmp_path):
    model_dir, fitted_dir = trained["model_dir"], tmp_path / "offsets"
    fit = run_command("fit-offsets", model_dir, trained["processed"], fitted_dir, "--classes", "fear", "sad",
                      "--max-accuracy-drop", "0.5", check=True)
    fitted = json.loads(fit.stdout)
    spec = read_spec(fitted_dir)
    assert dict(spec.class_offsets) == fitted["offsets"]
    assert read_spec(model_dir).class_offsets == {}  # the input keeps its own
    for name in ("fear", "sad"):  # neither named class may lose
        assert fitted["recall_after"][name] >= fitted["recall_before"][name]
    assert fitted["accuracy_after"] >= fitted["accuracy_before"] - 0.5
    card = evaluated(fitted_dir, trained["processed"], tmp_path)
    assert ("Class offsets" in card) == bool(fitted["offsets"])

    def with_offsets(offsets: dict, fit: dict, name: str):
        """A model directory with these offsets and this record of their fit (as fit-offsets writes one)."""
        metrics = {**plain(spec.provenance["metrics"]), "class_offsets_fit": fit}
        return write_model_dir(fitted_dir, tmp_path / name, spec.replace(class_offsets=offsets,
                                                                            provenance={"metrics": metrics}))

    # Offsets a model carries are told in its card, with what they bought on PublicTest.
    told = with_offsets({"fear": 0.3}, {**fitted, "recall_before": {"fear": 0.4}, "recall_after": {"fear": 0.5}},
                        "told")
    card = evaluated(told, trained["processed"], tmp_path)
    assert "Class offsets added to the log-probabilities" in card and "fear +0.30" in card
    assert "fear recall 40.0% → 50.0%" in card
    bad = run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "x", "--classes", "scared")
    assert bad.returncode == 1 and "unknown classes ['scared']" in bad.stderr
    # A floor no offsets can reach (another judge's recall): nothing is shifted.
    out_of_reach = json.loads(run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "y",
                                          "--classes", "fear", "--floor", "fear=1.01", check=True).stdout)
    assert out_of_reach["offsets"] == {} and out_of_reach["floors"] == {"fear": 1.01}
    bad = run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "z", "--floor", "fear=high")
    assert bad.returncode == 1 and "CLASS=RECALL" in bad.stderr and "Traceback" not in bad.stderr
    # A recall target met at the best accuracy, on predict() and on the live path the game plays.
    best = json.loads(run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "best",
                                  "--classes", "fear", "--floor", "fear=0", "--maximise", "accuracy",
                                  check=True).stdout)
    assert best["maximise"] == "accuracy" and best["live"]["views"] == "none"
    # What is maximised is the two paths' accuracy together: it cannot be below no shift at all.
    assert (best["accuracy_after"] + best["live"]["accuracy_after"]
            >= best["accuracy_before"] + best["live"]["accuracy_before"])
    # Offsets bound not to move the verdicts of enlarged faces more than no offsets do, on either path.
    steady = json.loads(run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "steady",
                                    "--classes", "fear", "--floor", "fear=0", "--maximise", "accuracy",
                                    "--keep-agreement", check=True).stdout)
    for path in (steady, steady["live"]):
        assert set(path["agreement"]) == {"96 px bilinear", "96 px bicubic"}
        assert all(a["after"] >= a["before"] for a in path["agreement"].values())
    card = evaluated(tmp_path / "steady", trained["processed"], tmp_path)
    assert ("96 px bicubic agreement" in card) == bool(steady["offsets"])
    # Or floors of its own (another judge's agreement), for some paths: the rest keep their own.
    floored = json.loads(run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "floored",
                                     "--classes", "fear", "--floor", "fear=0", "--maximise", "accuracy",
                                     "--agreement-floor", "live-bicubic=0.5", check=True).stdout)
    assert floored["live"]["agreement"]["96 px bicubic"]["floor"] == 0.5
    assert "floor" not in floored["agreement"]["96 px bicubic"]
    assert floored["live"]["agreement"]["96 px bicubic"]["after"] >= 0.5
    bad = run_command("fit-offsets", model_dir, trained["processed"], tmp_path / "x", "--agreement-floor", "area=0.9")
    assert bad.returncode == 1 and "unknown agreement floors ['area']" in bad.stderr and "Traceback" not in bad.stderr
    floors = with_offsets({"fear": 0.4}, {
        **best, "floors": {"fear": 0.57}, "recall_before": {"fear": 0.5}, "recall_after": {"fear": 0.6},
        "live": {**best["live"], "recall_before": {"fear": 0.45}, "recall_after": {"fear": 0.58}}}, "floors")
    card = evaluated(floors, trained["processed"], tmp_path)
    assert "for the best accuracy that keeps fear recall ≥ 57.0% on `predict()` and as played live" in card
    assert "fear recall 50.0% → 60.0%" in card and "as played live (one pass)" in card and "45.0% → 58.0%" in card
    # predict()'s own offsets (R35): fitted and bounded on its views alone; the live game keeps those it played.
    own_dir = tmp_path / "own"
    own = json.loads(run_command("fit-offsets", floors, trained["processed"], own_dir, "--classes", "fear", "--floor",
                                 "fear=0", "--maximise", "accuracy", "--path", "predict", check=True).stdout)
    own_spec = read_spec(own_dir)
    assert own["path"] == "predict" and dict(own_spec.class_offsets) == own["offsets"]
    assert dict(own_spec.live_class_offsets) == own["live_offsets"] == {"fear": 0.4}
    assert own["accuracy_after"] >= own["accuracy_before"]  # maximised on predict() alone
    card = evaluated(own_dir, trained["processed"], tmp_path)
    assert "fear recall ≥ 0.0% on `predict()` alone" in card and "(one pass, its own offsets)" in card
    assert "keeps offsets of its own" in card and "fitted alone: fear +0.40" in card
    # The card's live figures are played with the live game's offsets, as the fit measured them.
    publictest = json.loads((tmp_path / "own_evaluated" / "evaluation.json").read_text())["splits"]["PublicTest"]
    assert publictest["live"]["accuracy"] == pytest.approx(own["live"]["accuracy_after"])
    assert publictest["single_pass"]["accuracy"] == pytest.approx(own["live"]["accuracy_after"])  # live: one pass
    same = write_model_dir(fitted_dir, tmp_path / "same", spec.replace(live_views=spec.views))
    bad = run_command("fit-offsets", same, trained["processed"], tmp_path / "x", "--path", "predict")
    assert bad.returncode == 1 and "one set of offsets serves both" in bad.stderr and "Traceback" not in bad.stderr


def test_the_live_views_are_chosen_on_publictest_and_the_card_tells_what_the_game_plays(trained, tmp_path):
    model_dir, live_dir = trained["model_dir"], tmp_path / "live"
    chosen = json.loads(run_command("choose-views", model_dir, trained["processed"], live_dir, "--min-gain", "-1",
                                    check=True).stdout)
    assert chosen["chosen"] == "hflip"  # a negative bar takes the dearer candidate whatever it scores
    assert read_spec(live_dir).live_views == "hflip" and read_spec(model_dir).live_views == "none"
    out = tmp_path / "evaluated"
    run_command("evaluate", live_dir, trained["processed"], out, check=True)
    card = (out / "MODEL_CARD.md").read_text()
    assert "The live game plays the face and its mirror image per frame (2 views)" in card
    live = json.loads((out / "evaluation.json").read_text())["splits"]["PrivateTest"]["live"]
    assert live["views"] == "hflip" and 0 <= live["accuracy"] <= 1
    chosen = json.loads(run_command("choose-views", live_dir, trained["processed"], tmp_path / "again",
                                    "--min-gain", "1", check=True).stdout)
    assert chosen["chosen"] == "none"  # nothing beats a single pass by 100 points



def test_predicts_views_are_chosen_again_among_every_set_and_the_live_game_plays_what_it_did(trained, tmp_path):
    model_dir, processed = trained["model_dir"], trained["processed"]
    spec = read_spec(model_dir)
    start = write_model_dir(model_dir, tmp_path / "start", spec.replace(
        views="hflip+shift2", live_views="hflip", class_offsets={"fear": 0.4}))
    chosen = json.loads(run_command("choose-views", start, processed, tmp_path / "views", "--path", "predict",
                                    check=True).stdout)
    by_views = chosen["publictest_accuracy"]
    assert set(by_views) == {m for m in VIEW_SETS if m != "none"}  # those that hold the live views
    assert chosen["chosen"] == max(by_views, key=lambda m: (by_views[m], -len(view_keys(m))))
    new = read_spec(tmp_path / "views")
    assert new.views == chosen["chosen"] and new.view_temperature == spec.view_temperature  # the live game's too
    assert read_spec(start).views == "hflip+shift2"  # the input is only read
    faces = load_split(processed, "PublicTest").images[:20]
    before, after = EmotionClassifier(start), EmotionClassifier(tmp_path / "views")
    assert new.live_views == "hflip" and np.array_equal(before.predict(faces, "hflip"), after.predict(faces, "hflip"))
    assert np.array_equal(before.predict(faces, "none"), after.predict(faces, "none"))  # a busy server's pass too

def test_the_low_pass_is_chosen_on_publictest_and_the_card_tells_it_and_the_resampling_agreement(trained, tmp_path):
    model_dir, smooth_dir = trained["model_dir"], tmp_path / "smooth"
    chosen = json.loads(run_command("choose-low-pass", model_dir, trained["processed"], smooth_dir,
                                    "--candidates", "0.125", "0.25", "--max-accuracy-drop", "1", check=True).stdout)
    scores = chosen["publictest"]
    assert set(scores) == {"0.0", "0.125", "0.25"}
    # With any accuracy allowed, the best agreement wins (the smallest a among equals).
    best = max(v["mean_agreement"] for v in scores.values())
    assert chosen["chosen"] == min(float(a) for a, v in scores.items() if v["mean_agreement"] == best)
    assert read_spec(smooth_dir).low_pass == chosen["chosen"] and read_spec(model_dir).low_pass == 0
    strict = json.loads(run_command("choose-low-pass", model_dir, trained["processed"], tmp_path / "strict",
                                    "--candidates", "0.25", "--max-accuracy-drop", "-1", check=True).stdout)
    assert strict["chosen"] == 0.0  # none is always allowed, and nothing else when no loss is allowed
    forced = tmp_path / "forced"
    write_model_dir(smooth_dir, forced, read_spec(smooth_dir).replace(low_pass=0.25))
    card = evaluated(forced, trained["processed"], tmp_path)
    assert "smoothed by the 3-tap kernel [0.25, 0.5, 0.25]" in card and "rule R7" in card
    agreement = json.loads((tmp_path / "forced_evaluated" / "evaluation.json").read_text())
    private = agreement["splits"]["PrivateTest"]["resampling_agreement"]
    assert set(private) == {"96 px bilinear", "96 px bicubic", "72 px bilinear", "160 px bicubic"}
    assert all(0 <= v <= 1 for e in private.values() for v in (e["predict"], e["live"]))
    assert "| PrivateTest | " + f"{100 * private['96 px bilinear']['predict']:.1f}%" in card


@needs_video
def test_the_downscale_is_chosen_on_publictest_and_the_card_states_the_interpolation(trained, tmp_path):
    model_dir, out = trained["model_dir"], tmp_path / "downscaled"
    chosen = json.loads(run_command("choose-downscale", model_dir, trained["processed"], out, "--candidates", "area",
                                    "area2x-cubic", "--sharpen", "0", "0.05", "--rank", "worst", "--video", VIDEO,
                                    check=True).stdout)
    scores = chosen["publictest"]
    assert set(scores) == {"area", "area2x-cubic", "area, sharpen 0.05", "area2x-cubic, sharpen 0.05"}
    assert chosen["real_faces"] > 10
    best = max((v["worst_agreement"], v["mean_agreement"]) for v in scores.values())
    assert (scores[chosen["chosen"]]["worst_agreement"], scores[chosen["chosen"]]["mean_agreement"]) == best
    assert scores["area"]["real_faces_live_same_as_area"] == 1.0  # the record's baseline is area itself
    assert 0 <= scores["area2x-cubic, sharpen 0.05"]["real_faces_live_same_as_area"] <= 1
    spec = read_spec(out)
    assert (spec.downscale, spec.sharpen) == (chosen["downscale"], chosen["sharpen"])
    assert read_spec(model_dir).downscale == "area" and read_spec(model_dir).sharpen == 0
    forced = tmp_path / "forced"
    write_model_dir(out, forced, spec.replace(downscale="area2x-cubic", sharpen=0.05))
    card = evaluated(forced, trained["processed"], tmp_path)
    assert ("A crop larger than 48 px is shrunk by pixel-area averaging (OpenCV `INTER_AREA`) to 96 px where it is "
            "larger, then bicubic (`INTER_CUBIC`) to 48 px, then sharpened by the 3-tap kernel [-0.05, 1.1, -0.05]"
            ) in card and "rule R24: the best lowest agreement" in card
    assert f"faces of {VIDEO.name} (real camera crops)" in card  # how the judge changes for real players
    assert "is shrunk by pixel-area averaging (OpenCV `INTER_AREA`); a smaller one" in evaluated(
        model_dir, trained["processed"], tmp_path / "plain")
    nothing = tmp_path / "no_face.y4m"
    write_still_y4m(np.full((480, 640, 3), 128, np.uint8), nothing, frames=10)
    failed = run_command("choose-downscale", model_dir, trained["processed"], tmp_path / "x", "--video", nothing)
    assert failed.returncode != 0 and "no face found in" in failed.stderr and not (tmp_path / "x").exists()
    failed = run_command("choose-downscale", model_dir, trained["processed"], tmp_path / "y", "--sharpen", "0.5")
    assert failed.returncode != 0 and "sharpen: 0.5" in failed.stderr and not (tmp_path / "y").exists()


def warm_restart_keeps_weights(trained, tmp_path, start, *options):
    """A second cycle from `start` at a learning rate of ~0 (`facematch train … --init-model`): its learned weights
    stay the first network's (its batch-norm statistics do move). Returns the restarted model directory."""
    import keras

    restarted = tmp_path / f"{start.name}_restarted"
    run_command("train", trained["processed"], tmp_path / "work_r", tmp_path / "logs_r", "--output", restarted,
               *options, "--epochs", "1", "--batch-size", "16", "--learning-rate", "1e-12", "--precision", "float32",
               "--init-model", start, check=True)
    first, second = ([w.numpy() for w in keras.saving.load_model(d / "model.keras", safe_mode=True).trainable_weights]
                     for d in (start, restarted))
    assert len(first) == len(second) > 10 and all(np.allclose(a, b, atol=1e-6) for a, b in zip(first, second))
    return restarted


def test_compact_networks_train_from_scratch_and_sum_with_the_vgg16_one_into_one_judge(trained, tmp_path):
    import keras

    from facematch.pipeline.calibration import softmax

    compact = tmp_path / "compact"
    run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--output", compact,
               "--architecture", "compact", "--crop", "40", "--epochs", "2", "--batch-size", "16",
               "--learning-rate", "1e-3", "--precision", "float32", check=True)
    card = evaluated(compact, trained["processed"], tmp_path)
    assert "trained from scratch" in card and "centre 40 px" in card and "| epoch | training accuracy" in card
    compact2 = tmp_path / "compact2"  # another seed and a narrower network: the judge's third network
    run_command("train", trained["processed"], tmp_path / "work2", tmp_path / "logs2", "--output", compact2,
               "--architecture", "compact", "--crop", "40", "--epochs", "1", "--batch-size", "16",
               "--learning-rate", "1e-3", "--precision", "float32", "--seed", "7", "--width", "8",
               "--teacher", trained["model_dir"], "--distill", "0.7", check=True)
    assert "widths [8, 16, 32, 64]" in read_spec(compact2).provenance["architecture"]["backbone"]
    # Distilled: the teacher's probabilities were computed once, for every Training face, and the card says so.
    teacher = np.load(tmp_path / "work2" / "teacher.npz")
    assert teacher["probs"].shape == (len(load_split(trained["processed"], "Training").labels), 7)
    assert str(teacher["model_id"]) == load_classifier(trained["model_dir"]).model_id
    assert "Distilled from the judge" in evaluated(compact2, trained["processed"], tmp_path)
    # A warm restart: a second cycle starts from the first network's weights (at a learning rate of ~0 its
    # learned weights stay the first network's; its batch-norm statistics do move, so its verdicts on 21 faces
    # of a barely trained network are not compared), and a network of other widths is refused in one line.
    restarted = warm_restart_keeps_weights(trained, tmp_path, compact, "--architecture", "compact", "--crop", "40")
    # Its card tells both cycles, each with its learning curve, since the first network's card does not ship.
    card = evaluated(restarted, trained["processed"], tmp_path)
    assert "warm restart" in card and "**The cycle before** (`compact`): " in card and "from scratch" in card
    assert card.count("| epoch | training accuracy") == 2
    bad = run_command("train", trained["processed"], tmp_path / "work_r8", tmp_path / "logs_r8", "--architecture",
                     "compact", "--width", "8", "--epochs", "1", "--precision", "float32", "--init-model", compact)
    assert bad.returncode == 1 and "other widths" in bad.stderr and "Traceback" not in bad.stderr

    judge = tmp_path / "judge"
    result = run_command("ensemble", trained["model_dir"], compact, compact2, trained["processed"], judge,
                        check=True)
    metadata = plain(read_spec(judge).provenance)
    spec = metadata["ensemble"]
    scores = {float(s): v[spec["views_compared"]] for s, v in spec["publictest_accuracy_by_share"].items()}
    assert scores[spec["share"]] == max(scores.values())  # the share is PublicTest's best (the smallest such)
    assert spec["share"] == min(s for s, v in scores.items() if v == max(scores.values()))
    assert f'"share": {spec["share"]}' in result.stdout
    assert spec["member_shares"] == pytest.approx([1 - spec["share"], spec["share"] / 2, spec["share"] / 2], abs=1e-4)
    # What the judge says is the networks' logits summed with their shares, one temperature, a softmax.
    faces = load_split(trained["processed"], "PrivateTest").images
    x = faces[..., None].astype(np.float32)
    members = [keras.saving.load_model(d / "model.keras", safe_mode=True)
               for d in (trained["model_dir"], compact, compact2)]
    logits = [keras.Model(m.input, m.get_layer("temperature").output).predict(x, verbose=0) for m in members]
    expected = softmax(sum(w * z for w, z in zip(spec["member_shares"], logits)) / metadata["metrics"]["temperature"])
    assert np.abs(load_classifier(judge).predict(faces, "none") - expected).max() < 0.02
    card = evaluated(judge, trained["processed"], tmp_path)
    assert "The judge is three networks in one model" in card
    assert "### The second network (`compact`)" in card and "### The third network (`compact2`)" in card
    # A checkout has only the .tflite: its VGG16 network rebuilds, to train further (make network).
    shipped = tmp_path / "shipped"
    shutil.copytree(judge, shipped, ignore=shutil.ignore_patterns("model.keras"))
    run_command("recover-keras", shipped, tmp_path / "start", check=True)
    rebuilt = keras.saving.load_model(tmp_path / "start" / "model.keras", safe_mode=True).predict(x, verbose=0)
    assert np.abs(rebuilt - members[0].predict(x, verbose=0)).max() < 0.02
    again = run_command("ensemble", judge, compact, trained["processed"], tmp_path / "again")
    assert again.returncode == 1 and "single network" in again.stderr and "Traceback" not in again.stderr
    bare = tmp_path / "bare_compact"  # only the .tflite: the compact network cannot be rebuilt from it
    shutil.copytree(compact, bare, ignore=shutil.ignore_patterns("model.keras"))
    again = run_command("ensemble", trained["model_dir"], bare, trained["processed"], tmp_path / "again")
    assert again.returncode == 1 and "train --architecture compact" in again.stderr
    assert "Traceback" not in again.stderr
    bad = run_command("train", trained["processed"], tmp_path / "w2", tmp_path / "l2", "--architecture",
                     "resnet")
    assert bad.returncode == 1 and "vgg16, compact or residual" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_command("train", trained["processed"], tmp_path / "w3", tmp_path / "l3", "--architecture",
                     "compact", "--width", "2")
    assert bad.returncode == 1 and "between 4 and 256" in bad.stderr and "Traceback" not in bad.stderr


def test_a_residual_network_trains_from_scratch_plays_as_a_judge_and_restarts_warm(trained, tmp_path):

    residual = tmp_path / "residual"
    run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--output", residual,
               "--architecture", "residual", "--width", "4", "--epochs", "1", "--batch-size", "16",
               "--precision", "float32", check=True)
    spec = read_spec(residual)
    assert "ResNet basic blocks" in spec.provenance["architecture"]["backbone"]
    assert "widths [4, 8, 16, 32]" in spec.provenance["architecture"]["backbone"]
    faces = load_split(trained["processed"], "PublicTest").images[:5]
    probs = load_classifier(residual).predict(faces)  # the int8 LiteRT file the game would play
    assert probs.shape == (5, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
    card = evaluated(residual, trained["processed"], tmp_path)
    assert "The residual network was trained from scratch" in card and "dropout 0.5 before the logits" in card
    restarted = warm_restart_keeps_weights(trained, tmp_path, residual, "--architecture", "residual", "--width", "4")
    assert "**The cycle before** (`residual`): " in evaluated(restarted, trained["processed"], tmp_path)
    bad = run_command("train", trained["processed"], tmp_path / "work_c", tmp_path / "logs_c", "--architecture",
                     "compact", "--width", "4", "--epochs", "1", "--precision", "float32", "--init-model", residual)
    assert bad.returncode == 1 and "not a compact network's model directory" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_distillation_targets_mix_the_teachers_probabilities_with_the_label():
    from facematch.pipeline.configs import NetworkConfig
    from facematch.pipeline.network import training_dataset

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 48, 48), dtype=np.uint8)
    labels = np.arange(8) % 7
    soft = rng.dirichlet(np.ones(7), 8).astype(np.float32)
    config = NetworkConfig(architecture="compact", batch_size=8, distill=0.7, class_weight="none")
    _, targets, _ = next(iter(training_dataset(images, labels, config, soft)))
    expected = 0.7 * soft + 0.3 * np.eye(7)[labels]
    distance = np.abs(targets.numpy()[:, None, :] - expected[None, :, :]).max(axis=-1)  # batch row × image
    assert distance.min(axis=1).max() < 1e-5 and distance.min(axis=0).max() < 1e-5  # shuffled, each one there


def test_a_boosted_class_weighs_more_in_each_batch_and_mistyped_options_are_refused_before_training(trained, tmp_path):
    from facematch.pipeline.configs import NetworkConfig
    from facematch.pipeline.network import training_dataset

    images = np.zeros((14, 48, 48), dtype=np.uint8)
    labels = np.arange(14) % 7
    config = NetworkConfig(architecture="compact", batch_size=14, class_weight="none", class_boost="fear=2, sad=1.5")
    _, targets, weights = next(iter(training_dataset(images, labels, config)))
    by_label = dict(zip(targets.numpy().argmax(axis=1), weights.numpy()))
    assert by_label == {0: 1.0, 1: 1.0, 2: 2.0, 3: 1.0, 4: 1.5, 5: 1.0, 6: 1.0}
    result = run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--architecture",
                         "compact", "--class-boost", "feer=2")
    assert result.returncode == 1 and "'feer=2'" in result.stderr and "Traceback" not in result.stderr
    result = run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--architecture",
                         "compact", "--optimizer", "adam")
    assert result.returncode == 1 and "adamw, sgd" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "work").exists()


def test_training_faces_are_smoothed_as_predict_smooths_them_and_resampled_on_request():
    from facematch.pipeline.configs import NetworkConfig
    from facematch.pipeline.network import training_dataset
    from facematch.play.classifier import low_pass

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (8, 48, 48), dtype=np.uint8)
    labels = np.arange(8) % 7
    still = dict(architecture="compact", batch_size=8, class_weight="none", shift=0.0, rotation=0.0, zoom=0.0,
                 contrast=0.0, erase=0.0, precision="float32")
    smoothed = low_pass(images[..., None].astype(np.float32), 0.25)[..., 0]
    faces = next(iter(training_dataset(images, labels, NetworkConfig(**still, low_pass=0.25))))[0].numpy()[..., 0]
    # Each training face is one of the smoothed faces or its mirror image (the flip is the only augmentation left).
    for face in faces:
        distance = min(np.abs(face[None] - smoothed).max(axis=(1, 2)).min(),
                       np.abs(face[None] - smoothed[:, :, ::-1]).max(axis=(1, 2)).min())
        assert distance < 1e-3
    resampled = next(iter(training_dataset(images, labels, NetworkConfig(**still, resample=1.0))))[0].numpy()[..., 0]
    originals = np.concatenate([images, images[:, :, ::-1]]).astype(np.float32)
    nearest = [np.abs(face[None] - originals).mean(axis=(1, 2)).min() for face in resampled]
    assert min(nearest) > 1.0  # every face went to another size and back: none is its sharp original
    assert resampled.min() >= 0 and resampled.max() <= 255.5


def test_consistency_training_pairs_each_face_with_its_resized_twin_and_asks_both_for_one_verdict():
    import cv2
    import keras

    from facematch.pipeline.augmentation import PairedConsistency
    from facematch.pipeline.configs import NetworkConfig
    from facematch.pipeline.network import training_dataset

    rng = np.random.default_rng(2)
    images = cv2.GaussianBlur(rng.integers(0, 256, (8 * 48, 48), dtype=np.uint8), (5, 5), 0).reshape(8, 48, 48)
    labels = np.arange(8) % 7
    still = dict(architecture="compact", batch_size=8, class_weight="none", shift=0.0, rotation=0.0, zoom=0.0,
                 contrast=0.0, erase=0.0, precision="float32")
    x, target, weight = (t.numpy() for t in next(iter(training_dataset(images, labels,
                                                                       NetworkConfig(**still, consistency=1.0)))))
    assert x.shape == (16, 48, 48, 1) and np.array_equal(target[:8], target[8:]) and len(weight) == 16
    face, twin = x[:8, ..., 0], x[8:, ..., 0]
    originals = np.concatenate([images, images[:, :, ::-1]]).astype(np.float32)
    assert max(np.abs(f[None] - originals).max(axis=(1, 2)).min() for f in face) < 1e-3  # the faces themselves
    change = np.abs(twin - face).mean(axis=(1, 2))
    assert 0 < change.min() and change.max() < 12  # each twin is its face resized, not another face
    # The loss: the plain cross-entropy when a face and its twin get one verdict, more when they part.
    loss, plain = PairedConsistency(2.0), keras.losses.CategoricalCrossentropy(from_logits=True)
    y = keras.utils.to_categorical([0, 3, 0, 3], 7)
    same = np.array([[2.0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 3, 0, 1, 0]] * 2, np.float32)
    assert abs(float(loss(y, same)) - float(plain(y, same))) < 1e-5
    parted = same.copy()
    parted[2:] = parted[2:, ::-1]
    assert float(loss(y, parted)) > float(plain(y, parted)) + 0.1


def test_a_network_trains_with_the_paired_consistency_loss_and_its_card_says_so(trained, tmp_path):
    paired = tmp_path / "paired"
    run_command("train", trained["processed"], tmp_path / "work", tmp_path / "logs", "--output", paired,
               "--architecture", "compact", "--crop", "40", "--epochs", "1", "--batch-size", "16", "--width", "8",
               "--precision", "float32", "--consistency", "1.0", "--class-boost", "fear=2", "--optimizer", "sgd",
               "--learning-rate", "0.01", check=True)
    card = evaluated(paired, trained["processed"], tmp_path)
    assert "the loss added 1.0 × the symmetric KL divergence between the predictions for the face and" in card
    assert "class weights `sqrt` multiplied by `fear=2`" in card
    assert "The loss uses class weights `sqrt` (√(n / (7 · count)), multiplied by `fear=2`): " in card
    assert "SGD with Nesterov momentum 0.9 (weight decay" in card
    bad = run_command("train", trained["processed"], tmp_path / "work_bad", tmp_path / "logs_bad", "--architecture",
                      "compact", "--epochs", "1", "--precision", "float32", "--consistency", "-1")
    assert bad.returncode == 1 and "consistency ≥ 0" in bad.stderr and "Traceback" not in bad.stderr


def test_a_network_is_added_to_a_judge_that_exists_only_as_its_tflite(trained, tmp_path):
    import keras

    from facematch.pipeline.calibration import softmax
    from facematch.pipeline.ensemble import combine
    from facematch.pipeline.recover import rebuild_members
    from facematch.play.classifier import low_pass

    def train(name: str, *options):
        out = tmp_path / name
        run_command("train", trained["processed"], tmp_path / f"work_{name}", tmp_path / f"logs_{name}",
                    "--output", out, "--architecture", "compact", "--crop", "40", "--epochs", "1", "--batch-size",
                    "16", "--learning-rate", "1e-3", "--precision", "float32", "--width", "8", *options, check=True)
        return out

    compact, smooth = train("compact", "--seed", "3"), train("smooth", "--seed", "4", "--resample", "0.5",
                                                              "--low-pass", "0.125")
    assert read_spec(smooth).low_pass == 0.125
    card = evaluated(smooth, trained["processed"], tmp_path)
    assert "resampled to a random 32-160 px" in card and "smoothed by the judge's low-pass [0.125, 0.75, 0.125]" in card
    two = tmp_path / "two"
    run_command("ensemble", trained["model_dir"], compact, trained["processed"], two, check=True)
    judge = tmp_path / "judge"  # the judge as a checkout has it: its .tflite, smoothed, no Keras files
    # Its views the dearest (hflip+shift2), which a tiny network's sum is unlikely to need: --keep-views keeps them.
    write_model_dir(two, judge, read_spec(two).replace(low_pass=0.125, views="hflip+shift2"), keep=("model.tflite",))
    assert not (judge / "model.keras").exists()
    # A share given, so that the network is surely in the .tflite (a tiny network's best share may be 0).
    result = run_command("add-network", judge, smooth, trained["processed"], tmp_path / "three", "--shares", "0.4",
                         "--keep-views", check=True)
    assert '"share"' in result.stdout
    assert read_spec(tmp_path / "three").views == "hflip+shift2"
    metadata = plain(read_spec(tmp_path / "three").provenance)
    old, added = read_spec(judge).provenance["ensemble"]["member_shares"], metadata["ensemble"]["added"]
    s = added["share"]
    assert s == 0.4 and list(added["publictest_accuracy_by_share"]) == ["0.4"]
    assert metadata["ensemble"]["member_shares"] == pytest.approx([(1 - s) * w for w in old] + [s], abs=1e-4)
    assert read_spec(tmp_path / "three").low_pass == 0.125 and not read_spec(tmp_path / "three").class_offsets
    # It judges as the three trained networks' logits, of the smoothed face, summed with those shares.
    faces = load_split(trained["processed"], "PrivateTest").images
    x = low_pass(faces[..., None].astype(np.float32), 0.125)
    members = [keras.saving.load_model(d / "model.keras", safe_mode=True)
               for d in (trained["model_dir"], compact, smooth)]
    logits = [keras.Model(m.input, m.get_layer("temperature").output).predict(x, verbose=0) for m in members]
    expected = softmax(sum(w * z for w, z in zip(metadata["ensemble"]["member_shares"], logits))
                       / metadata["metrics"]["temperature"])
    judged = load_classifier(tmp_path / "three").predict(faces, "none", offsets=False)
    assert np.abs(judged - expected).max() < 0.02
    # And the three-network judge rebuilds from its own .tflite again (a network can be added to it in turn).
    networks, shares, temperature = rebuild_members(tmp_path / "three")
    assert len(networks) == 3 and networks[2] is not None
    assert shares == pytest.approx(metadata["ensemble"]["member_shares"])
    assert np.abs(combine(networks, shares, temperature).predict(x, verbose=0) - judged).max() < 0.02
    four = tmp_path / "four"  # its rebuilt networks' weights are named otherwise in the .tflite that add-network wrote
    run_command("add-network", tmp_path / "three", train("fourth", "--seed", "5"), trained["processed"], four,
                "--shares", "0.3", check=True)
    networks, shares, temperature = rebuild_members(four)
    assert len(networks) == 4 and networks[2] is not None and networks[3] is not None
    assert np.abs(combine(networks, shares, temperature).predict(x, verbose=0)
                  - load_classifier(four).predict(faces, "none", offsets=False)).max() < 0.02
    card = evaluated(tmp_path / "three", trained["processed"], tmp_path)
    assert "The judge is three networks in one model" in card and "The third network was added later" in card
    assert "`hflip+shift2`" in card and "kept from the judge the last network was added to" in card
    chosen = run_command("add-network", judge, smooth, trained["processed"], tmp_path / "searched", check=True)
    added = plain(read_spec(tmp_path / "searched").provenance)["ensemble"]["added"]
    scores = {float(k): v[added["views_compared"]] for k, v in added["publictest_accuracy_by_share"].items()}
    assert len(scores) == 10 and f'"share": {added["share"]}' in chosen.stdout
    by_views = plain(read_spec(tmp_path / "searched").provenance)["metrics"]["publictest_accuracy_by_tta"]
    assert read_spec(tmp_path / "searched").views == max(by_views, key=lambda m: (by_views[m], -len(view_keys(m))))
    assert added["share"] == min(k for k, v in scores.items() if v == max(scores.values()))  # PublicTest's best
    single = run_command("add-network", trained["model_dir"], smooth, trained["processed"], tmp_path / "no")
    assert single.returncode == 1 and "single network" in single.stderr and "Traceback" not in single.stderr
    nested = run_command("add-network", judge, tmp_path / "three", trained["processed"], tmp_path / "no")
    assert nested.returncode == 1 and "ensemble" in nested.stderr and "Traceback" not in nested.stderr
