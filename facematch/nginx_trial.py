"""The nginx recipe of docs/operations.md, run on loopback in front of local app servers: for the tests
(tests/test_sign_in.py) and the load test (scripts/load_test.py --processes). Needs Debian's nginx and
openssl (`make nginx`); nothing here is used by the game itself.

    with NginxTrial(workdir, ["127.0.0.1:8601", "127.0.0.1:8602"], port=8443) as origin:
        ...  # https://127.0.0.1:8443, a self-signed certificate: browsers need --ignore-certificate-errors
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from facematch.config import ROOT

DOCS = ROOT / "docs" / "operations.md"


def docs_site() -> str:
    """The nginx site of docs/operations.md, as written there."""
    return re.search(r"```nginx\n(.*?)```", DOCS.read_text(), re.S).group(1)


def trial_site(backends: list[str], port: int, cert: Path, key: str | Path, issuer: str | None = None,
               show_server: bool = False) -> str:
    """The docs' site with its two example servers replaced by `backends` (host:port), listening on loopback
    `port` with `cert`/`key`; issuer: the identity provider the login form may post to; show_server: an
    X-Facematch-Server header naming the app server that answered."""
    site = docs_site()
    servers = "\n    ".join(f"server {backend};" for backend in backends)
    site, found = re.subn(r"server 10\.0\.0\.11:8501;\n\s*server 10\.0\.0\.12:8501;", servers, site)
    if not found:
        raise ValueError(f"{DOCS}: the nginx recipe no longer names its two example servers")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = site.replace("/etc/ssl/facematch/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/facematch/privkey.pem", str(key))
    if issuer:
        site = site.replace("https://id.example.org", issuer)
    if show_server:
        site = site.replace("proxy_read_timeout 1h;", "proxy_read_timeout 1h;\n"
                            "        add_header X-Facematch-Server $upstream_addr always;")
    return site


class NginxTrial:
    """nginx with trial_site() in `base` (config, certificate, logs), stopped on exit."""

    def __init__(self, base: Path, backends: list[str], port: int, **site_options):
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx is not installed (make nginx installs Debian's)")
        self.base, self.backends, self.port, self.site_options = Path(base), backends, port, site_options
        self.process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        base = self.base
        base.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                        "-days", "1", "-keyout", base / "key.pem", "-out", base / "cert.pem"], check=True,
                       capture_output=True)
        site = trial_site(self.backends, self.port, base / "cert.pem", base / "key.pem", **self.site_options)
        (base / "nginx.conf").write_text(
            f"daemon off;\npid {base}/nginx.pid;\nerror_log {base}/nginx_error.log;\nevents {{}}\n"
            f"http {{\n access_log {base}/access.log;\n client_body_temp_path {base}/body;\n"
            f" proxy_temp_path {base}/proxy;\n fastcgi_temp_path {base}/fcgi;\n uwsgi_temp_path {base}/uwsgi;\n"
            f" scgi_temp_path {base}/scgi;\n types {{ text/html html; application/javascript js; text/css css; }}\n"
            f"{site}\n}}\n")
        self.process = subprocess.Popen(["nginx", "-c", str(base / "nginx.conf"), "-p", str(base)],
                                        stdout=subprocess.DEVNULL, stderr=open(base / "nginx_stderr.log", "w"))
        time.sleep(1)
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx did not start: {(base / 'nginx_stderr.log').read_text()[-500:]}")
        return self.origin

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the master stops its workers (SIGKILL would orphan them)
            self.process.wait(timeout=10)
