"""Many players at once, two ways.

    python scripts/load_test.py --browsers 1 2 4 8 16 [--seconds 15] [--echo] [--pin] [--profile] [--processes 2]
    python scripts/load_test.py [--sessions 1 2 4 8] [--seconds 10] [--fps 24]
    taskset -c 0 python scripts/load_test.py --analysis-cpu

--browsers: real clients. Starts the game (`facematch play`) on 127.0.0.1 (with --echo, a bare
streamlit-webrtc page whose callback returns each frame untouched: the ceiling of this machine),
opens N headless Chromium pages, each its own player with a fake 640x480 camera at 15 fps playing
the shared video, presses START in each, then for `--seconds` counts the frames each page's
returned video shows (requestVideoFrameCallback) and how many arrived from the server (WebRTC
getStats framesReceived: what the server sent, before the page's own decoding and display), and
reads how many of each player's frames the app analysed and how long a result took
(FACEMATCH_STATS_FILE). Prints per level: video fps shown and sent per player (mean / min),
analysed fps per player (mean / min), result latency p50, and the CPU of the app process, of the
browsers and of the whole machine. Loopback only; each level is bounded in time.

--pin: the app runs on core 0 and the browsers (and this script) on the others, so the app's own cost per
player is seen apart from the clients' (on a 2-core machine the browsers take more than half of it). Then
each level also prints the players one app core serves at that level's cost per player.
--profile (with py-spy installed, as `make test` does): samples the app process (Python and native frames,
100 Hz; py-spy pauses it for each sample, a few per cent of its time) during the measured seconds, keeps the raw
stacks in build/load_test/ and prints where its CPU goes: receiving and decoding
the video, the analysis, drawing, encoding and sending, the rest of WebRTC, Streamlit, other.

--processes N (N ≥ 2): N app servers (one history file) behind the nginx recipe of docs/operations.md on
loopback (TLS with a self-signed certificate), the players' pages opened through it: what a second app
process adds. Each server's analyses are read from its own stats file.

--sessions (no browser, no WebRTC): N callback threads fed by the real video, each running the
shared FrameAnalyzer and feeding its own LiveSession: the frame step under concurrency alone.

--analysis-cpu: what one analysis of a player's frame (detection, the judge's one pass, with and without
the coach's landmarker on every 3rd frame, as played) costs in CPU on the cores this process may use: the
analysis thread's own, and the whole process's (LiteRT's other threads and MediaPipe's graph threads
included), against its wall time. Run under `taskset -c 0` for one core's cost, the figure that says how
many analyses a second one app core can give.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from facematch import cli
from facematch.assets import asset_path
from facematch.cli.play import streamlit_command
from facematch.config import ROOT

ECHO_APP = """
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

st.title("Echo")
webrtc_streamer(key="echo", mode=WebRtcMode.SENDRECV, video_frame_callback=lambda frame: frame,
                media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}},
                                          "audio": False},
                rtc_configuration={"iceServers": []}, async_processing=True)
