"""What a player installs: `pip install .` into a fresh venv (not editable, the checkout's own pins as
constraints) gives a `facematch` command whose `play` serves the game, with no TensorFlow installed."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import REPO, VIDEO
from facematch.config import EXTERNAL_DIR
from facematch.fake_camera import CHROMIUM, chromium_args

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def player_venv(tmp_path_factory):
    venv = tmp_path_factory.mktemp("player") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    installed = subprocess.run([venv / "bin" / "pip", "install", "--quiet", "-c", REPO / "requirements" / "play.txt",
                                REPO], capture_output=True, text=True, timeout=1500)
    assert installed.returncode == 0, installed.stderr[-4000:]
    return venv


def test_the_install_has_no_training_framework_and_carries_the_game(player_venv):
    probe = ("import importlib.util as u, facematch, pathlib\n"
             "print([m for m in ('tensorflow', 'keras', 'tensorboard', 'h5py') if u.find_spec(m)])\n"
             "root = pathlib.Path(facematch.__file__).parent\n"
             "print(root.parent.name, sorted(p.name for p in (root / 'models' / 'fer_vgg16').iterdir()))\n"
             "print(sorted(p.name for p in (root / 'app').glob('*.py')))\n"
             "from facematch.play.independent import independent_judge\n"
             "import numpy as np; print(independent_judge().predict(np.zeros((2, 48, 48), np.uint8)).shape)\n")
    # Run from outside the checkout, so only the installed copy can be imported.
    out = subprocess.run([player_venv / "bin" / "python", "-c", probe], capture_output=True, text=True,
                         cwd=player_venv, check=True).stdout.splitlines()
    assert out[0] == "[]"  # no training framework came with the game
    assert out[1].startswith("site-packages") and "model.tflite" in out[1] and "spec.json" in out[1]
    assert "'main.py'" in out[2] and "'challenge.py'" in out[2] and "'history.py'" in out[2]
    assert out[3] == "(2, 7)"  # the check-ups' independent judge came with it and runs without TensorFlow
    listing = subprocess.run([player_venv / "bin" / "facematch", "--help"], capture_output=True, text=True)
    assert listing.returncode == 0 and "  play " in listing.stdout
    # A training step says what to install instead of a traceback.
    train = subprocess.run([player_venv / "bin" / "facematch", "train", "x", "y", "z"], capture_output=True,
                           text=True, cwd=player_venv)
    assert train.returncode == 1 and "pip install 'facematch[train]'" in train.stderr
    assert "Traceback" not in train.stderr


def test_facematch_play_from_the_install_serves_a_game_that_judges_the_camera(player_venv, tmp_path):
    port = free_port()
    # The face models `make setup` installed (an installed game fetches them itself on its first start).
    env = {**os.environ, "FACEMATCH_DATA_DIR": str(tmp_path / "data"), "FACEMATCH_EXTERNAL_DIR": str(EXTERNAL_DIR),
           "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "play.log", "w")
    game = subprocess.Popen([player_venv / "bin" / "facematch", "play", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url, started = f"http://127.0.0.1:{port}", time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert game.poll() is None and time.monotonic() - started < 180, (tmp_path / "play.log").read_text()
                time.sleep(0.5)
        if not os.path.exists(CHROMIUM) or not VIDEO.is_file():
            pytest.skip("Debian chromium or the sample video is missing (make test installs both)")
        from playwright.sync_api import sync_playwright

        from facematch.fake_camera import write_y4m

        camera = tmp_path / "camera.y4m"
        write_y4m(VIDEO, camera, start_s=15.0, end_s=17.0)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=chromium_args(camera))
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            page.get_by_text("Make the face the game asks for").first.wait_for(timeout=60_000)
            component = page.frame_locator("iframe[title*='streamlit_webrtc']")
            component.get_by_role("button", name="START").click(timeout=60_000)
            page.get_by_text(re.compile(r"Detected: \w+ \d+%")).first.wait_for(timeout=60_000)
            browser.close()
        assert not (tmp_path / "data" / "external").exists()  # nothing was downloaded
    finally:
        game.kill()
        game.wait(timeout=10)
        log.close()
    assert "Traceback" not in (tmp_path / "play.log").read_text()
