"""The model contract: one typed, versioned, immutable description of a judge, in `spec.json`.

A model directory holds `model.tflite` (the network) and `spec.json` (this contract). The game reads
the contract to know how to ask the network (input size, the views `predict()` averages and the
ones the live game plays, the temperature of their average, the class offsets); the pipeline writes
it. Everything else a step knows about how the network was made (architecture, training, PublicTest
metrics, ensemble shares) is `provenance`: read by the model card, never by the game.

    spec = read_spec(model_dir)                    # validated; a bad file raises ModelError naming the field
    spec = spec.replace(live_views="hflip")        # a new, validated spec; the old one is unchanged
    write_model_dir(model_dir, out_dir, spec)      # a pipeline step writes a new directory, never its input

No TensorFlow, no numpy: both wings import this.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from facematch import EMOTIONS
from facematch.errors import ModelError

FORMAT = 2  # spec.json's format version; a newer one is refused, the game never guesses
SPEC_NAME = "spec.json"
TFLITE_NAME = "model.tflite"
KERAS_NAME = "model.keras"  # the whole network for further training (not in git)
FIX = "Restore the shipped model (`git checkout facematch/models/` or reinstall Facematch), or retrain it."

# The views a spec may name. Every shift (dx, dy), in pixels with the edge rows repeated, is taken of
# the face and of its mirror image; "none" is the face as it is. Which one a model uses is chosen on
# PublicTest by the pipeline.
VIEW_SETS: dict[str, tuple[tuple[int, int], ...] | None] = {
    "none": None,
    "hflip": ((0, 0),),
    "hflip+shift2": ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)),
}

# How a crop larger than the network's input is shrunk to it (classifier.resize_gray): "area" averages pixel
# areas in one step (a box filter); the others average areas down to twice the input size, then interpolate the
# last halving with OpenCV's bicubic or Lanczos kernel, which blurs less (docs/model.md, R21). Smaller crops
# are enlarged bilinearly whatever the spec says.
DOWNSCALES = ("area", "area2x-cubic", "area2x-lanczos")


def view_keys(views: str) -> tuple[tuple[int, int, bool], ...]:
    """(dx, dy, mirrored) of each view in the set named `views`, in the order the judge stacks them."""
    if views not in VIEW_SETS:
        raise ValueError(f"unknown views {views!r}; choose from {sorted(VIEW_SETS)}")
    shifts = VIEW_SETS[views]
    if shifts is None:
        return ((0, 0, False),)
    # Each shift of the face, then of its mirror image: faces are left-right symmetric.
    return tuple((dx, dy, mirrored) for dx, dy in shifts for mirrored in (False, True))


def _frozen(value):
    """A JSON value that cannot be changed: mappings read-only, lists as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def plain(value):
    """The JSON form of a frozen value (e.g. a part of `provenance`): dicts and lists again."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: int  # the network takes (N, input_size, input_size, 1) float32 gray in 0..255
    views: str = "none"  # what predict() averages (a VIEW_SETS name)
    live_views: str = "none"  # what the live game plays per frame: a subset of `views`, cheaper
    view_temperature: float = 1.0  # sharpens the average of several views (each is calibrated alone)
    class_offsets: Mapping[str, float] = field(default_factory=dict)  # added to log-probabilities
    # the live game's own offsets, whichever views it plays (its live views, one pass on a busy server; docs/model.md,
    # R35); None: class_offsets serve it too
    live_class_offsets: Mapping[str, float] | None = None
    # a in the 3-tap low-pass [a, 1 - 2a, a] run along the rows and the columns of every face once it is
    # input_size pixels (0: none): the same slight blur whatever size the crop had (docs/model.md, R7).
    low_pass: float = 0.0
    downscale: str = "area"  # a DOWNSCALES name: how crops larger than input_size are shrunk
    # s in the 3-tap kernel [-s, 1 + 2s, -s] run along the rows and the columns of a crop once it is shrunk
    # (0: none; a face given at input_size is not touched): the detail shrinking softens (docs/model.md, R24).
    sharpen: float = 0.0
    labels: tuple[str, ...] = EMOTIONS  # column order of the output
    provenance: Mapping = field(default_factory=dict)  # how it was made: for the card, not the game

    def __post_init__(self):
        object.__setattr__(self, "labels", tuple(self.labels))
        for name in ("class_offsets", "live_class_offsets"):
            value = getattr(self, name)
            if isinstance(value, Mapping):  # read-only, in label order, zeros left out
                object.__setattr__(self, name, MappingProxyType({e: float(value[e]) for e in EMOTIONS if value.get(e)}))
        object.__setattr__(self, "provenance", _frozen(self.provenance))
        problem = _problem(self)
        if problem:
            raise ValueError(problem)

    def replace(self, **changes) -> ModelSpec:
        """A new spec with these fields changed (validated); provenance entries given are merged in."""
        if "provenance" in changes:
            changes["provenance"] = {**plain(self.provenance), **changes["provenance"]}
        return dataclasses.replace(self, **changes)

    def offsets(self, live: bool = False) -> list[float]:
        """The class offsets of predict() (live: the live game's, whichever views it plays), one per label (0: none)."""
        chosen = self.live_class_offsets if live and self.live_class_offsets is not None else self.class_offsets
        return [chosen.get(e, 0.0) for e in self.labels]

    def judging(self) -> dict:
        """Every field that changes the judge's verdicts (all but name and provenance)."""
        # low_pass, downscale, sharpen and live_class_offsets only where set: the judges written before them keep
        # their model ids.
        return {"format": FORMAT, "input_size": self.input_size, "views": self.views,
                "live_views": self.live_views, "view_temperature": self.view_temperature,
                "class_offsets": dict(self.class_offsets), "labels": list(self.labels),
                **({"low_pass": self.low_pass} if self.low_pass else {}),
                **({"downscale": self.downscale} if self.downscale != "area" else {}),
                **({"sharpen": self.sharpen} if self.sharpen else {}),
                **({} if self.live_class_offsets is None else {"live_class_offsets": dict(self.live_class_offsets)})}

    def model_id(self, network: bytes) -> str:
        """Names the judge a round was scored by (saved with it): the network's bytes and the fields
        that change its verdicts; rewritten provenance or metrics do not change it."""
        judging = json.dumps(self.judging(), sort_keys=True).encode()
        return f"{self.name}@{hashlib.sha256(network + judging).hexdigest()[:12]}"

    def to_json(self) -> dict:
        return {**self.judging(), "name": self.name, "provenance": plain(self.provenance)}


def _problem(spec: ModelSpec) -> str | None:
    """What is wrong with the spec, as `field: problem`, or None."""
    if not isinstance(spec.name, str) or not spec.name:
        return "name: a non-empty string is needed"
    if spec.labels != EMOTIONS:
        return f"labels: {list(spec.labels)}; this version of Facematch needs {list(EMOTIONS)} in that order"
    if not isinstance(spec.input_size, int) or isinstance(spec.input_size, bool) or not 8 <= spec.input_size <= 512:
        return f"input_size: {spec.input_size!r}; expected a whole number of pixels between 8 and 512"
    for name in ("views", "live_views"):
        if getattr(spec, name) not in VIEW_SETS:
            return f"{name}: {getattr(spec, name)!r}; this version of Facematch knows {sorted(VIEW_SETS)}"
    if not set(view_keys(spec.live_views)) <= set(view_keys(spec.views)):
        return f"live_views: {spec.live_views!r} are not among the views {spec.views!r} predict() averages"
    t = spec.view_temperature
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t <= 0:
        return f"view_temperature: {t!r}; expected a positive number"
    if not isinstance(spec.class_offsets, Mapping):
        return "class_offsets: expected an object of class name to number"
    if spec.live_class_offsets is not None:
        if not isinstance(spec.live_class_offsets, Mapping):
            return "live_class_offsets: expected an object of class name to number"
        if spec.live_views == spec.views:
            return "live_class_offsets: the live game plays predict()'s own views; class_offsets serve both"
    a = spec.low_pass
    if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0 <= a < 1 / 3:
        return f"low_pass: {a!r}; expected a number from 0 (none) to under 1/3 (the centre keeps the most weight)"
    if spec.downscale not in DOWNSCALES:
        return f"downscale: {spec.downscale!r}; this version of Facematch knows {list(DOWNSCALES)}"
    s = spec.sharpen
    if not isinstance(s, (int, float)) or isinstance(s, bool) or not 0 <= s <= 0.25:
        return f"sharpen: {s!r}; expected a number from 0 (none) to 0.25"
    if not isinstance(spec.provenance, Mapping):
        return "provenance: expected an object"
    return None


def spec_from_json(data, where: str = SPEC_NAME) -> ModelSpec:
    """A ModelSpec from spec.json's content; ModelError naming `where` and the field if it is unusable."""
    if not isinstance(data, dict):
        raise ModelError(f"{where} is damaged (not a JSON object). {FIX}")
    version = data.get("format")
    if version != FORMAT:
        newer = isinstance(version, int) and version > FORMAT
        raise ModelError(f"{where}: format {version!r} " + ("is newer than this version of Facematch reads; "
                                                           "upgrade Facematch" if newer else
                                                           f"is not a Facematch model spec (format {FORMAT})")
                         + f". {FIX}")
    for name in ("class_offsets", "live_class_offsets"):
        offsets = data.get(name, {})
        if not isinstance(offsets, dict):
            raise ModelError(f"{where}: {name}: expected an object of class name to number. {FIX}")
        for emotion, value in offsets.items():
            if emotion not in EMOTIONS:
                raise ModelError(f"{where}: {name}: unknown class {emotion!r}; the classes are {list(EMOTIONS)}. {FIX}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ModelError(f"{where}: {name}.{emotion}: {value!r} is not a number. {FIX}")
    known = {f.name for f in dataclasses.fields(ModelSpec)} | {"format"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelError(f"{where}: unknown field {unknown[0]!r} (written by a newer Facematch?). {FIX}")
    for required in ("name", "input_size"):
        if required not in data:
            raise ModelError(f"{where}: {required}: missing. {FIX}")
    try:
        return ModelSpec(**{k: v for k, v in data.items() if k != "format"})
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: {exc}. {FIX}") from None


def read_spec(model_dir) -> ModelSpec:
    """The validated contract of a model directory."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist. {FIX}")
    path = model_dir / SPEC_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path} is missing. {FIX}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is damaged ({exc}). {FIX}") from None
    return spec_from_json(data, str(path))


def write_spec(model_dir, spec: ModelSpec) -> Path:
    """spec.json written whole (a half-written one never carries the name)."""
    path = Path(model_dir) / SPEC_NAME
    partial = path.with_name(SPEC_NAME + ".partial")
    partial.write_text(json.dumps(spec.to_json(), indent=2) + "\n")
    os.replace(partial, path)
    return path


def write_model_dir(source_dir, out_dir, spec: ModelSpec, extra: Mapping[str, bytes | str] | None = None,
                    keep: tuple[str, ...] = (TFLITE_NAME, KERAS_NAME)) -> Path:
    """A new model directory `out_dir`: `source_dir`'s network files (those of `keep` it has), `spec`,
    and `extra` files (name → content). The source is only read; `out_dir` is built beside its final
    place and then takes that place whole (building_model_dir)."""
    with building_model_dir(out_dir, source_dir) as building:
        copy_network(source_dir, building, keep)
        for name, content in (extra or {}).items():
            target = building / name
            target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
        write_spec(building, spec)
    return Path(out_dir).resolve()


def copy_network(source_dir, into, keep: tuple[str, ...] = (TFLITE_NAME, KERAS_NAME)) -> None:
    """Copy the network files of `keep` that source_dir has (model.tflite must be there) into `into`."""
    source_dir = Path(source_dir)
    if not (source_dir / TFLITE_NAME).is_file():
        raise ModelError(f"{source_dir / TFLITE_NAME} is missing. {FIX}")
    for name in keep:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, Path(into) / name)


@contextlib.contextmanager
def building_model_dir(out_dir, source_dir=None):
    """A temporary directory beside `out_dir` to build a model directory in; when the block ends it
    takes out_dir's place whole (replacing any earlier one), or is removed if the block failed. So a
    cut step leaves the old directory or the new one, never a mix. `source_dir`, the step's input,
    may not be out_dir: a step writes a new directory and never edits its input."""
    out_dir = Path(out_dir).resolve()
    if source_dir is not None and Path(source_dir).resolve() == out_dir:
        raise ModelError(f"{out_dir}: a pipeline step writes a new model directory; give another output than its "
                         "input")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        yield building
        if not (building / SPEC_NAME).is_file():
            raise ModelError(f"{out_dir}: the step wrote no {SPEC_NAME}")
        os.chmod(building, 0o755)
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(building, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