"""
WAIT_FOR_VIDEO = """([video, ms]) => new Promise((resolve, reject) => {
    if (video.readyState >= 2) return resolve();
    video.addEventListener('loadeddata', () => resolve());
    setTimeout(() => reject(new Error('no video')), ms);
})"""
# Installed in every page: counts the frames the returned video presents, continuously.
COUNT_FRAMES = """(video) => {
    if (video.__counting) return;
    video.__counting = true;
    video.__frames = 0;
    const tick = () => { video.__frames += 1; video.requestVideoFrameCallback(tick); };
    video.requestVideoFrameCallback(tick);
}"""
# Installed before any page script: keeps every RTCPeerConnection the page (and the camera
# component's iframe) creates, so the test can read how many frames the server actually sent.
RECORD_CONNECTIONS = """(() => {
    const Original = window.RTCPeerConnection;
    if (!Original || Original.__recorded) return;
    window.__pcs = [];
    function Recorded(...args) { const pc = new Original(...args); window.__pcs.push(pc); return pc; }
    Recorded.prototype = Original.prototype;
    Recorded.__recorded = true;
    window.RTCPeerConnection = Recorded;
})()"""
# Frames of returned video that reached this page over the network (before decoding and display).
FRAMES_RECEIVED = """async () => {
    let n = 0;
    for (const pc of window.__pcs || []) {
        try {
            (await pc.getStats()).forEach(r => {
                if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesReceived || 0;
            });
        } catch (e) { /* a connection closed by STOP/START */ }
    }
    return n;
}"""


def load_frames(video: Path, size=(640, 480), limit: int = 120) -> tuple[list[np.ndarray], float]:
    import av
    import cv2

    if not video.is_file():
        raise cli.CliError(f"{video}: no such video")
    frames = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 24)
        for i, frame in enumerate(container.decode(stream)):
            if i % 2 == 0:  # every other frame: enough variety, half the memory
                frames.append(cv2.resize(frame.to_ndarray(format="bgr24"), size))
            if len(frames) >= limit:
                break
    return frames, fps


def run_sessions(analyzer, frames, n: int, seconds: float, fps: float) -> dict:
    from facematch.play.live import LiveSession
    from facematch.play.rules import RoundRules

    latencies: list[list[float]] = [[] for _ in range(n)]
    errors = [0] * n
    barrier = threading.Barrier(n)

    def session(i: int) -> None:
        live = LiveSession(RoundRules(duration_s=seconds + 10))
        live.start_round(i % 7, time.monotonic())
        barrier.wait()
        start = time.monotonic()
        last_index = -1
        while (now := time.monotonic()) - start < seconds:
            index = int((now - start) * fps)  # the camera's newest frame; stale ones are skipped
            if index == last_index:
                time.sleep(max(0.0, (index + 1) / fps - (now - start)))
                continue
            last_index = index
            t0 = time.perf_counter()
            _, result = analyzer.process(frames[(index + 7 * i) % len(frames)], target=live.target)
            latencies[i].append((time.perf_counter() - t0) * 1000)
            errors[i] += result.error is not None
            live.on_frame(result, time.monotonic())

    threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_session = [len(lat) / seconds for lat in latencies]
    every = np.concatenate([np.asarray(lat) for lat in latencies]) if any(latencies) else np.zeros(1)
    return {"sessions": n, "fps_per_session": float(np.mean(per_session)), "fps_min": float(np.min(per_session)),
            "fps_total": float(np.sum(per_session)), "p50_ms": float(np.percentile(every, 50)),
            "p95_ms": float(np.percentile(every, 95)), "errors": int(sum(errors))}


# -- real clients ----------------------------------------------------------------------------------
def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used so far by a process (user + system), or by the whole machine (all cores busy time)."""
    ticks = os.sysconf("SC_CLK_TCK")
    if pid is not None:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / ticks  # all but idle and iowait


