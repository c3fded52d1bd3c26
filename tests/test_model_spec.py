"""The model contract: one typed, versioned, immutable spec per judge, validated on load."""

import dataclasses
import json
import shutil

import pytest

from facematch.config import DEFAULT_MODEL_DIR
from facematch.errors import ModelError
from facematch.model_spec import FORMAT, ModelSpec, read_spec, write_model_dir
from facematch.play.classifier import load_classifier


def test_the_shipped_spec_names_the_views_offsets_and_provenance():
    spec = read_spec(DEFAULT_MODEL_DIR)
    assert spec.name == "fer_ens_distilled" and spec.input_size == 48 and spec.views == "hflip+shift2"
    assert spec.live_views == "hflip" and dict(spec.class_offsets) == {"angry": -0.1, "fear": 0.3, "sad": 0.1}
    assert dict(spec.live_class_offsets) == {"angry": -0.2, "fear": 0.3, "sad": 0.1}  # the live game's own (R35)
    assert spec.low_pass == 0.1875 and spec.downscale == "area2x-cubic" and spec.sharpen == 0.04
    assert spec.provenance["ensemble"]["member_shares"] == (0.32, 0.16, 0.16, 0.16, 0.2)
    assert read_spec(DEFAULT_MODEL_DIR) == spec  # the same file reads to an equal value


def test_a_spec_cannot_be_changed_only_replaced_with_a_valid_one():
    spec = read_spec(DEFAULT_MODEL_DIR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.views = "none"
    with pytest.raises(TypeError):
        spec.provenance["ensemble"]["share"] = 0.1  # provenance is frozen all the way down
    with pytest.raises(TypeError):
        spec.class_offsets["fear"] = 2.0
    changed = spec.replace(live_views="none")
    assert changed.live_views == "none" and spec.live_views == "hflip"
    with pytest.raises(ValueError, match="live_views: 'hflip' are not among the views 'none'"):
        spec.replace(views="none", live_views="hflip")
    shared = spec.replace(live_class_offsets=None)  # one set of offsets: predict()'s serve the live game too
    assert shared.offsets(live=True) == shared.offsets()
    own = shared.replace(live_class_offsets={"fear": 0.2, "sad": 0})  # the live game's own (R35); zeros left out
    assert dict(own.live_class_offsets) == {"fear": 0.2} and own.offsets(live=True)[2] == 0.2
    assert own.offsets() == shared.offsets()
    with pytest.raises(ValueError, match=r"live_class_offsets: the live game plays predict\(\)'s own views"):
        own.replace(live_views=own.views)


@pytest.mark.parametrize("damage, field", [
    (lambda d: d.update(views="rotate"), "views: 'rotate'"),
    (lambda d: d.update(view_temperature=-1), "view_temperature: -1"),
    (lambda d: d.update(input_size="48"), "input_size: '48'"),
    (lambda d: d.update(labels=["happy", "sad"]), "labels"),
    (lambda d: d.update(low_pass=0.5), "low_pass: 0.5"),
    (lambda d: d.update(downscale="nearest"), "downscale: 'nearest'"),
    (lambda d: d.update(sharpen=0.5), "sharpen: 0.5"),
    (lambda d: d["class_offsets"].update(scared=1.0), "class_offsets: unknown class 'scared'"),
    (lambda d: d["class_offsets"].update(fear="a lot"), "class_offsets.fear: 'a lot' is not a number"),
    (lambda d: d.update(live_class_offsets={"scared": 1.0}), "live_class_offsets: unknown class 'scared'"),
    (lambda d: d.update(live_class_offsets=[0.3]), "live_class_offsets: expected an object"),
    (lambda d: d.pop("input_size"), "input_size: missing"),
    (lambda d: d.update(format=FORMAT + 1), "newer than this version of Facematch"),
    (lambda d: d.pop("format"), "format None is not a Facematch model spec"),
    (lambda d: d.update(test_time_augmentation="hflip"), "unknown field 'test_time_augmentation'"),
])
def test_a_hand_damaged_spec_names_the_file_and_the_field(tmp_path, damage, field):
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    data = json.loads((model_dir / "spec.json").read_text())
    damage(data)
    (model_dir / "spec.json").write_text(json.dumps(data))
    with pytest.raises(ModelError) as error:
        load_classifier(model_dir)
    message = str(error.value)
    assert str(model_dir / "spec.json") in message and field in message and "Restore the shipped model" in message


def test_an_unreadable_spec_is_a_model_error(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    (model_dir / "spec.json").write_text("{not json")
    with pytest.raises(ModelError, match="spec.json is damaged"):
        read_spec(model_dir)
    (model_dir / "spec.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        read_spec(model_dir)
    (model_dir / "spec.json").unlink()
    with pytest.raises(ModelError, match="spec.json is missing"):
        read_spec(model_dir)


def test_a_step_writes_a_new_directory_whole_and_never_its_input(tmp_path):
    spec = read_spec(DEFAULT_MODEL_DIR)
    out = write_model_dir(DEFAULT_MODEL_DIR, tmp_path / "out", spec.replace(live_views="none"))
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "spec.json"]
    assert read_spec(out).live_views == "none" and read_spec(DEFAULT_MODEL_DIR).live_views == "hflip"
    # Written again, the directory is replaced whole: nothing of the earlier one lingers.
    (out / "stale.txt").write_text("from an earlier run")
    write_model_dir(DEFAULT_MODEL_DIR, out, spec)
    assert not (out / "stale.txt").exists() and read_spec(out) == spec
    with pytest.raises(ModelError, match="another output than its input"):
        write_model_dir(out, out, spec)
    # A step that fails leaves the earlier directory as it was, and no half-built one beside it.
    with pytest.raises(ModelError, match="model.tflite is missing"):
        write_model_dir(tmp_path / "nothing", out, spec)
    assert read_spec(out) == spec and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_model_id_follows_what_judges_not_what_is_recorded():
    spec = read_spec(DEFAULT_MODEL_DIR)
    network = (DEFAULT_MODEL_DIR / "model.tflite").read_bytes()
    assert spec.model_id(network) == load_classifier().model_id
    # The id its card was measured under: a field added to the contract since does not rename a judge.
    assert json.loads((DEFAULT_MODEL_DIR / "evaluation.json").read_text())["model_id"] == spec.model_id(network)
    assert spec.replace(provenance={"notes": "measured again"}).model_id(network) == spec.model_id(network)
    for changed in (spec.replace(class_offsets={"fear": 0.5}), spec.replace(live_views="none"),
                    spec.replace(view_temperature=1.0), spec.replace(low_pass=0.1 + spec.low_pass),
                    spec.replace(downscale="area2x-lanczos" if spec.downscale != "area2x-lanczos" else "area"),
                    spec.replace(sharpen=0.01 + spec.sharpen), spec.replace(live_class_offsets={"fear": 0.5})):
        assert changed.model_id(network) != spec.model_id(network)
    assert ModelSpec(name="x", input_size=48).model_id(b"other") != ModelSpec(name="x", input_size=48).model_id(network)
