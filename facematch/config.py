"""Paths, constants and environment settings shared by the game and the pipeline.

Every FACEMATCH_* environment variable is read here and nowhere else. The data directory holds
what is local to one machine: third-party model files, the player database and, for training,
the processed FER2013 arrays and cached features. In a checkout it is data/ (ignored by git);
an installed Facematch uses $XDG_DATA_HOME/facematch (~/.local/share/facematch); FACEMATCH_DATA_DIR
sets either.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent  # the checkout, when Facematch runs from one
IN_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / ".git").exists()


def _user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facematch"


DATA_DIR = Path(os.environ.get("FACEMATCH_DATA_DIR") or (ROOT / "data" if IN_CHECKOUT else _user_data_dir()))
# Third-party files taken out of registry packages by `facematch setup`.
EXTERNAL_DIR = Path(os.environ.get("FACEMATCH_EXTERNAL_DIR", DATA_DIR / "external"))
MODELS_DIR = PACKAGE_DIR / "models"  # the shipped judge is package data: it installs with the game
DEFAULT_MODEL_DIR = Path(os.environ.get("FACEMATCH_MODEL", MODELS_DIR / "fer_vgg16"))
DEFAULT_DB_PATH = DATA_DIR / "facematch.sqlite3"

IMAGE_SIZE = 48  # FER2013 faces are 48x48 grayscale
SPLITS = ("Training", "PublicTest", "PrivateTest")  # FER2013's Usage values, in file order

# Beside the repository (never in it): the shared FER2013 copy, which the pipeline's tests and the
# benchmark use where present. (The real face on video the game's tests play comes from a pinned
# wheel: assets.ASSETS["sample_video"].)
SHARED_DATA_DIR = ROOT.parent / "shared" / "data"


def log_level() -> str:
    """FACEMATCH_LOG: Python's logging level for Facematch's messages (DEBUG also lets native libraries
    log); INFO when unset or unknown."""
    level = os.environ.get("FACEMATCH_LOG", "").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"


def history_target() -> str:
    """Where the score history lives: FACEMATCH_DB (a SQLite file path or a postgresql:// URL), else
    data/facematch.sqlite3."""
    return os.environ.get("FACEMATCH_DB", "").strip() or str(DEFAULT_DB_PATH)


def stats_file() -> str | None:
    """FACEMATCH_STATS_FILE: where the app writes each player's analysis stats every second
    (scripts/load_test.py reads it); unset, nothing is written."""
    return os.environ.get("FACEMATCH_STATS_FILE") or None


def ice_servers() -> tuple[list, str | None]:
    """(ICE servers from FACEMATCH_ICE_SERVERS, a JSON list; a warning or None).

    None are needed on localhost or a LAN; players behind NAT need a TURN server here.
    """
    raw = os.environ.get("FACEMATCH_ICE_SERVERS", "[]")
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError:
        return [], "FACEMATCH_ICE_SERVERS is not valid JSON; using no ICE servers."
    if not isinstance(servers, list):
        return [], "FACEMATCH_ICE_SERVERS must be a JSON list; using no ICE servers."
    return servers, None


def cloudflare_turn_keys() -> tuple[str, str] | None:
    """(key id, API token) of a Cloudflare Realtime TURN key (CLOUDFLARE_TURN_KEY_ID and
    CLOUDFLARE_TURN_KEY_API_TOKEN, the names streamlit-webrtc reads), or None; used when FACEMATCH_ICE_SERVERS is
    unset."""
    key_id = os.environ.get("CLOUDFLARE_TURN_KEY_ID", "").strip()
    token = os.environ.get("CLOUDFLARE_TURN_KEY_API_TOKEN", "").strip()
    return (key_id, token) if key_id and token else None


def _env_number(name: str, parse, fallback: str):
    """The number in environment variable `name` (parse: int or float), or None when unset or invalid."""
    raw = os.environ.get(name)
    try:
        return parse(raw) if raw else None
    except ValueError:
        log.warning("%s=%r is not a number; %s", name, raw, fallback)
        return None


def round_seconds() -> float | None:
    """FACEMATCH_ROUND_SECONDS: the default round length, or None for the game's own default."""
    return _env_number("FACEMATCH_ROUND_SECONDS", float, "using the default round length")


def session_seed() -> int | None:
    """FACEMATCH_SEED: a fixed order of targets for tests and demos (None: shuffled anew)."""
    return _env_number("FACEMATCH_SEED", int, "targets are shuffled")


def study_key() -> str | None:
    """FACEMATCH_STUDY: study mode's key (any text, kept secret by the researcher): it seeds each player's arm
    and pseudonym. Unset or empty: no study, everyone plays with live coaching."""
    return os.environ.get("FACEMATCH_STUDY", "").strip() or None


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def supervisor_emails() -> tuple[str, ...]:
    """FACEMATCH_SUPERVISORS: comma-separated email addresses of the people who supervise players (teachers,
    therapists, club leads); signed in, each sees the roster of their own groups. Matched without case."""
    return tuple(email.lower() for email in _env_list("FACEMATCH_SUPERVISORS"))


def supervisor_groups() -> tuple[str, ...]:
    """FACEMATCH_SUPERVISOR_GROUPS: comma-separated values of the groups claim that make someone a supervisor."""
    return _env_list("FACEMATCH_SUPERVISOR_GROUPS")


def groups_claim() -> str:
    """FACEMATCH_GROUPS_CLAIM: the ID token claim listing a person's groups (default "groups")."""
    return os.environ.get("FACEMATCH_GROUPS_CLAIM", "").strip() or "groups"


def retention_days() -> int | None:
    """FACEMATCH_RETENTION_DAYS: rounds, calibrations and feedback traces older than this many days are deleted
    (when the app starts and hourly after); unset or not a positive number: kept until a player deletes them."""
    days = _env_number("FACEMATCH_RETENTION_DAYS", int, "everything is kept")
    if days is not None and days < 1:
        log.warning("FACEMATCH_RETENTION_DAYS=%s is not a positive number of days; everything is kept", days)
        return None
    return days