def browsers_cpu_seconds() -> float:
    """CPU seconds used so far by every Chromium process on the machine (the players' browsers)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if open(f"/proc/{entry.name}/comm").read().strip() in ("chromium", "chrome"):
                    total += cpu_seconds(int(entry.name))
            except OSError:  # the process ended meanwhile
                continue
    return total


APP_CORE = 0
PROFILE_HZ = 100
PROFILE_DIR = ROOT / "build" / "load_test"  # --profile's raw py-spy stacks, for a closer look (git ignores build/)


def pin_to(cores: set[int]):
    """A preexec_fn that pins the child process to `cores` (inherited by its threads and children)."""
    return lambda: os.sched_setaffinity(0, cores)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(script: Path | None, workdir: Path, stats: Path, pin: bool = False,
              name: str = "app") -> tuple[subprocess.Popen, str]:
    """The game (script None), or another Streamlit script, served as `facematch play` serves it; pin: on core
    APP_CORE only. Its log is workdir/NAME.log; app servers started for one level share one history file."""
    port = free_port()
    env = {**os.environ, "FACEMATCH_DB": str(workdir / "history.sqlite3"), "FACEMATCH_STATS_FILE": str(stats),
           "FACEMATCH_ROUND_SECONDS": "30", "PYTHONUNBUFFERED": "1"}
    log = open(workdir / f"{name}.log", "w")
    command = streamlit_command("127.0.0.1", port)
    if script is not None:
        command[command.index("run") + 1] = str(script)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=pin_to({APP_CORE}) if pin else None)
    url, started = f"http://127.0.0.1:{port}", time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() - started > 60:
                proc.kill()
                raise cli.CliError(f"the app did not start; see {workdir / f'{name}.log'}") from None
            time.sleep(0.3)


def read_stats(paths: list[Path]) -> dict:
    """Every player's stats from the app servers' stats files (keys made unique across servers)."""
    players = {}
    for i, path in enumerate(paths):
        try:
            players.update({f"{i}:{k}": v for k, v in json.loads(path.read_text())["players"].items()})
        except (OSError, ValueError, KeyError):
            continue
    return players


# Where the app's CPU goes, from py-spy's stacks: the first rule with a marker in a stack names it.
COST_RULES = (
    ("drawing", ("facematch/play/drawing.py", "annotate")),
    ("analysis", ("facematch/play/worker.py", "facematch/play/vision.py")),
    ("receive & decode", ("decode", "rtcrtpreceiver", "jitterbuffer")),
    ("encode & send", ("encode", "rtcrtpsender")),
    ("rest of WebRTC", ("aiortc", "aioice", "streamlit_webrtc", "av/")),
    ("Streamlit", ("streamlit", "tornado", "starlette", "uvicorn", "websocket")),
)
COST_NAMES = (*(name for name, _ in COST_RULES), "other")


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """py-spy sampling the app for `seconds` (raw stacks to `out`), on the cores that are not the app's."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise cli.CliError("--profile needs py-spy (pip install py-spy; `make test` installs it)")
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                             "--rate", str(PROFILE_HZ), "--nonblocking", "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cost_breakdown(raw: Path) -> dict[str, float]:
    """Share of the app's busy samples per COST_RULES category, from py-spy's raw stacks of its Python threads
    (native calls count to the Python frame that made them: a codec's or the judge's call to its frame)."""
    counts: dict[str, float] = {}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        lower = stack.lower()
        name = next((name for name, markers in COST_RULES if any(m in lower for m in markers)), "other")
        counts[name] = counts.get(name, 0) + int(count)
    total = sum(counts.values()) or 1
    return {name: counts.get(name, 0) / total for name in COST_NAMES}


