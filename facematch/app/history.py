"""History: scores over time, average per emotion, all rounds, CSV download, leaderboard."""

import streamlit as st

from facematch.app.resources import get_store
from facematch.app.saving import player_today
from facematch.errors import FacematchError
from facematch.play.charts import average_by_emotion, levels_frame, missed_muscles, rounds_frame, scores_over_time
from facematch.play.history import DEFAULT_PLAYER
from facematch.play.levels import LEVELS, PASS_OF, PASS_WINDOW, challenge_rounds
from facematch.play.streaks import goal_days, streak


def page() -> None:
    """The History page."""
    st.title("📈 History")

    try:
        store = get_store()  # one per server process (PostgreSQL: its connection pool)
    except FacematchError as exc:
        st.error(f"**The score history cannot be opened.** {exc}")
        st.stop()
    players = store.players()
    if not players:
        st.info("No rounds played yet. Play a session on the main page; every finished round is saved here.")
        st.stop()

    current = st.session_state.get("player", DEFAULT_PLAYER)
    player = st.selectbox("Player", players, index=players.index(current) if current in players else 0)
    rows = store.rounds(player)
    frame = rounds_frame(rows)
    st.markdown(f"**{streak(goal_days(rows), player_today()).text()}**")

    sessions = frame["session_id"].nunique()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rounds", len(frame))
    c2.metric("Sessions", sessions)
    c3.metric("Average score", f"{frame['score'].mean():.0f}")
    c4.metric("Matched", f"{frame['matched'].mean():.0%}")

    left, right = st.columns(2)
    left.altair_chart(scores_over_time(frame), width="stretch")
    right.altair_chart(average_by_emotion(frame), width="stretch")

    st.subheader("🪜 Your level per emotion")
    st.caption(f"Challenge plays each emotion at your level, weakest first. Match {PASS_OF} of your last "
               f"{PASS_WINDOW} rounds of an emotion at its level to unlock the next: "
               + ", ".join(f"{level.number} {level.name}" for level in LEVELS) + ".")
    st.dataframe(levels_frame(challenge_rounds(rows)), hide_index=True, width="stretch")  # the rows read above

    st.subheader("🧭 What the coach saw holding you back")
    missed = missed_muscles(frame)
    if missed.empty:
        st.caption("No coached rounds yet: with the Coach on, every round records the muscle furthest from its aim.")
    else:
        st.dataframe(missed, hide_index=True, width="stretch")

    st.subheader("Rounds")
    table = frame.sort_values("played_at", ascending=False)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"played_at": st.column_config.DatetimeColumn("played at", format="YYYY-MM-DD HH:mm:ss"),
                                "peak_probability": st.column_config.NumberColumn("peak", format="%.2f"),
                                "time_to_match": st.column_config.NumberColumn("time to match (s)", format="%.1f"),
                                "held_back": st.column_config.TextColumn("held back by")})
    st.download_button("Download CSV", table.to_csv(index=False).encode("utf-8"),
                       file_name="facematch_history.csv", mime="text/csv")

    st.subheader("🏆 Leaderboard: best session totals")
    board = store.leaderboard(10)
    st.dataframe([{"rank": i + 1, "player": r["player"], "total": r["total"], "rounds": r["rounds"],
                   "matched": r["matched"], "started": r["started"]} for i, r in enumerate(board)],
                 hide_index=True, width="stretch")
