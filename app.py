"""Facematch entry point: `make run` (or `streamlit run app.py` after `make setup`).

Only navigation lives here. Each page is one file in views/ (not pages/: Streamlit would
list that folder's files a second time); everything that is not UI (rules, vision,
storage) lives in the facematch package.
"""

import streamlit as st

from facematch.cli import configure_logging

configure_logging()  # facematch's warnings and errors (a failing video frame, once per kind) in the server log

st.set_page_config(page_title="Facematch", page_icon="🎭", layout="wide")
page = st.navigation([
    st.Page("views/play.py", title="Play", icon="🎭", default=True),
    st.Page("views/history.py", title="History", icon="📈"),
])
page.run()