def run_browsers(n: int, seconds: float, camera: Path, echo: bool, workdir: Path, pin: bool = False,
                 profile: bool = False, processes: int = 1) -> dict:
    import contextlib

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from facematch.fake_camera import CHROMIUM, chromium_args
    from facematch.nginx_trial import NginxTrial

    script = workdir / "echo_app.py" if echo else None
    if echo:
        script.write_text(ECHO_APP)
    stats = [workdir / f"stats-{n}-{int(echo)}-{i}.json" for i in range(processes)]
    apps, procs, spy, breakdown = [], [], None, None
    try:
        for i, path in enumerate(stats):
            apps.append(start_app(script, workdir, path, pin, name=f"app{i}"))
            procs.append(apps[-1][0])
        with contextlib.ExitStack() as stack, sync_playwright() as playwright:
            if processes == 1:
                url, extra = apps[0][1], []
            else:  # the docs' nginx recipe in front: sticky sessions by a random route cookie
                upstreams = [u.removeprefix("http://") for _, u in apps]
                url = stack.enter_context(NginxTrial(workdir / f"nginx-{n}", upstreams, free_port()))
                extra = ["--ignore-certificate-errors"]  # its self-signed certificate
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=chromium_args(camera) + extra)
            videos, restarts, failed = [], 0, 0
            for i in range(n):
                # One player after another, each playing before the next joins (as players arrive);
                # all at once, the connection storm on 2 cores made set-up itself flaky.
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(RECORD_CONNECTIONS)
                page = context.new_page()
                page.set_default_timeout(60_000)
                for attempt in range(3):
                    try:
                        videos.append(start_player(page, url, None if echo else f"player {i + 1}"))
                        restarts += attempt
                        break
                    except PlaywrightError:
                        # Under load a connection now and then never comes up: load the page and
                        # press START again, as a player would.
                        continue
                else:
                    failed += 1
                    context.close()
            if not videos:
                raise cli.CliError(f"no player could start; see {workdir / 'app0.log'}")
            time.sleep(3.0)  # let every stream settle
            counts0 = [read_counts(page, video) for page, video in videos]
            analysed0, app0, machine0, t0 = read_stats(stats), apps_cpu(procs), cpu_seconds(), time.monotonic()
            browsers0 = browsers_cpu_seconds()
            if profile:
                PROFILE_DIR.mkdir(parents=True, exist_ok=True)
                raw = PROFILE_DIR / f"profile-{'echo' if echo else 'app'}-{n}.txt"
                spy = start_profile(procs[0].pid, seconds, raw)
            time.sleep(seconds)
            counts1 = [read_counts(page, video) for page, video in videos]
            analysed1, app1, machine1, t1 = read_stats(stats), apps_cpu(procs), cpu_seconds(), time.monotonic()
            browsers1 = browsers_cpu_seconds()
            if spy is not None:
                _, errors = spy.communicate(timeout=seconds + 60)
                if spy.returncode != 0 or not raw.exists():
                    raise cli.CliError(f"py-spy could not profile the app: {errors.decode(errors='replace')[-500:]}")
                breakdown = cost_breakdown(raw)
            browser.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
    wall = t1 - t0
    # A player whose video element went away meanwhile is reported as lost, not averaged in.
    kept = [(a, b) for a, b in zip(counts0, counts1) if a is not None and b is not None]
    if not kept:
        raise cli.CliError(f"every player's video went away during the run; see {workdir / 'app0.log'}")
    delivered = [(b[0] - a[0]) / wall for a, b in kept]
    sent = [(b[1] - a[1]) / wall for a, b in kept]
    analysed = [(analysed1[k]["analysed"] - analysed0.get(k, {"analysed": 0})["analysed"]) / wall
                for k in analysed1] if not echo else []
    latency = [analysed1[k]["latency_ms_p50"] for k in analysed1] if not echo else []
    return {"players": n, "restarts": restarts, "failed": failed, "lost": len(videos) - len(kept),
            "delivered": delivered, "sent": sent, "analysed": analysed, "latency_ms": latency,
            "per_server": [sum(1 for k in analysed1 if k.startswith(f"{i}:")) for i in range(processes)],
            "app_cpu": (app1 - app0) / wall, "browsers_cpu": (browsers1 - browsers0) / wall, "breakdown": breakdown,
            "machine_cpu": (machine1 - machine0) / wall / (os.cpu_count() or 1)}


def apps_cpu(procs: list[subprocess.Popen]) -> float:
    return sum(cpu_seconds(proc.pid) for proc in procs)


def start_player(page, url: str, name: str | None):
    """Open the app in `page`, enter `name` (None: the echo app has no name box), press START and
    wait until the returned video plays; (page, video locator) with frame counting installed."""
    page.goto(url)
    if name is not None:
        box = page.get_by_label("Your name")
        box.fill(name)
        box.press("Enter")
    component = page.frame_locator("iframe[title*='streamlit_webrtc']")
    component.get_by_role("button", name="START").click()
    video = component.locator("video")
    video.evaluate("(v, ms) => (" + WAIT_FOR_VIDEO + ")([v, ms])", 60_000)
    video.evaluate(COUNT_FRAMES)
    return page, video


