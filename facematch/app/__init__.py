"""The Streamlit app: main.py (navigation), one page per file, and what the pages share. Pages only
draw; game rules, vision, cross-thread state and storage live in facematch.play."""
