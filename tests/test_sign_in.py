"""Sign-in end to end: headless Chromium, `facematch play` with an [auth] section, and a real OpenID Connect provider
(panva's oidc-provider from npm, tests/oidc/) on loopback; for two app servers, nginx with the docs' recipe.

Players sign in with the provider's own login form, as they would with Google or Keycloak. Each test says the
attack it tries and what the page shows.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import time
import urllib.request
import uuid

import pytest
import test_e2e_browser as e2e
from test_e2e_browser import ARTIFACTS, DETECTED, AppServer, free_port, launch_chromium, open_page

from conftest import OIDC_ACCOUNTS, OidcProvider, oidc_available, secrets_toml
from facematch.play.accounts import account_key
from facematch.play.history import RoundRecord, open_store
from facematch.play.history_accounts import PLAYER_TABLES

pytestmark = pytest.mark.browser
if oidc_available():
    pytest.skip(oidc_available(), allow_module_level=True)

SIGNED_IN = re.compile(r"Signed in as")
playwright, camera_file = e2e.playwright, e2e.camera_file  # the browser tests' fixtures, shared


@pytest.fixture(scope="module")
def ports():
    return {"app": free_port(), "wrong": free_port(), "nginx": free_port()}


@pytest.fixture(scope="module")
def provider(tmp_path_factory, ports):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the servers' logs go there, also when this file runs alone
    server = OidcProvider(tmp_path_factory.mktemp("oidc"))
    server.start([f"http://127.0.0.1:{ports['app']}", f"http://127.0.0.1:{ports['wrong']}",
                  f"https://127.0.0.1:{ports['nginx']}"])
    yield server
    server.stop()
    shutil.copy(server.base / "oidc.log", ARTIFACTS / "oidc.log")


def start_app(base, provider, origin: str, port: int, client_secret: str | None = None, db: str | None = None):
    """`facematch play` whose .streamlit/secrets.toml (under its HOME) signs players in at `provider`."""
    base.mkdir(parents=True, exist_ok=True)
    home = base / "home"
    (home / ".streamlit").mkdir(parents=True, exist_ok=True)
    (home / ".streamlit" / "secrets.toml").write_text(
        secrets_toml(provider, origin, **({"client_secret": client_secret} if client_secret else {})))
    (base / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(base / "tmp"), "PYTHONUNBUFFERED": "1",
           "FACEMATCH_DB": db or str(base / "history.sqlite3"), "FACEMATCH_SUPERVISOR_GROUPS": "teachers"}
    server = AppServer(base, env)
    server.start(port)
    return server


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory, provider, ports):
    server = start_app(tmp_path_factory.mktemp("signed"), provider, f"http://127.0.0.1:{ports['app']}", ports["app"])
    yield server
    server.kill()
    shutil.copy(server.data_dir / "streamlit.log", ARTIFACTS / "streamlit_signed.log")


@pytest.fixture(scope="module")
def browser(playwright):
    from facematch.fake_camera import CHROMIUM

    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


def key(provider, who: str) -> str:
    return account_key(provider.issuer, who)


def sign_in(page, url: str, who: str, consent: bool = True) -> None:
    """Through the provider's own login form (any password); then agree to saving if asked."""
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=login]").fill(who)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()
    agree = page.get_by_role("button", name="Agree and save my rounds")
    page.get_by_text(SIGNED_IN).or_(agree).first.wait_for(timeout=60_000)
    if agree.count():
        if not consent:
            return  # the consent page stays for the test to answer
        agree.click()
    page.get_by_text(SIGNED_IN).first.wait_for(timeout=60_000)


def rounds_shown(page, url: str) -> int:
    page.goto(f"{url}/history")
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Rounds").first
    metric.wait_for(timeout=60_000)
    return int(re.search(r"Rounds\s*(\d+)", metric.inner_text()).group(1))


