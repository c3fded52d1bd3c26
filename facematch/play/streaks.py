"""A reason to come back tomorrow: a daily goal and a streak of days, by the player's own calendar. Pure.

The daily goal is one finished Challenge session (all its rounds). Days are the player's local dates
(the browser's time zone when the round was played, saved with the round), so a session at 23:58
and one at 00:05 are two days, and a player who travels keeps the days as they lived them. The
streak counts the days in a row on which the goal was done, ending today, or yesterday while today's
goal is still open (a streak is lost only when a whole day passes without it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SESSION_ROUNDS = 7  # a Challenge session plays each emotion once


def local_date(when_utc: datetime, time_zone: str | None) -> date:
    """The calendar date at `when_utc` in the IANA `time_zone` (UTC when it is unknown or missing)."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    if when_utc.tzinfo is None:
        when_utc = when_utc.replace(tzinfo=UTC)
    return when_utc.astimezone(zone).date()


def _day_of(row: Mapping) -> date | None:
    if row.get("local_date"):
        return date.fromisoformat(str(row["local_date"]))
    if row.get("played_at"):  # rounds saved before local dates were: their UTC date
        return datetime.fromisoformat(str(row["played_at"])).date()
    return None


def goal_days(rows: Iterable[Mapping]) -> set[date]:
    """The local dates on which the player finished a whole Challenge session (its last round's day)."""
    sessions: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        if row.get("mode", "challenge") == "challenge":
            sessions[str(row["session_id"])].append(row)
    days = set()
    for rounds in sessions.values():
        if len({r["round_index"] for r in rounds}) >= SESSION_ROUNDS:
            last = max(rounds, key=lambda r: r["round_index"])
            day = _day_of(last)
            if day is not None:
                days.add(day)
    return days


@dataclass(frozen=True)
class Streak:
    days: int  # days in a row with the goal done, up to today (or yesterday)
    done_today: bool

    def text(self) -> str:
        goal = "today's goal done ✓" if self.done_today else "today's goal: one Challenge session"
        if self.days == 0:
            return f"🔥 no streak yet · {goal}"
        return f"🔥 {self.days}-day streak · {goal}"


def streak(days_done: set[date], today: date) -> Streak:
    done_today = today in days_done
    day, count = (today if done_today else today - timedelta(days=1)), 0
    while day in days_done:
        count += 1
        day -= timedelta(days=1)
    return Streak(count, done_today)
