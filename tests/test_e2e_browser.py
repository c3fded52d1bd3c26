"""End to end in real headless Chromium with a fake camera playing the shared video.

Starts the game as a player does (`facematch play`) on 127.0.0.1, clicks START, sees a detected emotion with its
percentage, plays one challenge round to its end, hears the coach tell a laughing player asked
for sad to change their mouth, then finds the rounds (and the coach's verdict) in the SQLite
history and on the History page. Screenshots are kept under build/e2e/ (CI artifacts).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import numpy as np
import pytest

from conftest import MODEL_DIR, REPO, VIDEO
from facematch import EMOTIONS
from facematch.fake_camera import CHROMIUM, chromium_args, write_y4m
from facematch.play.rules import session_targets

pytestmark = pytest.mark.browser
PLAYER = "Zoë <b>O'Brien</b> **x**; DROP rounds"  # stored and shown literally (37 chars)
ARTIFACTS = REPO / "build" / "e2e"

if not os.path.exists(CHROMIUM):
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)
if not VIDEO.is_file():
    pytest.skip("sample video not installed (facematch setup sample_video)", allow_module_level=True)


def write_two_face_y4m(source, target, times=(15.0, 3.0), frames: int = 30) -> None:
    """A still of two faces side by side (the same person at two moments of the video), as a y4m.

    Each half is a 320 px wide window centred on that moment's face, found by the game's own detector.
    """
    import av

    from facematch.play.vision import FaceDetector

    wanted, images = sorted(times), {}
    with av.open(str(source)) as container:
        for frame in container.decode(container.streams.video[0]):
            t = float(frame.pts * frame.time_base)
            for w in wanted:
                if w not in images and t >= w:
                    images[w] = frame.to_ndarray(format="bgr24")
            if len(images) == len(wanted):
                break
    detector, halves = FaceDetector(), []
    for t in times:
        image = images[t]
        (x, _, w, _), _ = detector.detect(image)[0]
        left = int(min(max(0, x + w / 2 - 160), image.shape[1] - 320))
        halves.append(image[:, left:left + 320])
    write_still_y4m(np.hstack(halves), target, frames)


def write_still_y4m(image_bgr: np.ndarray, target, frames: int = 30) -> None:
    """One BGR image as a still .y4m of `frames` frames at 15 fps (Chromium loops it)."""
    yuv = cv2_yuv420(image_bgr)
    height, width = image_bgr.shape[:2]
    with open(target, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + yuv.tobytes())


def cv2_yuv420(image_bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2YUV_I420)


def local_addresses() -> set[str]:
    """This machine's own IPv4/IPv6 addresses (the kernel's LOCAL routes), loopback included."""
    addresses = {"127.0.0.1", "::1", "0.0.0.0", "::"}
    lines = open("/proc/net/fib_trie").read().splitlines()
    for previous, line in zip(lines, lines[1:]):
        if "/32 host LOCAL" in line:
            addresses.add(previous.split()[-1])
    try:
        for line in open("/proc/net/if_inet6"):
            raw = line.split()[0]
            addresses.add(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except OSError:
        pass
    return addresses


def _decode(address: str) -> str:
    host, _ = address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    mapped = ipaddress.IPv6Address(words)
    return str(mapped.ipv4_mapped or mapped)


def remote_addresses(pid: int) -> set[str]:
    """Remote addresses of every TCP/UDP socket the process holds (from /proc, no extra tools)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    remotes = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                remotes.add(_decode(fields[2]))
    return remotes


def files_under(*roots) -> set:
    skip = {".venv", ".git", "build", "__pycache__", ".pytest_cache", ".hypothesis"}
    found = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
            found.update(os.path.join(dirpath, f) for f in filenames)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_with_first_targets(*emotions: str) -> int:
    return next(s for s in range(1000) if tuple(EMOTIONS[i] for i in session_targets(s)[:len(emotions)]) == emotions)


@pytest.fixture(scope="module")
def camera_file():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "camera.y4m"
    if not path.exists():
        write_y4m(VIDEO, path, start_s=11.0, end_s=19.5)  # the laughing part of the clip
    return path


