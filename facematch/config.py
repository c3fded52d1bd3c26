"""Paths and constants shared by the game and the pipeline.

Everything under data/ is local and ignored by git: raw data, processed arrays,
cached features, third-party assets and the player database.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FACEMATCH_DATA_DIR", ROOT / "data"))
# Third-party files taken out of registry packages by scripts/setup_assets.py.
EXTERNAL_DIR = Path(os.environ.get("FACEMATCH_EXTERNAL_DIR", DATA_DIR / "external"))
MODELS_DIR = ROOT / "models"
DEFAULT_MODEL_DIR = Path(os.environ.get("FACEMATCH_MODEL", MODELS_DIR / "fer_vgg16"))
DEFAULT_DB_PATH = Path(os.environ.get("FACEMATCH_DB", DATA_DIR / "facematch.sqlite3"))

IMAGE_SIZE = 48  # FER2013 faces are 48x48 grayscale
SPLITS = ("Training", "PublicTest", "PrivateTest")
