"""History: making faces (scores, levels, what held you back), reading faces (the confusion matrix),
progress (first check-up against the latest), every round as CSV, and the leaderboard."""

import json

import streamlit as st

from facematch.app.resources import get_store
from facematch.app.saving import player_today
from facematch.app.signin import saving_allowed
from facematch.errors import FacematchError
from facematch.play.accounts import clean_invite_code
from facematch.play.charts import (
    average_by_emotion,
    confusion_frame,
    levels_frame,
    missed_muscles,
    rounds_frame,
    scores_over_time,
)
from facematch.play.history import DEFAULT_PLAYER, clean_player_name
from facematch.play.levels import LEVELS, PASS_OF, PASS_WINDOW, challenge_rounds
from facematch.play.progress import checkups, first_vs_latest
from facematch.play.recognition import MODE as READING
from facematch.play.recognition import TIERS, confusion_sentences, confusions, recognition_rounds
from facematch.play.schema import PLAY_MODES
from facematch.play.streaks import goal_days, streak


def making_faces(rows: list[dict]) -> None:
    st.header("🎭 Making faces")
    frame = rounds_frame([r for r in rows if r["mode"] in PLAY_MODES])
    if frame.empty:
        st.caption("No rounds of making faces yet: play Challenge, Practice, Duel or Snapshot.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rounds", len(frame))
    c2.metric("Sessions", frame["session_id"].nunique())
    c3.metric("Average score", f"{frame['score'].mean():.0f}")
    c4.metric("Matched", f"{frame['matched'].mean():.0%}")
    left, right = st.columns(2)
    left.altair_chart(scores_over_time(frame), width="stretch")
    right.altair_chart(average_by_emotion(frame), width="stretch")

    st.subheader("🪜 Your level per emotion")
    st.caption(f"Challenge plays each emotion at your level, weakest first. Match {PASS_OF} of your last "
               f"{PASS_WINDOW} rounds of an emotion at its level to unlock the next: "
               + ", ".join(f"{level.number} {level.name}" for level in LEVELS) + ".")
    st.dataframe(levels_frame(challenge_rounds(rows)), hide_index=True, width="stretch")

    st.subheader("🧭 What the coach saw holding you back")
    missed = missed_muscles(frame)
    if missed.empty:
        st.caption("No coached rounds yet: with the Coach on, every round records the muscle furthest from its aim.")
    else:
        st.dataframe(missed, hide_index=True, width="stretch")


def reading_faces(rows: list[dict]) -> None:
    st.header("👀 Reading faces")
    counts = confusions(rows)
    if not counts:
        st.caption("No faces read yet: choose **Read faces (no camera)** on the Play page.")
        return
    right = sum(n for (shown, answered), n in counts.items() if shown == answered)
    st.markdown(f"**{right} of {sum(counts.values())}** faces read right.")
    for sentence in confusion_sentences(counts):
        st.markdown(f"- {sentence}")
    st.caption("Rows: the emotion the face showed; columns: what you answered.")
    st.dataframe(confusion_frame(counts), hide_index=True, width="stretch")
    st.caption("Your level per emotion in reading (pass a level with "
               f"{PASS_OF} of your last {PASS_WINDOW} right): 1 strong, 2 subtle, 3 blended with a look-alike.")
    st.dataframe(levels_frame(recognition_rounds(rows), TIERS, "right"), hide_index=True, width="stretch")


def progress(rows: list[dict]) -> None:
    st.header("📏 Progress: check-ups")
    done = checkups(rows)
    if not done:
        st.caption("No check-up yet. A check-up (about 2 minutes, no feedback) is offered at your first session "
                   "and then once a day, or choose **Check-up** on the Play page.")
        return
    if len(done) == 1:
        st.caption("One check-up so far: its scores are your starting point. Take another on a later day to see "
                   "the change.")
    changes = first_vs_latest(rows)
    if changes:
        st.caption(f"Your first check-up ({len(done[0])} trials) against your latest ({len(done[-1])} trials), "
                   "scored 0-100 by the independent judge. The interval is a 95% bootstrap interval of the change; "
                   "one emotion has 2 trials per check-up, too few for a verdict on its own: the last row pools "
                   "all emotions.")
        st.dataframe([{"emotion": c.emotion, "first": round(c.first), "latest": round(c.latest),
                       "change": f"{c.change:+.0f}", "95% interval": f"{c.low:+.0f} to {c.high:+.0f}",
                       "trials": f"{c.first_n} → {c.latest_n}", "what it says": c.sentence()} for c in changes],
                     hide_index=True, width="stretch")