class AppServer:
    """`facematch play` on 127.0.0.1 (it execs Streamlit in the same process), killed by its PID (SIGKILL,
    as a crash would)."""

    def __init__(self, data_dir, env):
        self.data_dir, self.env, self.proc, self.log = data_dir, env, None, None

    def start(self, port: int | None = None) -> str:
        port = port or free_port()
        self.log = open(self.data_dir / "streamlit.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facematch", "play", "--host", "127.0.0.1", "--port", str(port)],
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
    (data / "tmp").mkdir()
    (data / "home").mkdir()
    env = {**os.environ, "FACEMATCH_DB": str(data / "history.sqlite3"), "TMPDIR": str(data / "tmp"),
           "HOME": str(data / "home"),
           "FACEMATCH_SEED": str(seed_with_first_targets("happy", "sad")), "FACEMATCH_ROUND_SECONDS": "8",
           "PYTHONUNBUFFERED": "1"}
    server = AppServer(data, env)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.copy(data / "streamlit.log", ARTIFACTS / "streamlit.log")


def launch_chromium(playwright, camera_file):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(camera_file))


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:  # one per module: Playwright's sync API cannot nest
        yield p


@pytest.fixture(scope="module")
def browser(playwright, camera_file):
    browser = launch_chromium(playwright, camera_file)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def two_face_browser(playwright):
    """A browser whose fake camera shows two faces side by side (for Duel)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "two_faces.y4m"
    if not path.exists():
        write_two_face_y4m(VIDEO, path)
    browser = launch_chromium(playwright, path)
    yield browser
    browser.close()


def choose_mode(page, mode: str) -> None:
    """Click `mode` in the sidebar's Mode radio (the page's tips name modes too, e.g. the camera tip's
    "Snapshot (no camera)", so a bare text locator can match two elements once the page has drawn)."""
    page.get_by_test_id("stSidebar").get_by_role("radiogroup").get_by_text(mode, exact=True).click()


def enter_name(page, name: str, label: str = "Your name") -> None:
    box = page.get_by_label(label)
    box.fill(name)
    box.press("Enter")


DETECTED = re.compile(r"Detected: \w+ \d+%")


def press_start(page, playing=DETECTED, tries: int = 3) -> None:
    """Press START, then wait until the page shows `playing` (text the game draws only from judged frames).

    A click that lands while the page is still rerunning (after a name was entered) can be lost, and on
    a loaded machine a connection can come up without frames reaching the game; then press STOP (if
    shown) and START again, as a player would. Each try gets 60 s; the last failure is raised."""
    from playwright.sync_api import Error as PlaywrightError

    component = page.frame_locator("iframe[title*='streamlit_webrtc']")
    for attempt in range(tries):
        try:
            # While a rerun after a mode switch or START is under way, the old run's stale elements (its webcam
            # among them) are still on the page beside the new one's: wait until there is one webcam.
            page.wait_for_function(
                "document.querySelectorAll(\"iframe[title*='streamlit_webrtc']\").length === 1", timeout=60_000)
            if not component.get_by_role("button", name="STOP").count():
                component.get_by_role("button", name="START").click(timeout=60_000)
            component.get_by_role("button", name="STOP").wait_for(timeout=20_000)
            page.get_by_text(playing).first.wait_for(timeout=60_000)
            return
        except PlaywrightError as exc:  # a time-out, or two webcams for a moment ("strict mode violation")
            if attempt == tries - 1:
                raise
            print(f"press_start: try {attempt + 1} saw no {playing!r} ({str(exc)[:200]}); page said:\n"
                  f"{page_text(page)}")
            if "strict mode violation" in str(exc):
                continue  # the stream may be coming up: look again once the page has one webcam
            stop = component.get_by_role("button", name="STOP")
            if stop.count() == 1:
                stop.click()


def page_text(page, limit: int = 2000) -> str:
    try:
        return page.inner_text("body", timeout=5_000)[-limit:]
    except Exception as exc:  # the page itself may be what broke
        return f"(page text unavailable: {exc})"


@contextmanager
def open_page(browser, server: AppServer | None = None, viewport: dict | None = None):
    """A page for one test, closed after (a 1400 x 1000 window unless `viewport` says). If the test fails: a
    screenshot under build/e2e/failure.png, and the page's text and the server log's tail printed (pytest
    shows them with the failure)."""
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        yield page
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        print(f"--- page text at the failure:\n{page_text(page)}")
        if server is not None and server.log is not None:
            server.log.flush()
            log = (server.data_dir / "streamlit.log").read_text(errors="replace")
            print(f"--- streamlit log (last 4000 characters):\n{log[-4000:]}")
        raise
    finally:
        page.close()


def test_start_holds_at_the_first_click_right_after_the_page_loads(browser, tmp_path):
    """START clicked once, as soon as it is enabled, with no retry: on the first page a fresh server
    serves (it loads the models meanwhile) and on the next, twice over. The stream stays up and its
    frames are judged. (A cached function's spinner on the first run used to move the component on
    the next run, which remounted it and ended the stream just started.)"""
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "FACEMATCH_DB": str(tmp_path / "h.sqlite3"), "TMPDIR": str(tmp_path / "tmp"),
           "PYTHONUNBUFFERED": "1"}
    for _server in range(2):
        server = AppServer(tmp_path, env)
        server.start()
        try:
            for _visit in range(2):  # the server's first page (cold) and a second one (warm)
                with open_page(browser, server) as page:
                    page.goto(server.url)
                    component = page.frame_locator("iframe[title*='streamlit_webrtc']")
                    # Playwright clicks as soon as the button is visible, enabled and still: once.
                    component.get_by_role("button", name="START").click(timeout=60_000)
                    page.get_by_text(DETECTED).first.wait_for(timeout=60_000)
                    page.wait_for_timeout(2_000)
                    assert component.get_by_role("button", name="STOP").count() == 1  # still streaming
                    assert component.get_by_role("button", name="START").count() == 0
        finally:
            server.kill()


def test_play_one_round_then_find_it_in_history_after_a_crash(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    before = files_under(REPO, app_server.data_dir)
    try:
        page.goto(app_server.url)
        enter_name(page, PLAYER)
        press_start(page)

        detected = page.get_by_text(re.compile(r"Detected: \w+ \d+%"))
        detected.first.wait_for(timeout=60_000)
        text = detected.first.inner_text()
        assert re.search(r"Detected: (angry|disgust|fear|happy|sad|surprise|neutral) \d{1,3}%", text)
        # The first target is happy; a model that sees the smile at once may already have finished that round.
        page.get_by_text(re.compile(r"Make this face: .*HAPPY|Last round \(happy\)")).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "playing.png"), full_page=True)
        # The face to make, drawn (an SVG), and beside it the player's own face as the coach reads it,
        # which follows the camera.
        page.locator("figure[data-face='target'] svg").first.wait_for()
        page.get_by_text(re.compile(r"(Happy|Sad) · level 1: show it \(hold 0.5 s\)")).first.wait_for()
        mirror = page.locator("figure[data-face='mirror']").filter(has_text="You, as the coach sees you").first
        mirror.wait_for(timeout=20_000)
        first = mirror.inner_html()
        page.wait_for_timeout(1_500)
        assert mirror.inner_html() != first, "the mirror face did not follow the player"
        page.locator("figure[data-face='target']").first.locator("xpath=..").screenshot(
            path=str(ARTIFACTS / "faces.png"))

        # While the video streams: the app talks only to addresses of this machine (no STUN, nothing outside).
        remotes = remote_addresses(app_server.proc.pid)
        assert remotes <= local_addresses(), f"outbound connections to {remotes - local_addresses()}"

        page.get_by_text(re.compile(r"Last round \(happy\): \d+ points")).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "round_finished.png"), full_page=True)
        # The round's best moment (the player's face at its peak) beside the face that was asked for.
        moment = page.locator("[data-face='moment']").first
        moment.wait_for()
        assert moment.locator("img").get_attribute("src").startswith("data:image/jpeg;base64,")
        assert "Your best moment: happy" in moment.inner_text() and moment.locator("svg").count() == 1

        # Round 2 asks for sad while the camera keeps laughing: the coach names the mouth first.
        page.get_by_text(re.compile(r"Make this face: .*SAD")).first.wait_for()
        coach = page.get_by_text(re.compile(r"^Coach: .*(mouth|lips)"))
        coach.first.wait_for(timeout=20_000)
        assert "smile" in coach.first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "coach.png"), full_page=True)
        page.get_by_text(re.compile(r"Last round \(sad\): \d+ points.*What held you back: smile")).first.wait_for(
            timeout=30_000)

        db = app_server.env["FACEMATCH_DB"]
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT player, target, score, matched, round_index FROM rounds").fetchall()
        assert rows and rows[0][0] == PLAYER and rows[0][1] == "happy" and rows[0][4] == 0
        assert 0 <= rows[0][2] <= 100
        with sqlite3.connect(db) as conn:
            verdict = conn.execute("SELECT held_back FROM rounds WHERE target = 'sad'").fetchone()
            columns = [c[1] for c in conn.execute("PRAGMA table_info(rounds)")]
            kinds = {t for column in columns for (t,) in conn.execute(f"SELECT DISTINCT typeof({column}) FROM rounds")}
        assert "blob" not in kinds  # no image of the player reached the database
        assert verdict == ("AU12",)  # saved with the round: the smile held the player back
        finished = len(rows)

        # Privacy: playing wrote no frame or image anywhere, only the score database and the log.
        created = files_under(REPO, app_server.data_dir) - before
        # matplotlib (imported by mediapipe) caches its font list on first use: not player data.
        new_files = {os.path.basename(f) for f in created if "/.cache/matplotlib/" not in f}
        assert new_files <= {"history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm", "streamlit.log"}, \
            new_files
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
        selected = page.locator("[data-testid='stSelectbox'] input").first
        assert PLAYER in (selected.input_value() or selected.get_attribute("aria-label") or "")  # literally
        rounds_metric = page.locator("[data-testid='stMetric']").filter(has_text="Rounds").first
        assert int(re.search(r"Rounds\s*(\d+)", rounds_metric.inner_text()).group(1)) >= finished
        page.get_by_text("What the coach saw holding you back").first.wait_for()
        page.get_by_text("Your level per emotion").first.wait_for()  # levels and how far to the next
        assert page.get_by_text("No coached rounds yet").count() == 0
        page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise
    finally:
        page.close()


def test_a_damaged_model_shows_a_clear_message_not_a_traceback(browser, tmp_path):
    broken = tmp_path / "model"
    shutil.copytree(MODEL_DIR, broken)
    (broken / "model.tflite").write_bytes((broken / "model.tflite").read_bytes()[:1000])  # truncated
    (tmp_path / "tmp").mkdir()
    server = AppServer(tmp_path, {**os.environ, "FACEMATCH_MODEL": str(broken), "TMPDIR": str(tmp_path / "tmp"),
                                  "FACEMATCH_DB": str(tmp_path / "h.sqlite3")})
    server.start()
    page = browser.new_page()
    try:
        page.goto(server.url)
        page.get_by_text("Facematch cannot start its models").first.wait_for(timeout=60_000)
        assert page.get_by_text("Restore the shipped model").count() >= 1
        assert page.get_by_text("Traceback").count() == 0
        page.screenshot(path=str(ARTIFACTS / "damaged_model.png"), full_page=True)
    finally:
        page.close()
        server.kill()


PHONE = {"width": 390, "height": 844}  # a phone held upright, in CSS pixels


def test_on_a_phone_the_player_sees_their_face_and_the_target_at_once(app_server, browser):
    """On a phone-sized screen the columns stack, so the target, the coach and the scores come below the video.
    Scrolled down to the target, the player still sees the video (it stays at the top of the screen, not under
    the target), and the camera help, needed only before the video plays, no longer pushes the panel down."""
    with open_page(browser, app_server, viewport=PHONE) as page:
        page.goto(app_server.url)
        press_start(page)
        assert page.get_by_text("No camera?").count() == 0
        target = page.get_by_text(re.compile(r"Make this face: ")).first
        page.mouse.move(PHONE["width"] / 2, PHONE["height"] - 100)
        page.mouse.wheel(0, target.bounding_box()["y"] - PHONE["height"] * 0.6)  # a finger's scroll
        page.wait_for_timeout(1_000)
        page.screenshot(path=str(ARTIFACTS / "phone_playing.png"))
        video = page.locator("iframe[title*='streamlit_webrtc']").bounding_box()
        shown = target.bounding_box()
        assert 0 <= video["y"] and video["y"] + video["height"] <= shown["y"], (video, shown)
        assert shown["y"] + shown["height"] <= PHONE["height"], shown
        # What scrolls under the video's column does not show through it: it has the page's own colour.
        colours = page.evaluate("""() => [document.querySelector('[data-testid="stApp"]'),
            document.querySelector("iframe[title*='streamlit_webrtc']").closest('[data-testid="stColumn"]')]
            .map(e => getComputedStyle(e).backgroundColor)""")
        assert colours[0] == colours[1] != "rgba(0, 0, 0, 0)", colours


def test_on_a_phone_the_face_to_read_and_all_seven_answers_fit_on_one_screen(app_server, playwright):
    """Reading a face has 8 s: on a phone the face, the time left and every answer are on the screen at once,
    with no scrolling to find an emotion."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)  # no camera needed
    try:
        with open_page(browser, app_server, viewport=PHONE) as page:
            page.goto(app_server.url)
            page.get_by_test_id("stExpandSidebarButton").click()  # a phone shows the sidebar only when asked
            choose_mode(page, "Read faces (no camera)")
            page.get_by_test_id("stSidebarCollapseButton").click()
            page.get_by_text(re.compile("Face 1 of 10")).wait_for()
            shown = [page.locator("figure[data-face='shown'] svg"), page.get_by_text(re.compile(r"s left$"))]
            shown += [page.get_by_role("button", name=re.compile(emotion)) for emotion in EMOTIONS]
            for element in shown:
                element.wait_for()
            page.screenshot(path=str(ARTIFACTS / "phone_reading.png"))
            for element in shown:
                box = element.bounding_box()
                assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], (element, box)
                assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], (element, box)
    finally:
        browser.close()


