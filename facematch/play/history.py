"""Score history in SQLite: one row per finished round.

A connection per operation (sqlite3 connections must not cross threads), WAL mode so
readers never block the writer and two app processes can share one file, a busy
timeout so concurrent writers wait instead of failing, and only parameterised queries.
"""

from __future__ import annotations

import sqlite3
import time
import unicodedata
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from facematch.config import DEFAULT_DB_PATH
from facematch.errors import StoreError

SCHEMA_VERSION = 1
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
    mode             TEXT    NOT NULL DEFAULT 'challenge'
);
CREATE INDEX IF NOT EXISTS rounds_player ON rounds (player, played_at);
CREATE INDEX IF NOT EXISTS rounds_session ON rounds (session_id);
"""


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

    def count(self) -> int:
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0])
