"""The history's rows of sign-in (accounts, consent, supervisors' invite codes and groups), a player's own data
(export, deletion) and retention: part of HistoryStore (facematch.play.history), which opens the database and
gives these methods `engine`, `_all`, `_insert` and `_errors`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from facematch.play.schema import (
    accounts_table,
    baselines_table,
    invites_table,
    memberships_table,
    rounds_table,
    traces_table,
)

# Every table that holds rows of one player (by its `player` column): what "Delete my data" empties.
PLAYER_TABLES = (rounds_table, baselines_table, traces_table, memberships_table, accounts_table)


def _now() -> str:
    """Now as the history stores times: ISO 8601, UTC, to the second (history.py stamps rounds with it too)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class AccountRows:
    # -- sign-in: accounts, consent, supervisors' groups ------------------------------------------
    def sign_in(self, player: str, display_name: str, email: str | None, groups: tuple[str, ...]) -> dict:
        """Record a signed-in player's visit (name, email and claim groups as the provider says today) and return
        their account row (consented_at and leaderboard_name among its fields)."""
        fresh = {"display_name": display_name, "email": email, "claim_groups": json.dumps(list(groups)),
                 "last_seen": _now()}
        a = accounts_table.c
        with self._errors("could not record the sign-in"):
            for _ in range(2):  # two app servers may see a new player's first sign-in at once
                try:
                    with self.engine.begin() as conn:
                        if conn.execute(update(accounts_table).where(a.player == player).values(**fresh)).rowcount:
                            break
                        conn.execute(accounts_table.insert().values(player=player, **fresh))
                        break
                except IntegrityError:
                    continue
        return self.account(player)

    def account(self, player: str) -> dict | None:
        rows = self._all(select(*[c for c in accounts_table.c]).where(accounts_table.c.player == player))
        return rows[0] if rows else None

    def _set_account(self, player: str, what: str, **values) -> None:
        with self._errors(f"could not save {what}"), self.engine.begin() as conn:
            conn.execute(update(accounts_table).where(accounts_table.c.player == player).values(**values))

    def consent(self, player: str) -> None:
        """The player agreed to have their rounds saved."""
        self._set_account(player, "your consent", consented_at=_now())

    def set_leaderboard_name(self, player: str, name: str | None) -> None:
        """Show the player on the leaderboard under `name`, or (None) not at all."""
        self._set_account(player, "your leaderboard choice", leaderboard_name=name)

    def create_invite(self, supervisor: str, group_name: str, code: str) -> None:
        with self._errors("could not save the invite code"), self.engine.begin() as conn:
            conn.execute(invites_table.insert().values(code=code, group_name=group_name, supervisor=supervisor,
                                                       created_at=_now()))

    def invites(self, supervisor: str) -> list[dict]:
        i = invites_table.c
        return self._all(select(i.code, i.group_name, i.created_at).where(i.supervisor == supervisor)
                         .order_by(i.created_at, i.code))

    def join(self, player: str, code: str) -> str | None:
        """Join the group of invite `code`; returns the group's name, or None when no such code exists."""
        invite = self._all(select(invites_table.c.group_name).where(invites_table.c.code == code))
        if not invite:
            return None
        m = memberships_table.c
        with self._errors("could not save the group you joined"), self.engine.begin() as conn:
            if conn.execute(select(m.player).where(m.player == player, m.code == code)).first() is None:
                conn.execute(memberships_table.insert().values(player=player, code=code, joined_at=_now()))
        return invite[0]["group_name"]

    def groups_joined(self, player: str) -> list[str]:
        m, i = memberships_table.c, invites_table.c
        return [r["group_name"] for r in self._all(
            select(i.group_name).join(invites_table, i.code == m.code).where(m.player == player)
            .order_by(i.group_name))]

    def roster(self, supervisor: str, claim_groups: tuple[str, ...]) -> list[dict]:
        """The players a supervisor sees: those whose groups claim shares one of `claim_groups`, and those who
        joined one of the supervisor's invite codes. Each: player, display_name, email, groups (sorted names)."""
        groups: dict[str, set[str]] = {}
        wanted = set(claim_groups)
        a, m, i = accounts_table.c, memberships_table.c, invites_table.c
        if wanted:
            for row in self._all(select(a.player, a.claim_groups)):
                shared = wanted & set(json.loads(row["claim_groups"] or "[]"))
                if shared and row["player"] != supervisor:
                    groups.setdefault(row["player"], set()).update(shared)
        for row in self._all(select(m.player, i.group_name).join(invites_table, i.code == m.code)
                             .where(i.supervisor == supervisor)):
            groups.setdefault(row["player"], set()).add(row["group_name"])
        if not groups:
            return []
        rows = self._all(select(a.player, a.display_name, a.email).where(a.player.in_(sorted(groups)))
                         .order_by(a.display_name, a.player))
        return [{**row, "groups": sorted(groups[row["player"]])} for row in rows]

    # -- a player's own data: export and deletion; retention -------------------------------------
    def player_data(self, player: str) -> dict[str, list[dict]]:
        """Every row the history holds of `player`, per table (what "Download my data" gives them)."""
        return {table.name: self._all(select(*[c for c in table.c]).where(table.c.player == player))
                for table in PLAYER_TABLES}

    def delete_player(self, player: str) -> int:
        """Delete every row of `player` in one transaction (and invite codes they made, with who joined them);
        returns how many rows went."""
        i, m = invites_table.c, memberships_table.c
        with self._errors("could not delete your data"), self.engine.begin() as conn:
            codes = [r.code for r in conn.execute(select(i.code).where(i.supervisor == player))]
            removed = conn.execute(delete(memberships_table).where(m.code.in_(codes))).rowcount if codes else 0
            removed += conn.execute(delete(invites_table).where(i.supervisor == player)).rowcount
            for table in PLAYER_TABLES:
                removed += conn.execute(delete(table).where(table.c.player == player)).rowcount
        return removed

    def purge_older_than(self, days: int, now: datetime | None = None) -> int:
        """Delete rounds, calibrations and feedback traces recorded more than `days` days before `now`; returns
        how many rows went (the retention setting, FACEMATCH_RETENTION_DAYS)."""
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat(timespec="seconds")
        with self._errors("could not apply the retention period"), self.engine.begin() as conn:
            return sum(conn.execute(delete(table).where(stamp < cutoff)).rowcount for table, stamp in (
                (rounds_table, rounds_table.c.played_at), (baselines_table, baselines_table.c.recorded_at),
                (traces_table, traces_table.c.recorded_at)))