def test_snapshot_mode_scores_a_round_from_a_photo(app_server, browser):
    with open_page(browser, app_server) as page:
        page.goto(app_server.url)
        choose_mode(page, "Snapshot (no camera)")
        page.get_by_text(re.compile(r"Make this face: .*HAPPY")).first.wait_for(timeout=60_000)
        # Take the photo only once the camera shows frames (a click before that captures nothing).
        page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stCameraInput"] video')]
                                        .some(v => v.readyState >= 2 && v.videoWidth > 0)""", timeout=60_000)
        page.get_by_role("button", name="Take Photo").click(timeout=60_000)
        page.get_by_text(re.compile(r"Round score: \d+ points")).first.wait_for(timeout=60_000)
        page.get_by_text(re.compile(r"^Coach: ")).first.wait_for()  # the coach reads the photo too
        page.screenshot(path=str(ARTIFACTS / "snapshot_round.png"), full_page=True)
        with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:
            modes = [r[0] for r in conn.execute("SELECT mode FROM rounds WHERE target = 'happy'")]
        assert "snapshot" in modes


def test_duel_tracks_two_players_and_records_a_round_for_each(app_server, two_face_browser):
    with open_page(two_face_browser, app_server) as page:
        page.goto(app_server.url)
        choose_mode(page, "Duel")
        for label, name in (("Player 1 (left)", "Lefty"), ("Player 2 (right)", "Righty")):
            enter_name(page, name, label)
        press_start(page, playing="Both players are in the picture.")
        page.get_by_text(re.compile(r"Player 1: Lefty")).first.wait_for()
        page.get_by_text(re.compile(r"Player 2: Righty")).first.wait_for()
        page.locator("figure[data-face='target'] svg").first.wait_for()  # the face both players make
        page.screenshot(path=str(ARTIFACTS / "duel.png"), full_page=True)
        # The first target is happy and only the left face smiles: Player 1 wins the round. The round's
        # own line shows only during the next round (8 s), which a loaded machine's page can miss, so
        # the tally (shown from then to the end of the duel) and the saved rounds are what is checked.
        page.get_by_text(re.compile(r"rounds won: Lefty [1-7]|Lefty [1-7] rounds won")).first.wait_for(
            timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "duel_round.png"), full_page=True)
        deadline, rows = time.time() + 30, []
        while len(rows) < 2 and time.time() < deadline:  # the page says it before the save returns
            with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:
                rows = conn.execute("SELECT player, target, matched, session_id FROM rounds WHERE mode = 'duel' "
                                    "AND round_index = 0 ORDER BY id").fetchall()
            time.sleep(0.2)
        assert [(r[0], r[1], r[2]) for r in rows[:2]] == [("Lefty", "happy", 1), ("Righty", "happy", 0)]
        assert rows[0][3] == rows[1][3]  # one session, both players


def test_calibrating_the_coach_stores_the_players_resting_face(app_server, browser):
    with open_page(browser, app_server) as page:
        page.goto(app_server.url)
        choose_mode(page, "Practice")
        enter_name(page, "Cal")
        page.get_by_text("Tip: calibrate the coach once").first.wait_for()
        press_start(page)
        page.get_by_role("button", name=re.compile("Calibrate the coach")).click()
        page.get_by_text(re.compile(r"Calibrating: hold a relaxed, neutral face")).first.wait_for()
        page.get_by_text(re.compile(r"Calibrated ✓ .* The judge read it as \w+ \d+%")).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "calibrated.png"), full_page=True)
        with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:
            rows = conn.execute("SELECT blendshapes, probabilities, frames FROM baselines "
                                "WHERE player = 'Cal'").fetchall()
        assert len(rows) == 1 and rows[0][2] >= 5
        shapes, probs = json.loads(rows[0][0]), json.loads(rows[0][1])
        assert len(shapes) == 52 and shapes["mouthSmileLeft"] > 0.3  # the camera laughs: that is this face's rest
        assert abs(sum(probs.values()) - 1) < 1e-3


def test_with_postgresql_rounds_reach_the_history_page_and_an_outage_loses_no_round_said_saved(
        postgres_server, browser, tmp_path):
    import psycopg

    url = postgres_server.new_database()
    (tmp_path / "tmp").mkdir()
    targets = [EMOTIONS[i] for i in session_targets(seed_with_first_targets("happy", "sad"))]
    env = {**os.environ, "FACEMATCH_DB": url, "TMPDIR": str(tmp_path / "tmp"), "PYTHONUNBUFFERED": "1",
           "FACEMATCH_SEED": str(seed_with_first_targets("happy", "sad")), "FACEMATCH_ROUND_SECONDS": "8"}
    server = AppServer(tmp_path, env)
    server.start()

    def saved() -> list:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT player, target, round_index FROM rounds ORDER BY id").fetchall()

    try:
        with open_page(browser, server) as page:
            page.goto(server.url)
            enter_name(page, "Pat")
            press_start(page)
            page.get_by_text(re.compile(r"Last round \(happy\): \d+ points")).first.wait_for(timeout=60_000)
            assert saved() == [("Pat", "happy", 0)]

            postgres_server.stop()  # the database goes away during round 2
            try:
                page.get_by_text("could not be saved to the history database").first.wait_for(timeout=30_000)
                page.get_by_text(re.compile(r"Last round \(sad\): \d+ points")).first.wait_for()  # still counted
                assert page.get_by_text("Check that the server is running").count() >= 1
                assert page.get_by_text("Traceback").count() == 0
                page.screenshot(path=str(ARTIFACTS / "postgres_down.png"), full_page=True)
            finally:
                postgres_server.start()
            page.get_by_text(re.compile(rf"Last round \({targets[2]}\): \d+ points")).first.wait_for(timeout=30_000)
            assert saved() == [("Pat", "happy", 0), ("Pat", targets[2], 2)]  # round 2 was never said saved

            page.goto(f"{server.url}/history")
            rounds_metric = page.locator("[data-testid='stMetric']").filter(has_text="Rounds").first
            rounds_metric.wait_for()
            assert re.search(r"Rounds\s*2\b", rounds_metric.inner_text())
            page.screenshot(path=str(ARTIFACTS / "postgres_history.png"), full_page=True)
    finally:
        server.kill()


def test_reading_faces_needs_no_camera_saves_each_answer_and_history_shows_the_confusions(app_server, playwright):
    reader = "Reader"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)  # no camera at all
    try:
        with open_page(browser, app_server) as page:
            page.goto(app_server.url)
            enter_name(page, reader)
            choose_mode(page, "Read faces (no camera)")
            answers = []
            for i in range(10):
                page.get_by_text(re.compile(rf"Face {i + 1} of 10")).wait_for()
                page.locator("figure[data-face='shown'] svg").wait_for()
                page.get_by_role("button", name=re.compile("neutral")).wait_for()
                if i == 0:
                    page.get_by_role("button", name=re.compile("surprise")).click()  # a click answers
                    answers.append("surprise")
                elif i == 1:  # no answer: the time runs out and the face counts as missed
                    page.get_by_text(re.compile("Time's up: it was")).wait_for(timeout=15_000)
                    answers.append(None)
                verdict = page.get_by_text(re.compile(r"^(✅ Right: |❌ It was |❌ Time's up)")).first
                if i >= 2:  # the keys 1-7 answer too (pressed again if a press landed during a redraw)
                    for _ in range(3):
                        page.keyboard.press(str(1 + i % 7))
                        try:
                            verdict.wait_for(timeout=2_000)
                            break
                        except Exception:
                            pass
                    answers.append(EMOTIONS[i % 7])
                verdict.wait_for(timeout=10_000)
                said = verdict.inner_text()
                page.locator("figure[data-face='shown']").filter(has_text="It showed").wait_for()
                if "Right" not in said and "it was neutral" not in said:  # a miss rings the tell-tale cues
                    page.locator("figure[data-face='shown'] g[data-cue]").first.wait_for()
                if i == 0:
                    page.screenshot(path=str(ARTIFACTS / "reading_feedback.png"), full_page=True)
                after = rf"Face {i + 2} of 10" if i < 9 else r"Session over: \d+ of 10 read right"
                click_until(page, page.get_by_role("button", name=re.compile("Next face|See the result")),
                            page.get_by_text(re.compile(after)))
            with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:
                rows = conn.execute("SELECT target, answer, answer_s, matched, level, intensity, model_id FROM rounds "
                                    "WHERE player = ? AND mode = 'recognition' ORDER BY round_index",
                                    (reader,)).fetchall()
            assert [r[1] for r in rows] == answers
            assert rows[1][2] is None and all(r[2] is not None and 0 < r[2] < 8 for i, r in enumerate(rows) if i != 1)
            assert all(bool(r[3]) == (r[0] == r[1]) for r in rows)
            assert {(r[4], r[5], r[6]) for r in rows} == {(1, 1.0, "avatar-1")}  # a new reader: strong faces

            page.get_by_role("link", name=re.compile("History")).click()
            page.get_by_text("Reading faces").first.wait_for()
            page.get_by_text(re.compile(r"Rows: the emotion the face showed")).wait_for()
            shown_as = [(r[0], r[1]) for r in rows if r[1] is not None and r[1] != r[0]]
            if shown_as:  # the most frequent mistake is put into words
                page.get_by_text(re.compile(r"^You read \w+ as \w+ (once|\d+ times): ")).first.wait_for()
            table = page.locator("[data-testid='stDataFrame']").filter(has_text="time's up")
            table.first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "reading_history.png"), full_page=True)
    finally:
        browser.close()


def click_until(page, button, shown, tries: int = 3) -> None:
    """Click `button` until `shown` appears: a click that lands while the page is still rerunning can be
    lost (as for START, see press_start), and a player then clicks again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        if button.count():
            button.click()
        try:
            shown.first.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


