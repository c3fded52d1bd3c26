"""The daily goal and the streak follow the player's own calendar: across midnight and time zones."""

from datetime import UTC, date, datetime, timedelta

from facematch.play.streaks import SESSION_ROUNDS, goal_days, local_date, streak


def session(session_id: str, day: str | None, played_at: str = "2026-12-01T12:00:00+00:00", rounds=SESSION_ROUNDS,
            mode: str = "challenge") -> list[dict]:
    return [{"session_id": session_id, "round_index": i, "mode": mode, "local_date": day, "played_at": played_at}
            for i in range(rounds)]


def test_a_streak_counts_days_in_a_row_and_survives_until_the_day_ends():
    today = date(2026, 12, 3)
    days = {today - timedelta(days=n) for n in range(3)}
    assert streak(days, today).days == 3 and streak(days, today).done_today
    assert "3-day streak · today's goal done" in streak(days, today).text()
    not_yet = streak(days - {today}, today)  # today still open: yesterday's streak stands
    assert (not_yet.days, not_yet.done_today) == (2, False) and "today's goal: one Challenge session" in not_yet.text()
    broken = streak({today - timedelta(days=2)}, today)  # a whole day missed
    assert broken.days == 0 and "no streak yet" in broken.text()


def test_only_whole_challenge_sessions_meet_the_goal():
    rows = (session("a", "2026-12-01") + session("b", "2026-12-02", rounds=SESSION_ROUNDS - 1)
            + session("c", "2026-12-03", mode="duel"))
    assert goal_days(rows) == {date(2026, 12, 1)}


def test_days_are_local_dates_across_midnight_and_a_time_zone_change():
    # 23:58 and 00:05 in Berlin: two days, though both are on the same UTC date.
    before = datetime(2026, 12, 1, 22, 58, tzinfo=UTC)
    after = datetime(2026, 12, 1, 23, 5, tzinfo=UTC)
    assert local_date(before, "Europe/Berlin") == date(2026, 12, 1)
    assert local_date(after, "Europe/Berlin") == date(2026, 12, 2)
    assert local_date(after, "UTC") == date(2026, 12, 1)
    # A player flies from Berlin to New York: each session keeps the day it was played on, there.
    # Berlin 00:05 on the 2nd, New York 23:00 on the 2nd (04:00 UTC on the 3rd), New York 15:00 on the 3rd.
    played = [("berlin", after, "Europe/Berlin"),
              ("ny-night", datetime(2026, 12, 3, 4, 0, tzinfo=UTC), "America/New_York"),
              ("ny-day", datetime(2026, 12, 3, 20, 0, tzinfo=UTC), "America/New_York")]
    rows = [r for name, when, zone in played for r in session(name, local_date(when, zone).isoformat())]
    assert goal_days(rows) == {date(2026, 12, 2), date(2026, 12, 3)}
    assert streak(goal_days(rows), date(2026, 12, 3)).days == 2
    # An unknown or missing zone counts as UTC; rounds saved before local dates use their UTC day.
    assert local_date(after, "Mars/Olympus") == local_date(after, None) == date(2026, 12, 1)
    assert goal_days(session("old", None, played_at="2026-11-20T23:30:00+00:00")) == {date(2026, 11, 20)}
