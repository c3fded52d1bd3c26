"""The app Streamlit runs (`facematch play`): sign-in (when configured) and navigation only. Each page is one
file beside this one."""

import streamlit as st

from facematch import native_logs
from facematch.app import history, play, roster, signin
from facematch.cli import configure_logging


def main() -> None:
    native_logs.quiet()  # once per server process: LiteRT's and MediaPipe's chatter stays out of the log
    configure_logging()  # facematch's warnings and errors (a failing video frame, once per kind) in the server log
    st.set_page_config(page_title="Facematch", page_icon="🎭", layout="wide")
    account = signin.gate()  # None: local play; else the signed-in player (or the run stops at sign-in)
    pages = [st.Page(play.page, title="Play", icon="🎭", url_path="play", default=True),
             st.Page(history.page, title="History", icon="📈", url_path="history")]
    if account is not None and account.supervisor:
        pages.append(st.Page(roster.page, title="My players", icon="🧑‍🏫", url_path="players"))
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