def download(page, button: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    return open(info.value.path(), "rb").read()


def seed(store, player: str, n: int, target: str) -> None:
    for i in range(n):
        store.add_round(RoundRecord(player=player, session_id=f"seed-{player}", round_index=i, target=target,
                                    score=50 + i, matched=True, time_to_match=1.0, peak_probability=0.9,
                                    model_id="seed"))


def test_each_player_sees_only_their_own_rounds_and_no_url_cookie_or_name_reaches_anothers(
        signed_app, provider, browser):
    store = open_store(signed_app.env["FACEMATCH_DB"])
    ada, bo = key(provider, "ada"), key(provider, "bo")
    seed(store, ada, 3, "happy")
    seed(store, bo, 5, "angry")
    url = signed_app.url
    context_a, context_b = browser.new_context(), browser.new_context()  # two players, two cookie jars
    page_a, page_b = context_a.new_page(), context_b.new_page()
    with open_page(browser, signed_app) as first:
        first.goto(url)
        first.get_by_role("button", name="Sign in").wait_for()
        assert first.get_by_label("Your name").count() == 0  # signed-in servers have no name box
    try:
        sign_in(page_a, url, "ada")
        sign_in(page_b, url, "bo")
        assert rounds_shown(page_a, url) == 3 and rounds_shown(page_b, url) == 5
        mine = json.loads(download(page_a, "Download my data (JSON)"))
        assert {r["player"] for r in mine["rounds"]} == {ada} and len(mine["rounds"]) == 3
        assert [a["display_name"] for a in mine["accounts"]] == ["Ada"]
        assert page_a.get_by_text("Player", exact=True).count() == 0  # no player picker

        # Attack: name another player in the URL, as a key or a name, on every page.
        for path in (f"/history?player={bo}", "/history?player=Bo", f"/?player={bo}&user=bo&sub=bo",
                     "/history?embed=true&player=bo"):
            page_a.goto(url + path)
            metric = page_a.locator("[data-testid='stMetric']").filter(has_text="Rounds")
            if "history" in path:
                metric.first.wait_for(timeout=60_000)
                assert re.search(r"Rounds\s*3", metric.first.inner_text()), path
            page_a.get_by_text("Signed in as Ada").first.wait_for()
        # Attack: Duel's second name box, given Bo's key: refused (and duel rounds of a signed-in player are
        # never saved under any typed name).
        page_a.goto(url)
        e2e.choose_mode(page_a, "Duel")
        refused = page_a.get_by_text("Names cannot start with").first
        for attempt in range(3):  # an entry that lands during the mode switch's rerun can be lost: type it again
            box = page_a.get_by_label("Player 2 (right)")
            box.fill(bo)
            box.press("Enter")
            try:
                refused.wait_for(timeout=15_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        # Attack: a player's page for supervisors, by its URL.
        page_a.goto(f"{url}/players")
        page_a.get_by_text("Signed in as Ada").first.wait_for()
        assert page_a.get_by_text("My players").count() == 0

        # Attack: Streamlit's identity cookie rewritten to name Bo, keeping Ada's signature, or signed with a
        # guessed secret: either way the server sees nobody signed in.
        from itsdangerous import URLSafeTimedSerializer

        cookie = next(c for c in context_a.cookies() if c["name"] == "_streamlit_user")
        _, payload = URLSafeTimedSerializer("unknown", salt="_streamlit_user").loads_unsafe(cookie["value"])
        as_bo = json.dumps({**json.loads(payload), "sub": "bo", "name": "Bo", "email": "bo@school.test"})
        signature = cookie["value"].rsplit(".", 2)[1:]  # Ada's timestamp and signature on Bo's claims
        body = base64.urlsafe_b64encode(json.dumps(as_bo).encode()).decode().rstrip("=")
        tampered = ".".join([body, *signature])
        guessed = URLSafeTimedSerializer("guessed-secret", salt="_streamlit_user").dumps(as_bo)
        for forged in (tampered, guessed):
            intruder = browser.new_context()
            intruder.add_cookies([{**cookie, "value": forged}])
            page = intruder.new_page()
            page.goto(url)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert page.get_by_text(SIGNED_IN).count() == 0
            intruder.close()
    finally:
        context_a.close()
        context_b.close()


def reload_once_signed_out(page, timeout_s: float = 30):
    """Reload the page once the sign-out's navigation to /auth/logout has cleared the identity cookie. The page
    shows "Sign in" as soon as it reruns, while that navigation may still be on its way: a reload before it lands
    races it (the reload is aborted, or the cookie comes back signed in)."""
    deadline = time.time() + timeout_s
    while any(c["name"] == "_streamlit_user" for c in page.context.cookies()) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(c["name"] == "_streamlit_user" for c in page.context.cookies())
    for attempt in range(3):  # the redirect back to the app may still be on its way and abort a reload
        page.wait_for_load_state("load")
        try:
            page.reload()
            return
        except Exception as err:  # playwright's Error: net::ERR_ABORTED
            if "ERR_ABORTED" not in str(err) or attempt == 2:
                raise


def test_sign_out_works_and_an_expired_token_signs_the_player_out(signed_app, browser):
    url = signed_app.url
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, url, "ada")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        reload_once_signed_out(page)
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        assert page.get_by_text(SIGNED_IN).count() == 0

        # Eve's ID tokens last 8 s (the provider's setting); Streamlit's cookie would last 30 days.
        sign_in(page, url, "eve")
        signed_at = time.time()
        page.get_by_text("Signed in as Eve").first.wait_for()
        time.sleep(max(0.0, signed_at + OIDC_ACCOUNTS["eve"]["id_token_ttl"] + 1 - time.time()))
        page.get_by_role("link", name="History").click()  # any interaction runs the page again
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        reload_once_signed_out(page)
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        assert page.get_by_text(SIGNED_IN).count() == 0
    finally:
        context.close()


def test_a_player_who_declines_plays_and_nothing_of_theirs_is_stored(signed_app, provider, browser):
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, signed_app.url, "dee", consent=False)
        page.get_by_text("never saves video or pictures").first.wait_for()
        page.get_by_role("button", name="Play without saving").click()
        page.get_by_text("playing without saving").first.wait_for(timeout=60_000)
        e2e.choose_mode(page, "Read faces (no camera)")
        page.get_by_text(re.compile(r"Face 1 of 10")).wait_for(timeout=60_000)
        page.get_by_role("button", name=re.compile("surprise")).click()
        page.get_by_text(re.compile(r"^(✅ Right: |❌ It was )")).first.wait_for(timeout=30_000)
        page.get_by_role("button", name=re.compile("Next face")).click()
        page.get_by_text(re.compile(r"Face 2 of 10")).wait_for(timeout=30_000)
        page.get_by_role("link", name="History").click()
        page.get_by_text("You are playing without saving").first.wait_for(timeout=60_000)
        store = open_store(signed_app.env["FACEMATCH_DB"])
        assert all(rows == [] for rows in store.player_data(key(provider, "dee")).values())
    finally:
        context.close()