def read_counts(page, video) -> tuple[int, int] | None:
    """(frames the page's returned video has shown, frames received from the server) so far, or
    None when the player's video is gone."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        component = next(f for f in page.frames if "streamlit_webrtc" in f.url)
        return int(video.evaluate("v => v.__frames", timeout=10_000)), int(component.evaluate(FRAMES_RECEIVED))
    except (PlaywrightError, StopIteration, TypeError):
        return None


def browsers_main(args) -> int:
    from facematch.fake_camera import CHROMIUM, write_y4m

    if not os.path.exists(CHROMIUM):
        raise cli.CliError("Debian's chromium is needed for --browsers (make browser)")

    with tempfile.TemporaryDirectory(prefix="facematch-load-") as tmp:
        workdir = Path(tmp)
        camera = workdir / "camera.y4m"
        write_y4m(args.video, camera, start_s=0.0, end_s=20.0, size=(640, 480), fps=15)
        kind = "echo app (frames returned untouched)" if args.echo else "Facematch (Challenge mode)"
        if args.pin:
            others = set(range(os.cpu_count() or 1)) - {APP_CORE}
            if not others:
                raise cli.CliError("--pin needs at least 2 cores (the app on one, the browsers on the rest)")
            os.sched_setaffinity(0, others)  # this script and the browsers it launches
        where = f"app pinned to core {APP_CORE}, browsers to the other {os.cpu_count() - 1}" if args.pin else \
            "app and browsers sharing the cores"
        if args.processes > 1:
            where = f"{args.processes} app servers behind nginx (docs/operations.md), browsers on the same cores"
        print(f"{kind}: real Chromium players, fake 640x480 camera at 15 fps, {args.seconds:.0f} s per level, "
              f"{os.cpu_count()} cores, {where}\n")
        print("| players | video fps shown per player (mean / min) | sent by the server | "
              "analysed fps per player (mean / min) | "
              "result latency p50 | app CPU | browsers CPU | machine CPU |")
        print("|---|---|---|---|---|---|---|---|")
        results = []
        for n in args.browsers:
            r = run_browsers(n, args.seconds, camera, args.echo, workdir, args.pin, args.profile, args.processes)
            results.append(r)
            analysed = (f"{np.mean(r['analysed']):.1f} / {np.min(r['analysed']):.1f}" if r["analysed"] else "–")
            latency = f"{np.median(r['latency_ms']):.0f} ms" if r["latency_ms"] else "–"
            print(f"| {n} | {np.mean(r['delivered']):.1f} / {np.min(r['delivered']):.1f} | "
                  f"{np.mean(r['sent']):.1f} / {np.min(r['sent']):.1f} | {analysed} | {latency} | "
                  f"{100 * r['app_cpu']:.0f}% of a core | {100 * r['browsers_cpu']:.0f}% of a core | "
                  f"{100 * r['machine_cpu']:.0f}% |"
                  + (f" (players per server: {', '.join(map(str, r['per_server']))})" if args.processes > 1 else "")
                  + (f" ({r['restarts']} restarted)" if r["restarts"] else "")
                  + (f" ({r['failed']} could not start: not counted)" if r["failed"] else "")
                  + (f" ({r['lost']} lost their video during the run: not counted)" if r["lost"] else "")
                  # Then the pages' own decoding limits what they show, not the app.
                  + (" (the browsers' cores were full)" if args.pin and r["browsers_cpu"] > 0.9 * (os.cpu_count() - 1)
                     else ""), flush=True)
        if args.pin or args.profile:
            print_costs(results, args.pin)
    return 0


def print_costs(results: list[dict], pinned: bool) -> None:
    """The app's own cost per player, per level; with --profile, where it goes."""
    names = list(COST_NAMES)
    print("\n| players | app CPU | CPU ms per player-second | players one app core serves at this cost | "
          + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    for r in results:
        served = r["players"] - r["failed"]  # everyone who started costs the app, also one whose video was lost
        per_player = 1000 * r["app_cpu"] / served
        capacity = f"{1000 / per_player:.1f}" if pinned else "– (run with --pin)"
        shares = " | ".join(f"{100 * r['breakdown'][name]:.0f}%" for name in names) if r["breakdown"] else \
            " | ".join("–" for _ in names)
        print(f"| {served} | {100 * r['app_cpu']:.0f}% of a core | {per_player:.0f} ms | {capacity} | {shares} |",
              flush=True)


def analysis_cpu_main(video: Path) -> int:
    from facematch.play.litert import usable_cores
    from facematch.play.vision import FrameAnalyzer

    frames, _ = load_frames(video, limit=60)
    analyzer = FrameAnalyzer()
    analyzer.results(frames[:1], [True], "none")  # warm-up, the landmarker too
    print(f"{len(frames)} frames of the sample video at 640x480, one pass of the judge, "
          f"{usable_cores()} core(s) usable\n")
    print("| coach's landmarker | analysis thread's CPU | whole process's CPU | wall time | analyses a second "
          "one core gives at this CPU |")
    print("|---|---|---|---|---|")
    for name, every in (("off", 0), ("every 3rd frame (as played)", 3)):
        thread0, process0, wall0 = time.thread_time(), time.process_time(), time.monotonic()
        for i, frame in enumerate(frames):
            analyzer.results([frame], [every > 0 and i % every == 0], "none")
        n = len(frames)
        thread, process = (time.thread_time() - thread0) / n, (time.process_time() - process0) / n
        wall = (time.monotonic() - wall0) / n
        print(f"| {name} | {1000 * thread:.1f} ms | {1000 * process:.1f} ms | {1000 * wall:.1f} ms | "
              f"{1 / process:.0f} |", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browsers", type=int, nargs="+", help="real Chromium players per level (e.g. 1 2 4 8 16)")
    parser.add_argument("--echo", action="store_true", help="with --browsers: measure a bare echo app instead")
    parser.add_argument("--pin", action="store_true", help="with --browsers: the app on core 0, the browsers on "
                                                           "the others (the app's own cost per player)")
    parser.add_argument("--profile", action="store_true", help="with --browsers: where the app's CPU goes "
                                                               "(py-spy)")
    parser.add_argument("--processes", type=int, default=1, help="with --browsers: app servers behind the docs' "
                                                                 "nginx recipe (default 1: no nginx)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--analysis-cpu", action="store_true", help="the CPU one analysis costs here (no browser)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of each level (15 with --browsers, "
                                                                     "else 10)")
    parser.add_argument("--fps", type=float, default=None, help="camera frame rate (default: the video's)")
    parser.add_argument("--video", type=Path, default=None, help="default: the sample video (facematch setup "
                                                                  "sample_video)")
    args = parser.parse_args()
    args.seconds = args.seconds or (15.0 if args.browsers else 10.0)
    if any(n < 1 for n in args.sessions + (args.browsers or [])) or args.seconds <= 0:
        raise cli.CliError("--browsers, --sessions and --seconds must be positive")
    args.video = args.video or asset_path("sample_video")
    if not args.video.is_file():
        raise cli.CliError(f"{args.video}: no such video")
    if args.processes < 1 or (args.processes > 1 and (args.pin or args.profile)):
        raise cli.CliError("--processes is 1 or more, and above 1 not with --pin or --profile (one app core each "
                           "would leave the browsers none on most machines)")
    if args.browsers:
        # A killed run (SIGTERM: a CI timeout, `kill`) still stops its app servers and browsers and removes
        # its files, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return browsers_main(args)

    if args.analysis_cpu:
        return analysis_cpu_main(args.video)

    from facematch.play.vision import FrameAnalyzer

    frames, video_fps = load_frames(args.video)
    fps = args.fps or video_fps
    analyzer = FrameAnalyzer()  # shared by all sessions, as in the app
    analyzer.process(frames[0])  # warm-up
    print(f"camera {fps:.1f} fps at 640x480, {args.seconds:.0f} s per level, one shared FrameAnalyzer\n")
    print("| sessions | fps per session (mean / min) | fps total | frame step p50 | p95 | errors |")
    print("|---|---|---|---|---|---|")
    for n in args.sessions:
        r = run_sessions(analyzer, frames, n, args.seconds, fps)
        print(f"| {n} | {r['fps_per_session']:.1f} / {r['fps_min']:.1f} | {r['fps_total']:.1f} | "
              f"{r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['errors']} |", flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
