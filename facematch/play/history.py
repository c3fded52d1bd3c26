"""Score history: one row per finished round, and each player's calibrated neutral face.

One schema (SQLAlchemy Core) on two back ends, chosen by `open_store(target)`:
- **SQLite** (the default, a file path): embedded; WAL mode so readers never block the writer and
  several app processes on one host share one file; a 30 s busy timeout so concurrent writers
  wait instead of failing; synchronous=FULL so a finished round survives a crash; a connection
  per operation (no pool), so a file deleted or replaced while the app runs is seen at once.
- **PostgreSQL** (`postgresql://user:password@host:port/database`): several app servers share one
  history; a small connection pool, checked before use so a restarted server is reconnected.

Only parameterised queries. Schema creation is idempotent and versioned (`schema_version`
table; SQLite files also keep it in `PRAGMA user_version`, as Facematch always has): an older
database is upgraded in place, a newer one is refused. Every database failure surfaces as one
StoreError naming the database (never its password).
"""

from __future__ import annotations

import json
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Table, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from facematch.config import history_target
from facematch.errors import StoreError
from facematch.play.accounts import KEY_PREFIX, is_account_key
from facematch.play.history_accounts import AccountRows, _now
from facematch.play.schema import (
    _ADDED_COLUMNS,
    PLAY_MODES,
    SCHEMA_VERSION,
    accounts_table,
    baselines_table,
    metadata,
    rounds_table,
    traces_table,
    version_table,
)

MAX_NAME_LENGTH = 40
DEFAULT_PLAYER = "guest"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_CREATE_LOCK = 7_231_452  # PostgreSQL advisory lock: one app server creates or upgrades the schema at a time


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
    level: int = 1  # the level it was played at (facematch.play.levels)
    local_date: str | None = None  # YYYY-MM-DD in the player's time zone (facematch.play.streaks)
    answer: str | None = None  # recognition (facematch.play.recognition): what the player named
    answer_s: float | None = None
    intensity: float | None = None
    distractor: str | None = None
    recipe_distance: float | None = None  # check-ups (facematch.play.checkup)


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
    if is_account_key(text):  # signed-in players' keys are never typed in
        return DEFAULT_PLAYER, f"Names cannot start with “{KEY_PREFIX}”; playing as guest."
    if len(text) > MAX_NAME_LENGTH:
        return text[:MAX_NAME_LENGTH], f"Names are limited to {MAX_NAME_LENGTH} characters; yours was shortened."
    return text, None


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.split("://", 1)[0] in POSTGRES_SCHEMES and "://" in target


def open_store(target: str | Path | None = None) -> HistoryStore:
    """The score history at `target`: a SQLite file path or a postgresql:// URL (default: FACEMATCH_DB,
    else data/facematch.sqlite3). Creates or upgrades the schema; StoreError if it cannot."""
    return HistoryStore(target if target not in (None, "") else history_target())


