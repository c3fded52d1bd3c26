"""Who is playing when a served Facematch has sign-in (OpenID Connect through Streamlit's st.login), and who
supervises whom. Pure functions: the page that reads st.user is facematch/app/signin.py.

A signed-in player is their identity provider's (issuer, subject) pair, stored in the history as an opaque key
(`account_key`), never as a name anyone can type. Supervisors (teachers, therapists, club leads; "coach" is the
muscle coach) are named by email address or by a value of the groups claim; they see the players who share one
of their groups, from the claim or from an invite code the player entered once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Prefix of signed-in players' keys: local play's names are refused if they start with it (see is_account_key).
KEY_PREFIX = "oidc:"
# Invite codes: 8 characters with no look-alikes (no 0/O, 1/I/L), shown as XXXX-XXXX.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def account_key(issuer: str, subject: str) -> str:
    """The history's key of a signed-in player: stable per (issuer, subject), and revealing neither."""
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
    return f"{KEY_PREFIX}{digest[:24]}"


def is_account_key(name: str) -> bool:
    return name.startswith(KEY_PREFIX)


@dataclass(frozen=True)
class SupervisorRule:
    """Who supervises: email addresses (lower case) and groups-claim values, from the configuration."""

    emails: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    groups_claim: str = "groups"


@dataclass(frozen=True)
class Account:
    """A signed-in person as the app sees them."""

    key: str
    display_name: str
    email: str | None
    groups: tuple[str, ...]  # the groups claim's values (empty without one)
    expires_at: float | None  # the ID token's exp (seconds since the epoch)
    supervisor: bool

    def roster_groups(self, rule: SupervisorRule) -> tuple[str, ...]:
        """The claim groups whose players this supervisor sees: all theirs but the ones that only make them a
        supervisor (a "teachers" group is not a class)."""
        return tuple(g for g in self.groups if g not in rule.groups) if self.supervisor else ()


def _claim_groups(claims: Mapping, name: str) -> tuple[str, ...]:
    value = claims.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(sorted({str(g) for g in value if str(g).strip()}))


def account_from_claims(claims: Mapping, rule: SupervisorRule) -> Account:
    """The Account of an ID token's claims (st.user). ValueError when the claims name nobody (no iss or sub)."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not issuer or not subject:
        raise ValueError("the identity provider's ID token has no issuer or subject")
    email = str(claims["email"]).strip() if claims.get("email") else None
    # An address the provider says it has not verified could be anybody's: it never makes a supervisor.
    verified = claims.get("email_verified", True) not in (False, "false")
    groups = _claim_groups(claims, rule.groups_claim)
    supervisor = bool((email and verified and email.lower() in rule.emails) or set(groups) & set(rule.groups))
    name = next((str(claims[k]).strip() for k in ("name", "preferred_username", "given_name")
                 if claims.get(k) and str(claims[k]).strip()), None)
    display = name or (email.split("@")[0] if email else "player")
    exp = claims.get("exp")
    expires_at = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
    return Account(key=account_key(str(issuer), str(subject)), display_name=display[:40], email=email,
                   groups=groups, expires_at=expires_at, supervisor=supervisor)


def expired(account: Account, now: float) -> bool:
    """Whether the ID token has expired (Streamlit does not check; a token without exp counts as expired)."""
    return account.expires_at is None or now >= account.expires_at


def new_invite_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def clean_invite_code(text: str) -> str:
    """An invite code as typed (any case, spaces or dashes) in its stored form XXXX-XXXX, or "" if it cannot be one."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 and all(ch in CODE_ALPHABET for ch in raw) else ""


def shares_group(player_groups: Iterable[str], roster_groups: Iterable[str]) -> bool:
    return bool(set(player_groups) & set(roster_groups))
