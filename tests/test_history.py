"""The score history on both back ends: a real SQLite file and a real PostgreSQL server (conftest.py).

Tests taking `store_target` run once per back end.
"""

import sqlite3
import subprocess
import sys
import threading

import pytest

from facematch.errors import FacematchError, StoreError
from facematch.play.history import (
    MAX_NAME_LENGTH,
    SCHEMA_VERSION,
    RoundRecord,
    StoredBaseline,
    clean_player_name,
    open_store,
)


def record(player="ana", session="s1", index=0, target="happy", score=80, matched=True):
    return RoundRecord(player=player, session_id=session, round_index=index, target=target, score=score,
                       matched=matched, time_to_match=1.5 if matched else None, peak_probability=0.9,
                       model_id="test@123")


def test_rounds_survive_reopening(store_target):
    first = open_store(store_target)
    first.add_round(record())
    first.close()
    reopened = open_store(store_target)
    rows = reopened.rounds("ana")
    assert len(rows) == 1
    assert rows[0]["target"] == "happy" and rows[0]["matched"] == 1 and rows[0]["time_to_match"] == 1.5
    assert reopened.backend == ("postgresql" if store_target.startswith("postgresql://") else "sqlite")


def test_a_new_sqlite_file_is_in_wal_mode_with_its_version(tmp_path):
    path = tmp_path / "sub" / "history.sqlite3"
    open_store(path).add_round(record())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_players_leaderboard_and_filtering(store_target):
    store = open_store(store_target)
    for i, score in enumerate([50, 60]):
        store.add_round(record("ana", "s1", i, score=score))
    for i, score in enumerate([90, 80]):
        store.add_round(record("ben", "s2", i, score=score))
    store.add_round(record("ana", "s3", 0, score=10, matched=False))
    board = store.leaderboard()
    assert [(r["player"], r["total"]) for r in board] == [("ben", 170), ("ana", 110), ("ana", 10)]
    assert set(store.players()) == {"ana", "ben"}
    assert len(store.rounds("ana")) == 3 and len(store.rounds()) == 5


def test_reading_and_checkup_rounds_keep_what_they_record_and_stay_off_the_leaderboard(store_target):
    from dataclasses import replace

    store = open_store(store_target)
    store.add_round(record("ana", "s1", 0, score=40))
    store.add_round(replace(record("ana", "r1", 0, target="fear", score=90), mode="recognition", answer="surprise",
                            answer_s=2.5, intensity=0.45, distractor="surprise", peak_probability=0.0))
    store.add_round(replace(record("ana", "c1", 0, target="sad", score=95), mode="checkup", recipe_distance=0.125))
    rows = {r["mode"]: r for r in store.rounds("ana")}
    reading, checkup = rows["recognition"], rows["checkup"]
    assert (reading["answer"], reading["answer_s"], reading["intensity"], reading["distractor"]) == \
        ("surprise", 2.5, 0.45, "surprise")
    assert checkup["recipe_distance"] == 0.125 and rows["challenge"]["answer"] is None
    assert [(r["session_id"], r["total"]) for r in store.leaderboard()] == [("s1", 40)]  # making faces only


def test_hostile_names_are_stored_literally(store_target):
    store = open_store(store_target)
    names = ["Robert'); DROP TABLE rounds;--", "<script>alert(1)</script>", "**bold** _x_", "Zoë 🙂 李"]
    for name in names:
        store.add_round(record(clean_player_name(name)[0]))
    assert sorted(store.players()) == sorted(names)
    assert store.count() == len(names)


def test_names_are_trimmed_limited_and_defaulted():
    assert clean_player_name("  ana  ") == ("ana", None)
    assert clean_player_name("") == ("guest", None)
    assert clean_player_name("\x00\x07")[0] == "guest"
    name, message = clean_player_name("x" * 10_000)
    assert len(name) == MAX_NAME_LENGTH and "limited" in message


