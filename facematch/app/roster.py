"""My players (supervisors only): the roster of the supervisor's groups, its CSV, and invite codes. Who is in the
roster: facematch.play.accounts and HistoryStore.roster; the table: facematch.play.roster."""

import pandas as pd
import streamlit as st

from facematch.app.resources import get_store
from facematch.app.signin import supervisor_rule
from facematch.errors import FacematchError
from facematch.play.accounts import new_invite_code
from facematch.play.roster import roster_rows


def page() -> None:
    account = st.session_state.get("account")
    if account is None or not account.supervisor:  # the navigation lists this page for supervisors only
        st.error("This page is for supervisors.")
        st.stop()
    st.title("🧑‍🏫 My players")
    try:
        store = get_store()
        claim_groups = account.roster_groups(supervisor_rule())
        members = store.roster(account.key, claim_groups)
        rows = roster_rows(members, {m["player"]: store.rounds(m["player"]) for m in members})
        invites = store.invites(account.key)
    except FacematchError as exc:
        st.error(f"**The history cannot be opened.** {exc}")
        st.stop()
    st.caption("Players who share a group with you (from your sign-in: "
               + (", ".join(claim_groups) or "none") + ") or joined with one of your invite codes. Levels are "
               "Challenge levels (1-3); check-up scores (0-100) come from the independent judge, without feedback.")
    if not rows:
        st.info("No players yet. Give your players an invite code (below); each enters it once on their History page.")
    else:
        frame = pd.DataFrame(rows)
        st.dataframe(frame, hide_index=True, width="stretch")
        st.download_button("Download the roster (CSV)", frame.to_csv(index=False).encode("utf-8"),
                           file_name="facematch_roster.csv", mime="text/csv")

    st.subheader("Invite codes")
    with st.form("invite", clear_on_submit=True):
        group = st.text_input("Group name", max_chars=60, placeholder="e.g. Class 3B, Tuesday group")
        if st.form_submit_button("Make an invite code") and group.strip():
            try:
                store.create_invite(account.key, group.strip(), new_invite_code())
            except FacematchError as exc:
                st.error(f"The code could not be saved: {exc}")
            st.rerun()
    if invites:
        st.dataframe([{"code": i["code"], "group": i["group_name"], "made": i["created_at"][:10]} for i in invites],
                     hide_index=True, width="stretch")
