"""The two wings stay apart, and the CLIs tell user errors from bugs."""

import subprocess
import sys

from conftest import REPO, run_script

PLAY_WITHOUT_TENSORFLOW = """
import pkgutil, importlib, sys
import numpy as np
import facematch, facematch.play
from facematch import EMOTIONS, FrameAnalyzer, load_classifier
for module in pkgutil.iter_modules(facematch.play.__path__):
    importlib.import_module(f"facematch.play.{module.name}")
annotated, result = FrameAnalyzer().process(np.zeros((480, 640, 3), np.uint8), target="happy", seats=2)
load_classifier().predict(np.zeros((2, 48, 48), np.uint8))
heavy = sorted(m for m in ("tensorflow", "keras", "facematch.pipeline") if m in sys.modules)
print("imported:", heavy)
"""


def test_playing_never_imports_tensorflow_keras_or_the_pipeline():
    result = subprocess.run([sys.executable, "-c", PLAY_WITHOUT_TENSORFLOW], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout


def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    missing = run_script("evaluate_model.py", tmp_path / "no-model", tmp_path / "no-data")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    # Damaged arrays in a processed dataset: a clear message naming the file and the fix.
    processed = tmp_path / "processed"
    processed.mkdir()
    (processed / "manifest.json").write_text('{"source_sha256": "x", "splits": {}}')
    (processed / "Training.npz").write_bytes(b"not an npz file")
    damaged = run_script("visualize_dataset.py", processed, tmp_path / "figures")
    assert damaged.returncode == 1 and "Training.npz" in damaged.stderr and "make_dataset.py" in damaged.stderr
    assert "Traceback" not in damaged.stderr
    # Anything else (here a numpy ValueError) is a bug in Facematch: it keeps its traceback.
    bug = subprocess.run([sys.executable, "-c", "from facematch import cli\nimport numpy as np\n"
                          "cli.run(lambda: np.zeros(3).reshape(2, 2))"], capture_output=True, text=True, cwd=REPO)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "ValueError" in bug.stderr
    assert not bug.stderr.startswith("error: ")
