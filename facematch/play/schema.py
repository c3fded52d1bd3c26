"""The history database's tables (SQLAlchemy Core) and what each schema version added. Storage itself:
facematch.play.history."""

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text

# 1: rounds. 2: rounds.held_back (the coach's verdict) and baselines (calibration). 3: levels, local
# dates. 4: what recognition rounds and check-ups record (answer, answer_s, intensity, distractor,
# recipe_distance) and the feedback_traces table (study mode). 5: sign-in: accounts (consent, leaderboard
# name, claim groups), invites and memberships (a supervisor's groups by invite code).
SCHEMA_VERSION = 5
# The modes a round row has: the three that make faces scored by the game's judge, then reading faces
# (recognition: no camera, no judge) and the check-ups (scored by the independent judge).
PLAY_MODES = ("challenge", "duel", "snapshot")

metadata = MetaData()
rounds_table = Table(
    "rounds", metadata,
    Column("id", Integer, primary_key=True),
    Column("player", Text, nullable=False),
    Column("played_at", Text, nullable=False),  # ISO 8601, UTC (sorts as text on both back ends)
    Column("session_id", Text, nullable=False),
    Column("round_index", Integer, nullable=False),
    Column("target", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("matched", Integer, nullable=False),  # 0/1
    Column("time_to_match", Float),  # seconds, NULL when not matched
    Column("peak_probability", Float, nullable=False),  # the judge's peak; 0 in recognition (no judge)
    Column("model_id", Text, nullable=False),
    Column("mode", Text, nullable=False, server_default="challenge"),
    Column("held_back", Text),  # action unit furthest from its aim (e.g. AU15), NULL if none
    Column("level", Integer, nullable=False, server_default="1"),  # facematch.play.levels; 1 before levels
    Column("local_date", Text),  # the player's calendar date when played (their time zone), for streaks
    Column("answer", Text),  # recognition: the emotion the player named, NULL when the time ran out
    Column("answer_s", Float),  # recognition: seconds to answer, NULL when the time ran out
    Column("intensity", Float),  # recognition: how strongly the drawn face showed the target (0..1)
    Column("distractor", Text),  # recognition: the other emotion blended in, NULL if none
    Column("recipe_distance", Float),  # check-up: the coach's distance from the target's recipe (0 = all there)
)
Index("rounds_player", rounds_table.c.player, rounds_table.c.played_at)
Index("rounds_session", rounds_table.c.session_id)
baselines_table = Table(
    "baselines", metadata,
    Column("id", Integer, primary_key=True),
    Column("player", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),  # ISO 8601, UTC
    Column("blendshapes", Text, nullable=False),  # JSON: MediaPipe blendshape name -> median score
    Column("probabilities", Text, nullable=False),  # JSON: emotion -> mean probability the judge gave
    Column("frames", Integer, nullable=False),
    Column("model_id", Text, nullable=False),
)
Index("baselines_player", baselines_table.c.player, baselines_table.c.recorded_at)
# Study mode (facematch.play.study): what a coached player saw during a round, for yoked sham replay.
traces_table = Table(
    "feedback_traces", metadata,
    Column("id", Integer, primary_key=True),
    Column("player", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("round_index", Integer, nullable=False),
    Column("target", Text, nullable=False),
    Column("points", Text, nullable=False),  # JSON: [[seconds, live score, coach line], ...]
)
Index("traces_target", traces_table.c.target)
# Sign-in (facematch.play.accounts): one row per signed-in player; local play's names have none.
accounts_table = Table(
    "accounts", metadata,
    Column("player", Text, primary_key=True),  # the rounds' player: accounts.account_key(issuer, subject)
    Column("display_name", Text, nullable=False),  # from the ID token, refreshed at each sign-in
    Column("email", Text),
    Column("claim_groups", Text, nullable=False, server_default="[]"),  # JSON list: the groups claim at sign-in
    Column("consented_at", Text),  # when they agreed to have their rounds saved (NULL: not asked or declined)
    Column("leaderboard_name", Text),  # the name they chose to appear under; NULL: not on the leaderboard
    Column("last_seen", Text, nullable=False),
)
invites_table = Table(
    "invites", metadata,
    Column("code", Text, primary_key=True),  # XXXX-XXXX (facematch.play.accounts.new_invite_code)
    Column("group_name", Text, nullable=False),
    Column("supervisor", Text, nullable=False),  # the account that made it (and sees who joins)
    Column("created_at", Text, nullable=False),
)
memberships_table = Table(
    "memberships", metadata,
    Column("player", Text, primary_key=True),
    Column("code", Text, primary_key=True),
    Column("joined_at", Text, nullable=False),
)
version_table = Table("schema_version", metadata, Column("version", Integer, nullable=False))

# What each version added to an existing database: (table, column, SQL type), applied if missing.
_ADDED_COLUMNS = {2: [("rounds", "held_back", "TEXT")],
                  3: [("rounds", "level", "INTEGER NOT NULL DEFAULT 1"), ("rounds", "local_date", "TEXT")],
                  4: [("rounds", "answer", "TEXT"), ("rounds", "answer_s", "REAL"), ("rounds", "intensity", "REAL"),
                      ("rounds", "distractor", "TEXT"), ("rounds", "recipe_distance", "REAL")]}