FEEDBACK = re.compile(r"Coach:|Detected:|\d+ ?%|points|Score now|Make this face")


def test_a_checkup_shows_no_feedback_until_it_ends_and_progress_compares_it_with_the_first(app_server, browser):
    player = "Checker"
    first_session = "first-checkup"
    with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:  # a check-up taken weeks ago, happy weakly shown
        conn.executemany(
            "INSERT INTO rounds (player, played_at, session_id, round_index, target, score, matched, "
            "peak_probability, model_id, mode, level, local_date) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, 'checkup', 1, ?)",
            [(player, f"2026-11-01T10:00:{i:02d}+00:00", first_session, i, emotion, 5, "fer_mini_xception@old",
              "2026-11-01") for i, emotion in enumerate(list(EMOTIONS) * 2)])
    with open_page(browser, app_server) as page:
        page.goto(app_server.url)
        enter_name(page, player)
        choose_mode(page, "Check-up")
        page.get_by_text("Press START to turn on your webcam and begin").wait_for(timeout=60_000)
        press_start(page, playing=re.compile(r"Trial 1 of 14"))
        seen, started = set(), time.time()
        main = page.locator("[data-testid='stMain']")
        while not page.get_by_text("Check-up done").count():
            assert time.time() - started < 240, "the check-up did not end"
            text = main.inner_text()
            found = FEEDBACK.findall(text)
            assert not found, f"feedback during the check-up: {found}"
            assert page.locator("[data-face]").count() == 0  # no drawn face, no mirror face
            seen.update(re.findall(r"Trial (\d+) of 14", text))
            page.wait_for_timeout(300)
        assert len(seen) >= 12  # the trials went by one after another
        page.screenshot(path=str(ARTIFACTS / "checkup_done.png"), full_page=True)
        with sqlite3.connect(app_server.env["FACEMATCH_DB"]) as conn:
            rows = conn.execute("SELECT target, score, model_id, recipe_distance FROM rounds WHERE player = ? "
                                "AND mode = 'checkup' AND session_id != ?", (player, first_session)).fetchall()
        assert len(rows) == 14 and sorted(r[0] for r in rows) == sorted(list(EMOTIONS) * 2)
        assert {r[2] for r in rows} == {"fer_mini_xception@a64ec8b1231a"}  # the independent judge scored them
        happy = [r[1] for r in rows if r[0] == "happy"]
        assert min(happy) >= 50  # the camera laughs: the independent judge sees it
        assert all(r[3] is not None for r in rows)

        page.get_by_role("link", name=re.compile("History")).click()
        page.get_by_text("Progress: check-ups").first.wait_for()
        progress = page.locator("[data-testid='stDataFrame']").filter(has_text="95% interval")
        progress.first.wait_for()
        page.get_by_text(re.compile(r"Your first check-up \(14 trials\) against your latest \(14 trials\)")).wait_for()
        page.screenshot(path=str(ARTIFACTS / "progress.png"), full_page=True)


