"""End to end in real headless Chromium with a fake camera playing the shared video.

Starts `streamlit run app.py` on 127.0.0.1, clicks START, sees a detected emotion with its
percentage, plays one challenge round to its end, then finds that round in the SQLite
history and on the History page. Screenshots are kept under build/e2e/ (CI artifacts).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import REPO, VIDEO
from facematch import EMOTIONS
from facematch.game import session_targets

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "build" / "e2e"

if not os.path.exists(CHROMIUM):
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)
if not VIDEO.is_file():
    pytest.skip("shared video not present", allow_module_level=True)


def write_y4m(source, target, start_s: float, end_s: float) -> None:
    """Decode the mp4 with PyAV and write raw YUV 4:2:0 frames in Chromium's fake-camera format."""
    import av

    with av.open(str(source)) as container, open(target, "wb") as out:
        stream = container.streams.video[0]
        rate = stream.average_rate
        header_written = False
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            if t < start_s:
                continue
            if t > end_s:
                break
            yuv = frame.to_ndarray(format="yuv420p")
            if not header_written:
                out.write(f"YUV4MPEG2 W{frame.width} H{frame.height} F{rate.numerator}:{rate.denominator} "
                          f"Ip A1:1 C420jpeg\n".encode())
                header_written = True
            out.write(b"FRAME\n")
            out.write(np.ascontiguousarray(yuv).tobytes())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_with_first_target(emotion: str) -> int:
    return next(s for s in range(1000) if EMOTIONS[session_targets(s)[0]] == emotion)


@pytest.fixture(scope="module")
def camera_file():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "camera.y4m"
    if not path.exists():
        write_y4m(VIDEO, path, start_s=11.0, end_s=19.5)  # the laughing part of the clip
    return path


class AppServer:
    """`streamlit run app.py` on 127.0.0.1, killed by its PID (SIGKILL, as a crash would)."""

    def __init__(self, data_dir, env):
        self.data_dir, self.env, self.proc, self.log = data_dir, env, None, None

    def start(self) -> str:
        port = free_port()
        self.log = open(self.data_dir / "streamlit.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        started = time.time()
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self.url
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() - started > 60:
                raise RuntimeError(f"streamlit did not start:\n{(self.data_dir / 'streamlit.log').read_text()}")
            time.sleep(0.5)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL by PID, never by name
            self.proc.wait(timeout=10)
        if self.log:
            self.log.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("app")
    env = {**os.environ, "FACEMATCH_DB": str(data / "history.sqlite3"),
           "FACEMATCH_SEED": str(seed_with_first_target("happy")), "FACEMATCH_ROUND_SECONDS": "8",
           "PYTHONUNBUFFERED": "1"}
    server = AppServer(data, env)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.copy(data / "streamlit.log", ARTIFACTS / "streamlit.log")


@pytest.fixture(scope="module")
def browser(camera_file):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}"])
        yield browser
        browser.close()


def test_play_one_round_then_find_it_in_history_after_a_crash(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(app_server.url)
        start = page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START")
        start.click(timeout=60_000)

        detected = page.get_by_text(re.compile(r"Detected: \w+ \d+%"))
        detected.first.wait_for(timeout=60_000)
        text = detected.first.inner_text()
        assert re.search(r"Detected: (angry|disgust|fear|happy|sad|surprise|neutral) \d{1,3}%", text)
        page.get_by_text(re.compile(r"Make this face: .*HAPPY")).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "playing.png"), full_page=True)

        page.get_by_text(re.compile(r"Last round \(happy\): \d+ points")).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "round_finished.png"), full_page=True)

        db = app_server.env["FACEMATCH_DB"]
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT player, target, score, matched, round_index FROM rounds").fetchall()
        assert rows and rows[0][0] == "guest" and rows[0][1] == "happy" and rows[0][4] == 0
        assert 0 <= rows[0][2] <= 100
        finished = len(rows)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise
    finally:
        page.close()

    # Crash the app mid-session, start it again: every finished round is still there.
    app_server.kill()
    app_server.start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{app_server.url}/history")
        page.get_by_text("Leaderboard").first.wait_for()
        charts = page.locator("[data-testid='stVegaLiteChart']")
        charts.nth(1).wait_for()
        assert charts.count() == 2
        rounds_metric = page.locator("[data-testid='stMetric']").filter(has_text="Rounds").first
        assert int(re.search(r"Rounds\s*(\d+)", rounds_metric.inner_text()).group(1)) >= finished
        page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise
    finally:
        page.close()
