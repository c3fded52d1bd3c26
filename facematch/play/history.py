"""Score history in SQLite: one row per finished round, and each player's calibrated neutral face.

A connection per operation (sqlite3 connections must not cross threads), WAL mode so
readers never block the writer and two app processes can share one file, a busy
timeout so concurrent writers wait instead of failing, and only parameterised queries.
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from facematch.config import DEFAULT_DB_PATH
from facematch.errors import StoreError

# 1: rounds. 2: rounds.held_back (the coach's verdict) and baselines (calibration).
SCHEMA_VERSION = 2
MAX_NAME_LENGTH = 40
DEFAULT_PLAYER = "guest"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    id               INTEGER PRIMARY KEY,
    player           TEXT    NOT NULL,
    played_at        TEXT    NOT NULL,   -- ISO 8601, UTC
    session_id       TEXT    NOT NULL,
    round_index      INTEGER NOT NULL,
    target           TEXT    NOT NULL,
    score            INTEGER NOT NULL,
    matched          INTEGER NOT NULL,   -- 0/1
    time_to_match    REAL,               -- seconds, NULL when not matched
    peak_probability REAL    NOT NULL,
    model_id         TEXT    NOT NULL,
    mode             TEXT    NOT NULL DEFAULT 'challenge',
    held_back        TEXT                -- action unit furthest from its aim (e.g. AU15), NULL if none
);
CREATE INDEX IF NOT EXISTS rounds_player ON rounds (player, played_at);
CREATE INDEX IF NOT EXISTS rounds_session ON rounds (session_id);
CREATE TABLE IF NOT EXISTS baselines (
    id            INTEGER PRIMARY KEY,
    player        TEXT    NOT NULL,
    recorded_at   TEXT    NOT NULL,   -- ISO 8601, UTC
    blendshapes   TEXT    NOT NULL,   -- JSON: MediaPipe blendshape name -> median score
    probabilities TEXT    NOT NULL,   -- JSON: emotion -> mean probability the judge gave meanwhile
    frames        INTEGER NOT NULL,
    model_id      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS baselines_player ON baselines (player, recorded_at);
"""
# In-place upgrades, applied in order to a file of an older schema before _SCHEMA runs.
_UPGRADES = {
    2: "ALTER TABLE rounds ADD COLUMN held_back TEXT",
}


@dataclass(frozen=True)
class RoundRecord:
    player: str
    session_id: str
    round_index: int
    target: str
    score: int
    matched: bool
    time_to_match: float | None
    peak_probability: float
    model_id: str
    mode: str = "challenge"
    played_at: str = ""
    held_back: str | None = None


@dataclass(frozen=True)
class StoredBaseline:
    """A player's calibrated neutral face (see facematch.play.coach.Baseline)."""

    player: str
    blendshapes: dict[str, float]
    probabilities: dict[str, float]
    frames: int
    model_id: str
    recorded_at: str = ""


def clean_player_name(name: str | None) -> tuple[str, str | None]:
    """(name to store, message for the player or None). Names are kept literally, only trimmed."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")  # no control characters
    text = text.strip()
    if not text:
        return DEFAULT_PLAYER, None if not (name or "").strip() else "That name had no visible characters; " \
                                                                     "playing as guest."
    if len(text) > MAX_NAME_LENGTH:
        return text[:MAX_NAME_LENGTH], f"Names are limited to {MAX_NAME_LENGTH} characters; yours was shortened."
    return text, None


class HistoryStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or DEFAULT_DB_PATH)
        try:
            self._create()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path} cannot be opened as the score history ({exc})") from exc

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes may open a new file at once. Switching to WAL (persistent in the
        # file) needs a moment of exclusive access and does not wait on the busy timeout, so retry.
        for attempt in range(50):
            try:
                with closing(self._connect()) as conn:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode = WAL")
                    with conn:
                        version = conn.execute("PRAGMA user_version").fetchone()[0]
                        if version > SCHEMA_VERSION:
                            raise StoreError(f"{self.path} was written by a newer Facematch (schema {version}); "
                                             f"this version reads schema {SCHEMA_VERSION}")
                        has_rounds = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'rounds'").fetchone()
                        for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                            if has_rounds:
                                conn.execute(_UPGRADES[step])
                        conn.executescript(_SCHEMA)
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)  # writers wait up to 30 s for each other
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = FULL")  # a finished round survives a crash
        return conn

    def add_round(self, record: RoundRecord) -> int:
        """Store one finished round; StoreError (with the database's path) when it cannot be written."""
        try:
            return self._insert(record)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: {exc}. Check that the file and its folder are writable.") from exc

    def _insert(self, record: RoundRecord) -> int:
        row = asdict(record)
        row["played_at"] = row["played_at"] or datetime.now(UTC).isoformat(timespec="seconds")
        row["matched"] = int(bool(row["matched"]))
        query = f"INSERT INTO rounds ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        try:
            with closing(self._connect()) as conn, conn:
                return int(conn.execute(query, list(row.values())).lastrowid)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
        # The file was deleted or replaced while the app ran: recreate it rather than lose the round.
        self._create()
        with closing(self._connect()) as conn, conn:
            return int(conn.execute(query, list(row.values())).lastrowid)

    def rounds(self, player: str | None = None) -> list[dict]:
        query = "SELECT * FROM rounds"
        params: tuple = ()
        if player is not None:
            query += " WHERE player = ?"
            params = (player,)
        with closing(self._connect()) as conn:
            return [dict(r) for r in conn.execute(query + " ORDER BY played_at, id", params)]

    def players(self) -> list[str]:
        with closing(self._connect()) as conn:
            return [r[0] for r in conn.execute(
                "SELECT player FROM rounds GROUP BY player ORDER BY MAX(played_at) DESC")]

    def leaderboard(self, limit: int = 10) -> list[dict]:
        """Best session totals across all players."""
        with closing(self._connect()) as conn:
            return [dict(r) for r in conn.execute(
                """SELECT player, session_id, SUM(score) AS total, COUNT(*) AS rounds,
                          SUM(matched) AS matched, MIN(played_at) AS started
                   FROM rounds GROUP BY session_id, player
                   ORDER BY total DESC, started ASC LIMIT ?""", (int(limit),))]

    def add_baseline(self, baseline: StoredBaseline) -> None:
        """Store a player's neutral face; the latest one is the one the coach uses."""
        row = asdict(baseline)
        row["recorded_at"] = row["recorded_at"] or datetime.now(UTC).isoformat(timespec="seconds")
        row["blendshapes"] = json.dumps(row["blendshapes"], sort_keys=True)
        row["probabilities"] = json.dumps(row["probabilities"])
        query = f"INSERT INTO baselines ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(query, list(row.values()))
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: {exc}. Check that the file and its folder are writable.") from exc

    def baseline(self, player: str) -> StoredBaseline | None:
        """The player's latest calibrated neutral face, or None if they never calibrated."""
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT * FROM baselines WHERE player = ? ORDER BY recorded_at DESC, id DESC "
                                   "LIMIT 1", (player,)).fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        if row is None:
            return None
        return StoredBaseline(player=row["player"], blendshapes=json.loads(row["blendshapes"]),
                              probabilities=json.loads(row["probabilities"]), frames=row["frames"],
                              model_id=row["model_id"], recorded_at=row["recorded_at"])

    def count(self) -> int:
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0])