def test_in_a_study_the_sham_arm_sees_a_coached_players_recorded_feedback_and_nothing_of_its_own(
        browser, tmp_path):
    from facematch.play.study import assign_arm

    key = "e2e-study"
    coached, sham = (next(f"P{i}" for i in range(100) if assign_arm(f"P{i}", key) == arm)
                     for arm in ("coached", "sham"))
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "FACEMATCH_DB": str(tmp_path / "study.sqlite3"), "FACEMATCH_STUDY": key,
           "FACEMATCH_SEED": str(seed_with_first_targets("happy", "sad")), "FACEMATCH_ROUND_SECONDS": "6",
           "TMPDIR": str(tmp_path / "tmp"), "PYTHONUNBUFFERED": "1"}
    server = AppServer(tmp_path, env)
    server.start()
    try:
        with open_page(browser, server) as page:  # the coached player: the game as it is, recorded
            page.goto(server.url)
            enter_name(page, coached)
            assert page.get_by_text("Duel").count() == 0  # a study offers Challenge and Check-up only
            press_start(page)
            page.get_by_text(re.compile(r"Last round \(happy\)")).first.wait_for(timeout=60_000)
        with sqlite3.connect(env["FACEMATCH_DB"]) as conn:
            traces = conn.execute("SELECT player, target FROM feedback_traces").fetchall()
        assert (coached, "happy") in traces
        with open_page(browser, server) as page:  # the sham player: another player's feedback, replayed
            page.goto(server.url)
            enter_name(page, sham)
            press_start(page, playing=re.compile(r"Round 1 / 7"))
            page.get_by_text(re.compile(r"Score now: \d+")).first.wait_for(timeout=30_000)
            for _ in range(10):
                text = page.locator("[data-testid='stMain']").inner_text()
                assert "Detected:" not in text and "(smoothed)" not in text  # nothing of the player's own verdict
                assert page.locator("figure[data-face='mirror']").count() == 0
                page.wait_for_timeout(400)
            page.get_by_text(re.compile(r"^Coach: ")).first.wait_for(timeout=20_000)  # the replayed line
            page.screenshot(path=str(ARTIFACTS / "study_sham.png"), full_page=True)
    finally:
        server.kill()