class HistoryStore(AccountRows):
    """Use open_store(); pages and scripts never build one directly. Sign-in's rows: AccountRows."""

    def __init__(self, target: str | Path):
        if is_postgres_url(str(target)):
            url = make_url(str(target)).set(drivername="postgresql+psycopg")
            self.backend, self.path = "postgresql", None
            self.where = f"PostgreSQL {url.render_as_string(hide_password=True)}"
            self.engine = create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True,
                                        connect_args={"connect_timeout": 5})
        else:
            self.backend, self.path = "sqlite", Path(target)
            self.where = str(self.path)
            self.engine = create_engine(URL.create("sqlite", database=str(self.path)), poolclass=NullPool,
                                        connect_args={"timeout": 30})  # writers wait up to 30 s for each other
            event.listen(self.engine, "connect", _sqlite_settings)
        with self._errors("cannot be opened as the score history"):
            self._create()

    # -- errors ----------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str = ""):
        try:
            yield
        except StoreError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            reason += "" if reason.endswith((".", "?", "!")) else "."
            fix = "Check that the file and its folder are writable." if self.backend == "sqlite" else \
                "Check that the server is running and the user, password and database are right."
            raise StoreError(f"{self.where}{' ' + what if what else ''}: {reason} {fix}") from exc

    # -- schema ----------------------------------------------------------------------------------
    def _create(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes may open a new database at once. SQLite: switching to WAL needs a
        # moment of exclusive access and does not wait on the busy timeout, so retry; PostgreSQL:
        # an advisory lock lets one server create or upgrade the schema while the others wait.
        for attempt in range(50):
            try:
                with self.engine.begin() as conn:
                    if self.backend == "sqlite":
                        if conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
                            conn.exec_driver_sql("PRAGMA journal_mode = WAL")
                    else:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
                    self._migrate(conn)
                return
            except OperationalError as exc:
                # pysqlite runs DDL outside transactions: another process may have created a table or
                # column between our look and our CREATE/ALTER. Looking again settles it.
                message = str(exc.orig)
                racing = any(word in message for word in ("locked", "duplicate", "already exists"))
                if self.backend != "sqlite" or attempt == 49 or not racing:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _migrate(self, conn) -> None:
        tables = set(inspect(conn).get_table_names())
        if "schema_version" in tables:
            version = conn.execute(select(func.max(version_table.c.version))).scalar() or 0
        elif self.backend == "sqlite":  # files of Facematch before the schema_version table
            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
        else:
            version = 0
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.where} was written by a newer Facematch (schema {version}); "
                             f"this version reads schema {SCHEMA_VERSION}")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for table, column, sql_type in _ADDED_COLUMNS.get(step, []):
                if table in tables and column not in {c["name"] for c in inspect(conn).get_columns(table)}:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
        metadata.create_all(conn)  # creates only what is missing
        if version != SCHEMA_VERSION or "schema_version" not in tables:
            conn.execute(version_table.delete())
            conn.execute(version_table.insert().values(version=SCHEMA_VERSION))
            if self.backend == "sqlite":
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- rounds ----------------------------------------------------------------------------------
    def add_round(self, record: RoundRecord) -> int:
        """Store one finished round and return its id; StoreError (naming the database) when it cannot."""
        row = asdict(record)
        row["played_at"] = row["played_at"] or _now()
        row["matched"] = int(bool(row["matched"]))
        with self._errors("could not save the round"):
            try:
                return self._insert(rounds_table, row)
            except OperationalError as exc:
                if self.backend != "sqlite" or "no such table" not in str(exc.orig):
                    raise
            # The file was deleted or replaced while the app ran: recreate it rather than lose the round.
            self._create()
            return self._insert(rounds_table, row)

    def _insert(self, table: Table, row: dict) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(table.insert().values(**row)).inserted_primary_key[0])

    def rounds(self, player: str | None = None) -> list[dict]:
        query = select(*[c for c in rounds_table.c]).order_by(rounds_table.c.played_at, rounds_table.c.id)
        if player is not None:
            query = query.where(rounds_table.c.player == player)
        return self._all(query)

    def players(self) -> list[str]:
        """Every player, most recently active first."""
        query = select(rounds_table.c.player).group_by(rounds_table.c.player) \
            .order_by(func.max(rounds_table.c.played_at).desc(), rounds_table.c.player)
        return [r["player"] for r in self._all(query)]

    def leaderboard(self, limit: int = 10, opted_in_only: bool = False) -> list[dict]:
        """Best session totals across all players; opted_in_only (served with sign-in): only the players who chose
        a leaderboard name, each shown under that name."""
        r, a = rounds_table.c, accounts_table.c
        started = func.min(r.played_at).label("started")
        total = func.sum(r.score).label("total")
        query = (select(r.player, r.session_id, total, func.count().label("rounds"),
                        func.sum(r.matched).label("matched"), started)
                 .where(r.mode.in_(PLAY_MODES)))  # sessions of making faces, not reading them or check-ups
        if opted_in_only:
            query = query.join(accounts_table, a.player == r.player).where(a.leaderboard_name.is_not(None))
        rows = self._all(query.group_by(r.session_id, r.player).order_by(total.desc(), started).limit(int(limit)))
        if opted_in_only:
            names = {row["player"]: row["leaderboard_name"] for row in self._all(
                select(a.player, a.leaderboard_name).where(a.player.in_({row["player"] for row in rows})))}
            rows = [{**row, "player": names[row["player"]]} for row in rows]
        return rows

    def count(self) -> int:
        with self._errors(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(rounds_table)).scalar())

    def _all(self, query) -> list[dict]:
        with self._errors(), self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- calibration -----------------------------------------------------------------------------
    def add_baseline(self, baseline: StoredBaseline) -> None:
        """Store a player's neutral face; the latest one is the one the coach uses."""
        row = asdict(baseline)
        row["recorded_at"] = row["recorded_at"] or _now()
        row["blendshapes"] = json.dumps(row["blendshapes"], sort_keys=True)
        row["probabilities"] = json.dumps(row["probabilities"])
        with self._errors("could not save the calibration"):
            self._insert(baselines_table, row)

    def baseline(self, player: str) -> StoredBaseline | None:
        """The player's latest calibrated neutral face, or None if they never calibrated."""
        b = baselines_table.c
        rows = self._all(select(*[c for c in baselines_table.c]).where(b.player == player)
                         .order_by(b.recorded_at.desc(), b.id.desc()).limit(1))
        if not rows:
            return None
        row = rows[0]
        return StoredBaseline(player=row["player"], blendshapes=json.loads(row["blendshapes"]),
                              probabilities=json.loads(row["probabilities"]), frames=row["frames"],
                              model_id=row["model_id"], recorded_at=row["recorded_at"])

    # -- study mode: recorded feedback for sham replay ------------------------------------------
    def add_trace(self, player: str, session_id: str, round_index: int, target: str, points: list) -> None:
        row = {"player": player, "recorded_at": _now(), "session_id": session_id, "round_index": round_index,
               "target": target, "points": json.dumps(points)}
        with self._errors("could not save the round's feedback trace"):
            self._insert(traces_table, row)

    def sham_trace(self, target: str, not_player: str) -> list | None:
        """A recorded feedback trace of `target` from another player (at random), or None if there is none."""
        t = traces_table.c
        rows = self._all(select(t.points).where(t.target == target, t.player != not_player)
                         .order_by(func.random()).limit(1))
        return json.loads(rows[0]["points"]) if rows else None

    def close(self) -> None:
        """Close pooled connections (PostgreSQL); the store reconnects if used again."""
        self.engine.dispose()


def _sqlite_settings(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous = FULL")  # a finished round survives a crash
    cursor.close()