def test_concurrent_writers_lose_nothing(store_target):
    store = open_store(store_target)  # one store shared by 4 threads, as the app's page sessions share it

    def writer(who):
        for i in range(50):
            store.add_round(record(who, who, i))

    threads = [threading.Thread(target=writer, args=(f"p{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert open_store(store_target).count() == 200


def test_two_processes_writing_at_once_lose_no_row(store_target):
    writer = (
        "import sys\n"
        "from facematch.play.history import RoundRecord, open_store\n"
        "store = open_store(sys.argv[1])\n"
        "for i in range(300):\n"
        "    store.add_round(RoundRecord(player=sys.argv[2], session_id=sys.argv[2], round_index=i, target='sad',\n"
        "                                score=i % 101, matched=i % 2 == 0, time_to_match=None, peak_probability=0.5,\n"
        "                                model_id='m'))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, store_target, name]) for name in ("one", "two")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store = open_store(store_target)
    assert store.count() == 600
    assert sorted(r["round_index"] for r in store.rounds("one")) == list(range(300))
    if store.backend == "sqlite":
        with sqlite3.connect(store_target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_round_is_not_lost_when_the_file_was_deleted_meanwhile(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = open_store(path)
    store.add_round(record())
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"h.sqlite3{suffix}").unlink(missing_ok=True)
    store.add_round(record(index=1))
    assert store.count() == 1


def test_a_store_that_cannot_be_used_raises_one_clear_store_error(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer Facematch"):
        open_store(newer)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(FacematchError, match="a-folder"):
        open_store(folder)  # a folder where the database file should be
    store = open_store(tmp_path / "ok.sqlite3")
    (tmp_path / "ok.sqlite3").unlink()
    (tmp_path / "ok.sqlite3").mkdir()  # replaced by a folder while the app runs
    with pytest.raises(StoreError, match="ok.sqlite3"):
        store.add_round(record())


V1_SCHEMA = """
CREATE TABLE rounds (id INTEGER PRIMARY KEY, player TEXT NOT NULL, played_at TEXT NOT NULL,
    session_id TEXT NOT NULL, round_index INTEGER NOT NULL, target TEXT NOT NULL, score INTEGER NOT NULL,
    matched INTEGER NOT NULL, time_to_match REAL, peak_probability REAL NOT NULL, model_id TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'challenge');
INSERT INTO rounds VALUES (1, 'ana', '2026-11-01T10:00:00+00:00', 's0', 0, 'sad', 40, 0, NULL, 0.4, 'old@1',
                           'challenge');
PRAGMA user_version = 1;
"""


def test_a_database_of_the_previous_version_is_upgraded_in_place_and_keeps_its_rounds(tmp_path):
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    store = open_store(path)
    store.add_round(RoundRecord(player="ana", session_id="s1", round_index=0, target="sad", score=30,
                                matched=False, time_to_match=None, peak_probability=0.3, model_id="m@1",
                                held_back="AU15"))
    store.add_round(RoundRecord(player="ana", session_id="s1", round_index=1, target="fear", score=70,
                                matched=True, time_to_match=2.0, peak_probability=0.7, model_id="m@1", level=2,
                                local_date="2026-12-02"))
    rows = store.rounds("ana")
    assert [(r["score"], r["held_back"], r["level"]) for r in rows] == [(40, None, 1), (30, "AU15", 1), (70, None, 2)]
    assert [r["local_date"] for r in rows] == [None, None, "2026-12-02"]  # the player's own calendar day
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    open_store(path)  # opening an upgraded file again changes nothing
    assert open_store(path).count() == 3


def test_a_players_latest_calibration_is_the_one_returned(store_target):
    store = open_store(store_target)
    assert store.baseline("ana") is None
    for smile in (0.3, 0.1):
        store.add_baseline(StoredBaseline(player="ana", blendshapes={"mouthSmileLeft": smile},
                                          probabilities={"neutral": 0.8, "happy": 0.2}, frames=15, model_id="m@1"))
    store.add_baseline(StoredBaseline(player="bo", blendshapes={"mouthSmileLeft": 0.9}, probabilities={},
                                      frames=15, model_id="m@1"))
    latest = open_store(store_target).baseline("ana")
    assert latest.blendshapes == {"mouthSmileLeft": 0.1} and latest.probabilities["neutral"] == 0.8
    assert latest.frames == 15 and latest.recorded_at


def test_the_history_names_the_muscle_that_most_often_held_a_player_back(tmp_path):
    from facematch.play.charts import missed_muscles, rounds_frame

    store = open_store(tmp_path / "h.sqlite3")
    for i, (target, muscle) in enumerate([("sad", "AU15"), ("sad", "AU15"), ("sad", "AU1"), ("happy", None),
                                          ("fear", "AU5")]):
        store.add_round(RoundRecord(player="ana", session_id="s1", round_index=i, target=target, score=40,
                                    matched=False, time_to_match=None, peak_probability=0.3, model_id="m@1",
                                    held_back=muscle))
    frame = rounds_frame(store.rounds("ana"))
    assert frame["held_back"].tolist()[:4] == ["mouth corners down (AU15, lip corner depressor)"] * 2 + \
        ["inner brows up (AU1, inner brow raiser)", ""]
    missed = missed_muscles(frame).set_index("emotion")
    assert list(missed.index) == ["fear", "sad"]  # happy had no verdict
    assert missed.loc["sad", "muscle to practise"].startswith("mouth corners down")
    assert missed.loc["sad", "rounds it held you back"] == 2 and missed.loc["sad", "coached rounds"] == 3


# -- PostgreSQL only: a real server refusing, going away and coming back ----------------------------
def test_a_wrong_password_or_a_server_that_is_down_gives_one_clear_error(postgres_server):
    url = postgres_server.new_database()
    wrong = url.replace(postgres_server.PASSWORD, "not-the-password")
    with pytest.raises(StoreError) as refused:
        open_store(wrong)
    message = str(refused.value)
    assert "password authentication failed" in message and "PostgreSQL postgresql+psycopg://facematch:***@" in message
    assert "not-the-password" not in message and postgres_server.PASSWORD not in message
    with pytest.raises(StoreError, match="Check that the server is running"):
        open_store(url.replace(f":{postgres_server.port}/", ":9/"))  # nothing listens there


def test_rounds_after_a_server_restart_are_saved_and_none_is_silently_lost(postgres_server):
    store = open_store(postgres_server.new_database())
    store.add_round(record(index=0))
    postgres_server.stop()
    try:
        with pytest.raises(StoreError, match="could not save the round"):
            store.add_round(record(index=1))  # the page says "not saved"; the session still counts it
    finally:
        postgres_server.start()
    store.add_round(record(index=2))  # the pool notices the dead connections and reconnects
    assert [r["round_index"] for r in store.rounds("ana")] == [0, 2]


def test_a_postgres_database_of_the_previous_version_is_upgraded_in_place(postgres_server):
    import psycopg

    url = postgres_server.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""CREATE TABLE rounds (id SERIAL PRIMARY KEY, player TEXT NOT NULL, played_at TEXT NOT NULL,
            session_id TEXT NOT NULL, round_index INTEGER NOT NULL, target TEXT NOT NULL, score INTEGER NOT NULL,
            matched INTEGER NOT NULL, time_to_match DOUBLE PRECISION, peak_probability DOUBLE PRECISION NOT NULL,
            model_id TEXT NOT NULL, mode TEXT NOT NULL DEFAULT 'challenge')""")
        conn.execute("INSERT INTO rounds (player, played_at, session_id, round_index, target, score, matched, "
                     "peak_probability, model_id) VALUES ('ana', '2026-11-01T10:00:00+00:00', 's0', 0, 'sad', 40, 0, "
                     "0.4, 'old@1')")
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
    store = open_store(url)
    store.add_round(record(target="sad", score=30, matched=False))
    assert [(r["score"], r["held_back"], r["level"]) for r in store.rounds("ana")] == [(40, None, 1), (30, None, 1)]
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer Facematch"):
        open_store(url)