def test_in_a_crowd_both_duel_seats_get_their_own_coach(app_server, playwright):
    from conftest import crowd_frame

    path = ARTIFACTS / "crowd.y4m"
    write_still_y4m(crowd_frame(), path)
    browser = launch_chromium(playwright, path)
    try:
        with open_page(browser, app_server) as page:
            page.goto(app_server.url)
            choose_mode(page, "Duel")
            for label, name in (("Player 1 (left)", "Crowd L"), ("Player 2 (right)", "Crowd R")):
                enter_name(page, name, label)
            press_start(page, playing="Both players are in the picture.")
            lines = page.get_by_text(re.compile(r"^Coach: "))
            deadline = time.time() + 60
            while time.time() < deadline:
                texts = [lines.nth(i).inner_text() for i in range(lines.count())]
                if len(texts) >= 2 and not any("show me your face" in t for t in texts):
                    break
                page.wait_for_timeout(500)
            assert len(texts) >= 2 and not any("show me your face" in t for t in texts), texts
            page.screenshot(path=str(ARTIFACTS / "crowd_duel.png"), full_page=True)
    finally:
        browser.close()


def test_when_the_video_cannot_connect_the_player_is_told_what_to_do_not_left_with_a_spinner(app_server, browser):
    """A network with no path for the video (as behind a firewall that blocks WebRTC): the page's peer connections
    may use relayed candidates only, and there is no TURN server to relay them. ICE fails, the component falls
    back to START, and the page says why and what to try."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script("""(() => {
        const Native = window.RTCPeerConnection;
        if (!Native) return;
        window.RTCPeerConnection = function (config) {
            return new Native({...(config || {}), iceTransportPolicy: "relay"});
        };
        window.RTCPeerConnection.prototype = Native.prototype;
    })();""")
    page = context.new_page()
    try:
        page.goto(app_server.url)
        component = page.frame_locator("iframe[title*='streamlit_webrtc']")
        component.get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text("The video connection is not coming up").wait_for(timeout=120_000)
        assert page.get_by_text("TURN server").count() >= 1 and page.get_by_text(DETECTED).count() == 0
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
