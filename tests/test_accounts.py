"""Sign-in's rules and rows without a browser: who a token names, who supervises whom, what a supervisor's roster
holds, deleting a player's data, retention, and the check of the client secret against a real OpenID provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import OidcProvider, oidc_available
from facematch.play.accounts import (
    SupervisorRule,
    account_from_claims,
    account_key,
    clean_invite_code,
    expired,
    new_invite_code,
)
from facematch.play.history import RoundRecord, StoredBaseline, clean_player_name, open_store
from facematch.play.history_accounts import PLAYER_TABLES
from facematch.play.provider_check import client_problem
from facematch.play.roster import roster_rows

RULE = SupervisorRule(emails=("tess@school.test",), groups=("teachers",))
ISS = "https://id.example.org"


def claims(sub: str, **extra) -> dict:
    return {"iss": ISS, "sub": sub, "exp": 2_000_000_000, "name": sub.title(), **extra}


def test_a_player_is_their_issuer_and_subject_never_a_name():
    ada = account_from_claims(claims("ada", email="ada@school.test"), RULE)
    assert ada.key == account_key(ISS, "ada") == account_from_claims(claims("ada", name="Someone Else"), RULE).key
    assert ada.key != account_key("https://other.example.org", "ada") and "ada" not in ada.key
    assert ada.display_name == "Ada" and not ada.supervisor
    # Typed into local play's name box, a key is refused: nobody plays as a signed-in player.
    assert clean_player_name(ada.key)[0] == "guest"
    with pytest.raises(ValueError):
        account_from_claims({"sub": "ada"}, RULE)


def test_supervisors_come_from_a_verified_email_or_a_group_and_see_their_classes_not_their_role():
    by_email = account_from_claims(claims("t", email="Tess@School.test", groups=["class-3b"]), RULE)
    by_group = account_from_claims(claims("u", groups=["teachers", "class-4a"]), RULE)
    unverified = account_from_claims(claims("v", email="tess@school.test", email_verified=False), RULE)
    assert by_email.supervisor and by_group.supervisor and not unverified.supervisor
    assert by_email.roster_groups(RULE) == ("class-3b",) and by_group.roster_groups(RULE) == ("class-4a",)
    assert account_from_claims(claims("p", groups=["class-3b"]), RULE).roster_groups(RULE) == ()


def test_an_expired_or_undated_token_counts_as_expired():
    account = account_from_claims(claims("ada", exp=1000), RULE)
    assert expired(account, 1000.0) and not expired(account, 999.0)
    assert expired(account_from_claims({**claims("ada"), "exp": None}, RULE), 0.0)


def test_invite_codes_read_back_however_they_are_typed():
    code = new_invite_code()
    assert clean_invite_code(code.lower().replace("-", " ")) == code
    assert clean_invite_code("ABCD-EFG") == "" and clean_invite_code("ABCD-EFG0") == ""  # short; 0 is no code letter


def _play(store, player: str, target: str = "happy", days_ago: int = 0, mode: str = "challenge") -> None:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    store.add_round(RoundRecord(player=player, session_id=f"{player}-{days_ago}", round_index=0, target=target,
                                score=70, matched=True, time_to_match=1.0, peak_probability=0.9, model_id="m",
                                mode=mode, played_at=when))


def test_the_roster_holds_the_supervisors_groups_only_and_deleting_a_player_leaves_no_row(store_target):
    store = open_store(store_target)
    tess, ada, bo, cy = (account_key(ISS, s) for s in ("tess", "ada", "bo", "cy"))
    store.sign_in(tess, "Tess", "tess@school.test", ("class-3b", "teachers"))
    store.sign_in(ada, "Ada", "ada@school.test", ("class-3b",))
    store.sign_in(bo, "Bo", "bo@school.test", ("class-4a",))
    store.sign_in(cy, "Cy", None, ())
    store.create_invite(tess, "Chess club", "ABCD-EFGH")
    assert store.join(cy, "ABCD-EFGH") == "Chess club" and store.join(bo, "ZZZZ-ZZZZ") is None
    roster = store.roster(tess, ("class-3b",))
    assert [(m["display_name"], m["groups"]) for m in roster] == [("Ada", ["class-3b"]), ("Cy", ["Chess club"])]
    assert store.roster(account_key(ISS, "other"), ("class-5c",)) == []  # another supervisor: none of these

    for player in (ada, bo):
        _play(store, player)
    store.add_baseline(StoredBaseline(player=ada, blendshapes={"jawOpen": 0.1}, probabilities={"neutral": 1.0},
                                      frames=9, model_id="m"))
    store.add_trace(ada, "s", 0, "happy", [[0.5, 10, "Coach: smile"]])
    store.join(ada, "ABCD-EFGH")
    mine = store.player_data(ada)
    assert {t: len(rows) for t, rows in mine.items()} == {
        "rounds": 1, "baselines": 1, "feedback_traces": 1, "memberships": 1, "accounts": 1}
    assert store.delete_player(ada) == 5
    assert all(rows == [] for rows in store.player_data(ada).values())
    assert len(store.rounds(bo)) == 1 and store.account(bo) is not None  # nobody else's rows go
    assert [m["display_name"] for m in store.roster(tess, ("class-3b",))] == ["Cy"]
    assert {t.name for t in PLAYER_TABLES} == {"rounds", "baselines", "feedback_traces", "memberships", "accounts"}
    # A supervisor's deletion takes their invite codes and who joined them.
    store.delete_player(tess)
    assert store.groups_joined(cy) == [] and store.invites(tess) == []


def test_signed_in_the_leaderboard_shows_only_who_opted_in_under_the_name_they_chose(store_target):
    store = open_store(store_target)
    ada, bo = account_key(ISS, "ada"), account_key(ISS, "bo")
    for player in (ada, bo):
        store.sign_in(player, player[-4:], None, ())
        _play(store, player)
    store.set_leaderboard_name(bo, "Bee")
    assert [r["player"] for r in store.leaderboard(10, opted_in_only=True)] == ["Bee"]
    assert {r["player"] for r in store.leaderboard(10)} == {ada, bo}  # local play: every name, as before
    store.set_leaderboard_name(bo, None)
    assert store.leaderboard(10, opted_in_only=True) == []


def test_retention_deletes_rounds_older_than_the_setting_and_keeps_the_rest(store_target, monkeypatch):
    from facematch import config

    store = open_store(store_target)
    _play(store, "ada", days_ago=40)
    _play(store, "ada", days_ago=10)
    _play(store, "bo", days_ago=31)
    assert store.purge_older_than(30) == 2
    assert [r["session_id"] for r in store.rounds()] == ["ada-10"]
    monkeypatch.setenv("FACEMATCH_RETENTION_DAYS", "30")
    assert config.retention_days() == 30
    for bad in ("0", "-3", "month"):
        monkeypatch.setenv("FACEMATCH_RETENTION_DAYS", bad)
        assert config.retention_days() is None


def test_the_roster_gives_each_players_level_and_check_ups_per_emotion():
    rows = [{"mode": "challenge", "target": "happy", "level": 1, "matched": 1, "score": 80, "played_at": "2026-01-0"
             f"{i + 1}T10:00:00", "answer": None, "session_id": f"c{i}"} for i in range(3)]
    rows += [{"mode": "checkup", "target": "sad", "level": 1, "matched": 0, "score": s, "played_at": f"2026-01-0{d}",
              "answer": None, "session_id": f"k{d}"} for d, s in ((4, 20), (5, 60))]
    rows += [{"mode": "recognition", "target": "fear", "level": 1, "matched": 1, "score": 90, "answer": "fear",
              "played_at": "2026-01-06", "session_id": "r"}]
    table = roster_rows([{"player": "k", "display_name": "Ada", "email": "a@x", "groups": ["3b"]}], {"k": rows})
    row = table[0]
    assert (row["player"], row["rounds"], row["happy level"], row["sad level"]) == ("Ada", 3, 2, 1)
    assert (row["sad check-up"], row["sad first check-up"], row["happy check-up"]) == (60, 20, None)
    assert row["faces read right"] == "1 of 1" and row["check-ups"] == 2 and row["last played"] == "2026-01-06"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    reason = oidc_available()
    if reason:
        pytest.skip(reason)
    server = OidcProvider(tmp_path_factory.mktemp("oidc"))
    server.start(["http://127.0.0.1:8501"])
    yield server
    server.stop()


def test_a_wrong_client_secret_or_an_unreachable_provider_is_named_before_anyone_signs_in(provider):
    from conftest import OIDC_SECRET

    redirect = "http://127.0.0.1:8501/oauth2callback"
    assert client_problem(provider.metadata_url, "facematch", OIDC_SECRET, redirect) is None
    wrong = client_problem(provider.metadata_url, "facematch", "not-the-secret", redirect)
    assert "refused this app's client id or secret (invalid_client" in wrong
    assert "refused" in client_problem(provider.metadata_url, "someone-else", OIDC_SECRET, redirect)
    gone = client_problem("http://127.0.0.1:9/.well-known/openid-configuration", "facematch", OIDC_SECRET, redirect)
    assert gone.startswith("the identity provider at http://127.0.0.1:9/") and "cannot be reached" in gone
    assert "needs server_metadata_url" in client_problem("", "facematch", OIDC_SECRET, redirect)


def test_the_game_keeps_streamlits_xsrf_protection_on():
    from streamlit import config

    from facematch.cli.play import streamlit_command

    command = streamlit_command("0.0.0.0", 8501, "cert.pem", "key.pem")
    assert not any("enableXsrfProtection" in part or "enableCORS" in part for part in command)
    assert config.get_option("server.enableXsrfProtection") is True  # Streamlit's default, which stands
