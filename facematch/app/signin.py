"""Sign-in for a served Facematch: Streamlit's st.login (OpenID Connect) when .streamlit/secrets.toml has an
[auth] section; without one, local play (a name field, as on a laptop at home).

Signed in, the player *is* their account (facematch.play.accounts): pages read it from here, never from a
widget, a query parameter or anything else the browser sends. Every run checks the ID token's expiry (Streamlit
does not), and a first sign-in asks for consent before anything is saved.
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from facematch.app.resources import get_store
from facematch.config import groups_claim, supervisor_emails, supervisor_groups
from facematch.errors import FacematchError
from facematch.play.accounts import Account, SupervisorRule, account_from_claims, expired
from facematch.play.provider_check import client_problem

log = logging.getLogger(__name__)
STORED = ("round scores and levels, your answers when you read faces, check-up scores and, if you calibrate the "
          "coach, the 52 numbers that describe your resting face; with your name and email from your sign-in")


def configured() -> bool:
    """Whether this server has sign-in: an [auth] section in .streamlit/secrets.toml."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (Streamlit raises its own FileNotFoundError kind)
        return False


def supervisor_rule() -> SupervisorRule:
    return SupervisorRule(emails=supervisor_emails(), groups=supervisor_groups(), groups_claim=groups_claim())


@st.cache_data(ttl=60, show_spinner=False)
def _provider_problem(metadata_url: str, client_id: str, client_secret: str, redirect_uri: str,
                      method: str) -> str | None:
    problem = client_problem(metadata_url, client_id, client_secret, redirect_uri, method)
    if problem:
        log.error("Sign-in cannot work: %s", problem)
    return problem


def provider_problem() -> str | None:
    """What stops sign-in with the [auth] configuration (checked once a minute per server), or None."""
    auth = st.secrets["auth"]
    kwargs = auth.get("client_kwargs") or {}
    return _provider_problem(str(auth.get("server_metadata_url", "")), str(auth.get("client_id", "")),
                             str(auth.get("client_secret", "")), str(auth.get("redirect_uri", "")),
                             str(kwargs.get("token_endpoint_auth_method", "client_secret_basic")))


def _sign_in_screen() -> None:
    st.title("🎭 Facematch")
    st.write("Learn to make facial expressions, and to read them in others, with a game that watches your webcam.")
    problem = provider_problem()
    if problem:
        st.error(f"**Sign-in is not working on this server:** {problem}. Please tell the person who runs "
                 "Facematch here; the server log has the same message.")
    st.button("Sign in", type="primary", disabled=bool(problem), on_click=st.login)
    st.caption(f"This server keeps each player's history under their sign-in: {STORED}. Never video or pictures: "
               "the video is processed in memory. You can download or delete your data on the History page.")


def _consent_screen(account: Account) -> None:
    st.title(f"Welcome, {account.display_name}")
    st.write("Before you play: if you agree, Facematch saves " + STORED + ". That lets you see your levels and "
             "your progress over days. It never saves video or pictures. Only you can see your history, and the "
             "supervisor of a group you belong to (a teacher, therapist or club lead) sees your levels and scores. "
             "You can download or delete everything on the History page.")
    agree, decline = st.columns(2)
    if agree.button("Agree and save my rounds", type="primary"):
        try:
            store = get_store()
            store.sign_in(account.key, account.display_name, account.email, account.groups)
            store.consent(account.key)
        except FacematchError as exc:
            st.error(f"Your choice could not be saved: {exc}")
            st.stop()
        st.rerun()
    if decline.button("Play without saving"):
        st.session_state.saving_off = account.key
        st.rerun()


def saving_allowed() -> bool:
    """False when a signed-in player chose to play without saving (nothing of theirs is written)."""
    account = st.session_state.get("account")
    return account is None or st.session_state.get("saving_off") != account.key


def _sign_out() -> None:
    """Sign the player out: gate then draws the sign-in screen and calls st.logout on every run of this session
    until the browser has gone to /auth/logout (where the identity cookie is cleared; the navigation ends the
    session). Why not st.logout here: a run's start clears the session's outgoing messages on the server's event
    loop while the run goes on in its own thread, so a redirect sent first thing in a run (as a callback sends it)
    can be dropped when the server is busy, leaving the cookie to sign the same player in at the next load. Sent
    after the screen, the redirect reaches the browser whenever the screen does."""
    st.session_state.signing_out = True


def gate() -> Account | None:
    """Who plays in this browser: None in local play; signed in, their Account. Otherwise draws the sign-in (or
    consent) screen and stops the run."""
    if not configured():
        st.session_state.pop("account", None)
        return None
    signing_out = st.session_state.get("signing_out", False)
    if signing_out or not st.user.is_logged_in:
        _sign_in_screen()
        if signing_out:
            st.logout()  # after the screen, on every run (see _sign_out)
        st.stop()
    try:
        account = account_from_claims(st.user.to_dict(), supervisor_rule())
    except ValueError as exc:
        st.error(f"Signing you in did not work: {exc}.")
        st.button("Sign out", on_click=_sign_out)
        st.stop()
    if expired(account, time.time()):
        # Streamlit keeps the identity cookie for 30 days whatever the token says: end it here.
        log.info("An ID token expired: signing the player out")
        _sign_out()
        st.rerun()
    st.session_state.account = account
    st.session_state.player = account.key  # what every page plays and reads as, set on every run
    if st.session_state.get("saving_off") != account.key and st.session_state.get("signed_in") != account.key:
        try:
            row = get_store().account(account.key)
            if row is not None and row["consented_at"] is not None:
                get_store().sign_in(account.key, account.display_name, account.email, account.groups)
        except FacematchError as exc:
            st.warning(f"The history cannot be opened ({exc}); you can play, but nothing is saved now.")
        else:
            if row is None or row["consented_at"] is None:
                _consent_screen(account)
                st.stop()
        st.session_state.signed_in = account.key  # asked and recorded once per browser session
    with st.sidebar:
        st.caption(f"Signed in as **{account.display_name}**" + (" · supervisor" if account.supervisor else "")
                   + ("" if saving_allowed() else " · playing without saving"))
        st.button("Sign out", on_click=_sign_out, key="sign_out")
    return account