def your_data(store, player: str, account) -> None:
    """Download every row of the player (JSON) and delete them all, after a confirmation."""
    st.header("🔐 Your data" if account else "🔐 This player's data")
    st.caption("Facematch keeps round scores, levels, reading answers, check-up scores and the coach's calibration "
               "numbers; never video or pictures" + (", and your name, email and groups from your sign-in." if account
                                                     else "."))
    data = store.player_data(player)
    st.download_button("Download my data (JSON)", json.dumps(data, indent=1, default=str).encode("utf-8"),
                       file_name="facematch_my_data.json", mime="application/json")
    if not st.session_state.get("confirm_delete"):
        st.button("Delete my data…", on_click=lambda: st.session_state.update(confirm_delete=player))
        return
    if st.session_state.confirm_delete != player:
        st.session_state.confirm_delete = None
        st.rerun()
    st.warning(f"This deletes all {sum(len(rows) for rows in data.values())} stored rows of "
               + ("yours" if account else f"“{player}”") + " for good: rounds, levels, check-ups, calibration"
               + (", your consent and your groups" if account else "") + ".")
    yes, no = st.columns(2)
    if yes.button("Yes, delete everything", type="primary"):
        removed = store.delete_player(player)
        st.session_state.confirm_delete = None
        if account:
            st.session_state.saving_off = account.key  # nothing is saved again unless they agree anew
            st.session_state.pop("signed_in", None)
        st.session_state.deleted = f"Deleted: {removed} rows. Nothing of " + (
            "yours" if account else f"“{player}”") + " is stored now."
        st.rerun()
    if no.button("Cancel"):
        st.session_state.confirm_delete = None
        st.rerun()


def groups_and_leaderboard_name(store, account) -> None:
    """A signed-in player: the groups they joined by invite code, and whether (and as whom) they are on the
    leaderboard."""
    st.header("👥 Groups and leaderboard")
    mine = store.account(account.key) or {}
    joined = store.groups_joined(account.key)
    st.caption("Your supervisor (a teacher, therapist or club lead) sees your levels and scores in the groups you "
               "belong to: " + (", ".join(sorted({*account.groups, *joined})) or "none yet") + ".")
    with st.form("join", clear_on_submit=True):
        code = st.text_input("Invite code", max_chars=20, placeholder="XXXX-XXXX")
        if st.form_submit_button("Join the group"):
            clean = clean_invite_code(code)
            group = store.join(account.key, clean) if clean else None
            if group:
                st.success(f"You joined {group}.")
            else:
                st.error("That is not an invite code here: check it with the person who gave it to you.")
    with st.form("leaderboard"):
        shown = st.toggle("Show me on the leaderboard", value=mine.get("leaderboard_name") is not None)
        name = st.text_input("as", value=mine.get("leaderboard_name") or account.display_name, max_chars=40)
        if st.form_submit_button("Save"):
            clean, message = clean_player_name(name)
            store.set_leaderboard_name(account.key, clean if shown else None)
            st.success((message + " " if message else "") + (f"You are on the leaderboard as “{clean}”." if shown
                                                              else "You are not on the leaderboard."))


def page() -> None:
    """The History page."""
    st.title("📈 History")
    try:
        store = get_store()  # one per server process (PostgreSQL: its connection pool)
    except FacematchError as exc:
        st.error(f"**The score history cannot be opened.** {exc}")
        st.stop()
    if st.session_state.get("deleted"):
        st.success(st.session_state.pop("deleted"))
    account = st.session_state.get("account")  # signed in: only their own rows, ever
    if account is not None:
        if not saving_allowed():
            st.info("You are playing without saving: nothing of yours is stored, so there is no history to show. "
                    "Sign out and in again to be asked once more.")
            st.stop()
        player = account.key
    else:
        players = store.players()
        if not players:
            st.info("No rounds played yet. Play a session on the main page; every finished round is saved here.")
            st.stop()
        current = st.session_state.get("player", DEFAULT_PLAYER)
        player = st.selectbox("Player", players, index=players.index(current) if current in players else 0)
    rows = store.rounds(player)
    st.markdown(f"**{streak(goal_days(rows), player_today()).text()}**")
    making_faces(rows)
    reading_faces([r for r in rows if r["mode"] == READING])
    progress(rows)

    st.header("Rounds")
    table = rounds_frame(rows).sort_values("played_at", ascending=False)
    if account is not None:
        table = table.drop(columns=["player"])  # all theirs: the opaque key means nothing to them
    # What a player reads first (on a phone only the first columns show): when, what, how well; the ids last.
    ids = ["session_id", "round_index", "model_id"]
    st.dataframe(table, hide_index=True, width="stretch",
                 column_order=[c for c in table.columns if c not in ids] + ids,
                 column_config={"played_at": st.column_config.DatetimeColumn("played at", format="YYYY-MM-DD HH:mm:ss"),
                                "peak_probability": st.column_config.NumberColumn("peak", format="%.2f"),
                                "time_to_match": st.column_config.NumberColumn("time to match (s)", format="%.1f"),
                                "held_back": st.column_config.TextColumn("held back by")})
    st.download_button("Download CSV", table.to_csv(index=False).encode("utf-8"),
                       file_name="facematch_history.csv", mime="text/csv")

    st.subheader("🏆 Leaderboard: best session totals")
    if account is not None:
        st.caption("Only players who chose to be shown, under the name they chose.")
    board = store.leaderboard(10, opted_in_only=account is not None)
    st.dataframe([{"rank": i + 1, "player": r["player"], "total": r["total"], "rounds": r["rounds"],
                   "matched": r["matched"], "started": r["started"]} for i, r in enumerate(board)],
                 hide_index=True, width="stretch")
    if account is not None:
        groups_and_leaderboard_name(store, account)
    your_data(store, player, account)
