"""What every training run shares: its CSV log, wall clock and per-evaluation weights, weight
averaging, the batches of test-time views, and the model directory it writes."""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from facematch.errors import ConfigError
from facematch.model_spec import KERAS_NAME, TFLITE_NAME, ModelSpec, building_model_dir, write_spec
from facematch.pipeline.modeling import export_tflite
from facematch.play.classifier import view_image


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def wall_clock_callback(path: Path):
    """A callback adding each evaluation period's wall time to a file, so cut and resumed runs sum up."""
    class WallClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            total = float(path.read_text()) if path.is_file() else 0.0
            path.write_text(str(total + time.time() - self.started))

    return WallClock()


SNAPSHOT_DIR = "snapshots"  # in a run's work directory: eval_01.weights.h5, eval_02.weights.h5, ...


def check_run_config(work_dir: Path, config) -> None:
    """Record a run's options in work_dir/config.json; refuse to resume a run that had other options.

    Options added since a run was recorded count at their defaults (its behaviour then).
    """
    path = work_dir / "config.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if {**asdict(type(config)()), **saved} != asdict(config):
            raise ConfigError(f"{work_dir} holds a run with another configuration; use a new work directory")
    path.write_text(json.dumps(asdict(config), indent=2))


def snapshot_callback(directory: Path):
    """A callback keeping each evaluation's weights (eval_01.weights.h5, ...) for weight averaging."""
    class Snapshots(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            directory.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(directory / f"eval_{epoch + 1:02d}.weights.h5")

    return Snapshots()


def average_weights(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several models' weights (VGG16 has no batch norm to re-estimate)."""
    return [np.mean(arrays, axis=0) for arrays in zip(*weight_lists)]


def view_batch(images: np.ndarray, key) -> np.ndarray:
    """One test-time view of (N, H, W) faces as the networks' float32 (N, H, W, 1) batch."""
    return np.ascontiguousarray(view_image(images.astype(np.float32), key))[..., None]


def _snapshot_number(path: Path) -> int:
    return int(path.name.split(".")[0].split("_")[1])  # eval_07.weights.h5 → 7


def choose_weights(model, x_val, labels: np.ndarray, snapshot_dir: Path, unit: str = "evaluations",
                   last_k: int | None = None) -> tuple[str, dict]:
    """Sets `model` to the candidate with the best PublicTest accuracy; returns its name and every score.

    The model holds the best checkpoint's weights on entry. Other candidates: the averages of the
    last k snapshots in snapshot_dir (k = 2, 3, ..., up to last_k): late in a cosine schedule the
    weights wander around a minimum and their mean often lies nearer its centre. A candidate must
    beat the best checkpoint to replace it. `unit` names the snapshots ("evaluations", "epochs").
    """
    def accuracy() -> float:
        logits = model.predict(x_val, batch_size=256, verbose=0)
        return round(float((logits.argmax(1) == labels).mean()), 4)

    candidates = {"best checkpoint": (model.get_weights(), accuracy())}
    snapshots = sorted(snapshot_dir.glob("eval_*.weights.h5"), key=_snapshot_number)
    newest_first = list(reversed(snapshots))[:last_k]
    loaded = []
    for path in newest_first:
        model.load_weights(path)
        loaded.append(model.get_weights())
        if len(loaded) >= 2:
            model.set_weights(average_weights(loaded))
            name = f"average of {unit} {_snapshot_number(path)}-{_snapshot_number(snapshots[-1])}"
            candidates[name] = (model.get_weights(), accuracy())
    chosen = max(candidates, key=lambda name: candidates[name][1])  # ties keep the earlier (simpler) one
    model.set_weights(candidates[chosen][0])
    return chosen, {name: acc for name, (_, acc) in candidates.items()}


def machine_description() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPU cores"


def save_model_dir(model_dir: Path, model, quantize: str, spec: ModelSpec) -> ModelSpec:
    """A new model directory: model.keras, model.tflite and spec.json, replacing any earlier one whole."""
    spec = spec.replace(provenance={"files": {"tflite": TFLITE_NAME, "tflite_quantization": quantize,
                                              "keras": f"{KERAS_NAME} (not in git; rebuilt by the pipeline)"}})
    with building_model_dir(model_dir) as building:
        model.save(building / KERAS_NAME)
        export_tflite(model, building / TFLITE_NAME, quantize)
        write_spec(building, spec)
    return spec
