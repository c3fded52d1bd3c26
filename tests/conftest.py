"""Shared helpers: small generated FER2013-format CSVs and running the real CLI scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facematch.config import SAMPLE_VIDEO, SHARED_DATA_DIR, SPLITS

REPO = Path(__file__).resolve().parent.parent
FER_CSV = SHARED_DATA_DIR / "fer2013.csv.xz"
VIDEO = SAMPLE_VIDEO


def synthetic_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 48x48 image whose bright band position encodes the label (learnable, no real faces)."""
    image = rng.integers(0, 90, size=(48, 48)).astype(np.int64)
    row = 3 + 6 * label
    image[row:row + 5, 6:42] += 150
    return np.clip(image, 0, 255).astype(np.uint8)


def pixel_string(image: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in image.ravel())


def write_csv(path: Path, per_split=(70, 21, 21), bad_rows: bool = True, seed: int = 0) -> dict:
    """Write a FER2013-format CSV; returns what a correct reader must find."""
    rng = np.random.default_rng(seed)
    lines = ["emotion,pixels,Usage"]
    valid = {s: [] for s in SPLITS}
    bad_lines = []
    for split, n in zip(SPLITS, per_split):
        for i in range(n):
            label = i % 7
            lines.append(f"{label},{pixel_string(synthetic_face(label, rng))},{split}")
            valid[split].append(label)
    if bad_rows:
        good = pixel_string(synthetic_face(0, rng))
        damaged = [
            f"3,{' '.join(['1'] * 2303)},Training",  # one pixel short
            f"3,{good.replace(' ', ' x', 1)},Training",  # non-numeric token
            f"7,{good},Training",  # label outside 0-6
            f"2,{good},Validation",  # unknown Usage
            f"2,{good}",  # missing column
            f"4,{good.replace('0', '256', 1) if '0' in good else '999 ' + good[2:]},PublicTest",  # > 255
            f"-1,{good},Training",  # negative label
        ]
        for row in damaged:
            lines.insert(5, row)
        bad_lines = [6 + k for k in range(len(damaged))]  # inserted rows sit at lines 6..12 (1-based)
    path.write_text("\n".join(lines) + "\n")
    return {"valid": valid, "bad_lines": sorted(bad_lines)}


def run_script(name: str, *args, check: bool = False, timeout: int = 900, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "scripts" / name), *map(str, args)]
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=merged)
    if check and result.returncode != 0:
        raise AssertionError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def tiny_csv(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "fer2013.csv"
    return path, write_csv(path)