def test_a_wrong_client_secret_shows_a_clear_message_not_a_traceback(tmp_path, provider, ports, browser):
    server = start_app(tmp_path, provider, f"http://127.0.0.1:{ports['wrong']}", ports["wrong"],
                       client_secret="not-the-secret")
    try:
        with open_page(browser, server) as page:
            page.goto(server.url)
            page.get_by_text("Sign-in is not working on this server").first.wait_for(timeout=60_000)
            assert page.get_by_text(re.compile("refused this app's client id or secret")).count() == 1
            assert page.get_by_role("button", name="Sign in").is_disabled()
            assert page.get_by_text("Traceback").count() == 0
    finally:
        server.kill()


def test_a_supervisor_sees_their_group_only_and_deleting_my_data_leaves_no_row(signed_app, provider, browser):
    store = open_store(signed_app.env["FACEMATCH_DB"])
    url = signed_app.url
    ada, tess, cy = key(provider, "ada"), key(provider, "tess"), key(provider, "cy")
    contexts = {who: browser.new_context() for who in ("tess", "cy", "ada", "bo")}
    pages = {who: c.new_page() for who, c in contexts.items()}
    try:
        for who in ("ada", "bo", "cy"):
            sign_in(pages[who], url, who)  # Bo is in class 4A, not Tess's
        teacher = pages["tess"]
        sign_in(teacher, url, "tess")
        teacher.get_by_role("link", name="My players").click()
        teacher.get_by_label("Group name").fill("Chess club")
        teacher.get_by_role("button", name="Make an invite code").click()
        teacher.get_by_text("Invite codes").first.wait_for()
        deadline = time.time() + 30
        while not store.invites(tess) and time.time() < deadline:
            time.sleep(0.3)
        code = store.invites(tess)[0]["code"]

        joiner = pages["cy"]
        joiner.goto(f"{url}/history")
        joiner.get_by_label("Invite code").fill(code.lower().replace("-", " "))  # as a child might type it
        joiner.get_by_role("button", name="Join the group").click()
        joiner.get_by_text("You joined Chess club.").wait_for(timeout=60_000)

        teacher.goto(f"{url}/players")
        roster = list(csv.DictReader(io.StringIO(download(teacher, "Download the roster (CSV)").decode())))
        names = {r["player"] for r in roster}
        assert {"Ada", "Cy"} <= names <= {"Ada", "Cy", "Eve"}  # class 3B (Ada; Eve if she came) and the club (Cy)
        assert next(r for r in roster if r["player"] == "Cy")["groups"] == "Chess club"
        assert {"happy level", "sad check-up", "average score"} <= set(roster[0])

        # A player sees no roster: no link, and the page's URL leads to their own Play page.
        player = pages["ada"]
        player.goto(f"{url}/players")
        player.get_by_text("Signed in as Ada").first.wait_for()
        assert player.get_by_role("link", name="My players").count() == 0
        assert player.get_by_text("Download the roster").count() == 0

        # Delete my data: after a confirmation, no row of Ada in any table, on the page or in the roster.
        player.goto(f"{url}/history")
        player.get_by_role("button", name="Delete my data…").click()
        player.get_by_role("button", name="Yes, delete everything").click()
        player.get_by_text(re.compile(r"Deleted: \d+ rows")).wait_for(timeout=60_000)
        assert all(store._all(table.select().where(table.c.player == ada)) == [] for table in PLAYER_TABLES)
        teacher.reload()
        roster = list(csv.DictReader(io.StringIO(download(teacher, "Download the roster (CSV)").decode())))
        assert {r["player"] for r in roster} == names - {"Ada"}
        assert store.account(cy) is not None  # nobody else's rows went
    finally:
        for context in contexts.values():
            context.close()


# -- two app servers behind the docs' nginx recipe ------------------------------------------------------------
@pytest.fixture(scope="module")
def nginx_pair(tmp_path_factory, provider, ports, postgres_server):
    from facematch.nginx_trial import NginxTrial

    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (make test installs Debian's nginx)")
    base = tmp_path_factory.mktemp("nginx")
    origin = f"https://127.0.0.1:{ports['nginx']}"
    db = postgres_server.new_database()
    backends = [free_port(), free_port()]
    servers = [start_app(base / f"app{i}", provider, origin, port, db=db) for i, port in enumerate(backends)]
    upstreams = [f"127.0.0.1:{port}" for port in backends]
    try:
        # show_server, only for the test: which app server answered.
        with NginxTrial(base, upstreams, ports["nginx"], issuer=provider.issuer, show_server=True) as served:
            assert served == origin
            yield origin, upstreams
    finally:
        for server in servers:
            server.kill()


def served_by(origin: str, route: str) -> tuple[str, dict]:
    import ssl

    request = urllib.request.Request(f"{origin}/", headers={"Cookie": f"facematch_route={route}"})
    with urllib.request.urlopen(request, context=ssl._create_unverified_context(), timeout=10) as response:
        return response.headers["X-Facematch-Server"], dict(response.headers)


def test_behind_nginx_a_signed_in_player_stays_signed_in_on_either_server_and_the_page_sends_security_headers(
        nginx_pair, playwright, camera_file):
    origin, backends = nginx_pair
    server, headers = served_by(origin, "probe")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'self'" in policy
    # A route key for each server (nginx hashes the cookie consistently).
    routes = {}
    for _ in range(200):
        route = uuid.uuid4().hex
        routes.setdefault(served_by(origin, route)[0], route)
        if len(routes) == 2:
            break
    assert set(routes) == set(backends)

    browser = launch_chromium(playwright, camera_file)
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 1000})
    violations = []
    try:
        first, second = backends
        context.add_cookies([{"name": "facematch_route", "value": routes[first], "url": origin}])
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        sign_in(page, origin, "ada")
        assert page.request.get(f"{origin}/_stcore/health").headers["x-facematch-server"] == first
        # The same browser, now routed to the other server (as when a server is replaced): still signed in. The
        # page is left first: nginx answers every request with its route cookie, and an answer to a request of
        # the page's still in flight would set the first server's route again.
        page.goto("about:blank")
        context.add_cookies([{"name": "facematch_route", "value": routes[second], "url": origin}])
        page.goto(origin)
        page.get_by_text("Signed in as Ada").first.wait_for(timeout=60_000)
        assert page.request.get(f"{origin}/_stcore/health").headers["x-facematch-server"] == second
        # The Content-Security-Policy still lets the WebRTC component, the video and its analysis work.
        # (Not press_start: its page-side wait evaluates a string, which this very policy forbids.)
        page.get_by_text("Play", exact=True).first.click()
        component = page.frame_locator("iframe[title*='streamlit_webrtc']")
        component.get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text(DETECTED).first.wait_for(timeout=90_000)
        page.get_by_role("link", name="History").click()
        page.get_by_text("Your data").first.wait_for(timeout=60_000)
        assert violations == []
    finally:
        context.close()
        browser.close()
