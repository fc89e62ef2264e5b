"""Accounts disabled, deleted or signed out in Keycloak itself, told to every gateway in seconds.

Keycloak stores its admin events (with the changed representation) and its users' events; the
sso service reads both every few seconds (two admin calls a poll, however many accounts there
are) and publishes what ended someone's tokens as `tokens_revoked`. Keycloak's event store is the
memory: a restarted sso service reads back the last token lifetime of events and publishes them
again, and a restarted gateway asks for the current list (`revocations`), so neither restart
lets a revoked token back in. Entries lapse once the tokens they refuse have expired.

What counts (everything else in the events is ignored):
- a user updated with `enabled: false`, or deleted: the account's tokens (account_disabled);
- "sign out" of a user (all their sessions): the user's tokens issued until then (signed_out);
- a session ended by an administrator, or by its user (LOGOUT): that session's tokens;
- "sign out all active sessions" of the realm: every token issued until then.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin

log = logging.getLogger(__name__)

PAGE = 500
# events written by other Keycloak nodes may land a little behind the newest one read: every
# poll reads this far back again, and ids already seen are skipped
OVERLAP_MS = 5_000
# how long after its event an entry is kept beyond the token lifetime (clock skew, leeway)
MARGIN_S = 60
ALL_SUBJECTS = "*"


@dataclass(frozen=True)
class Revocation:
    kind: str    # "subject" (key: a user id, or "*" for the realm) or "session" (key: sid)
    key: str
    before: int  # tokens issued at or before this second are refused
    until: int   # epoch second after which every such token has expired
    reason: str  # "account_disabled" or "signed_out"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "before": self.before, "until": self.until,
                "reason": self.reason}


def _representation(event: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(event.get("representation") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def from_admin_event(event: dict[str, Any], lifespan_s: int) -> Revocation | None:
    """The revocation an admin event means, if any."""
    parts = tuple((event.get("resourcePath") or "").strip("/").split("/"))
    what = (event.get("resourceType"), event.get("operationType"))
    before = int(event.get("time", 0)) // 1000
    until = before + lifespan_s + MARGIN_S
    users = parts[0] == "users"
    if users and len(parts) == 2 and (what == ("USER", "DELETE") or (
            what == ("USER", "UPDATE") and _representation(event).get("enabled") is False)):
        return Revocation("subject", parts[1], before, until, "account_disabled")
    if users and len(parts) == 3 and parts[2] == "logout" and what == ("USER", "ACTION"):
        return Revocation("subject", parts[1], before, until, "signed_out")
    if parts[0] == "sessions" and len(parts) == 2 and what == ("USER_SESSION", "DELETE"):
        return Revocation("session", parts[1], before, until, "signed_out")
    if parts == ("logout-all",) and what == ("REALM", "ACTION"):
        return Revocation("subject", ALL_SUBJECTS, before, until, "signed_out")
    return None


def from_user_event(event: dict[str, Any], lifespan_s: int) -> Revocation | None:
    """A user's own sign-out ends that session's tokens (their other devices keep theirs)."""
    if event.get("type") != "LOGOUT" or not event.get("sessionId"):
        return None
    before = int(event.get("time", 0)) // 1000
    return Revocation("session", str(event["sessionId"]), before,
                      before + lifespan_s + MARGIN_S, "signed_out")


@dataclass
class Feed:
    """What one sso instance has read of Keycloak's events and what is still in force."""

    lifespan_s: int
    cursor_ms: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # event id -> its time, the overlap
    active: dict[tuple[str, str], Revocation] = field(default_factory=dict)

    def start(self, now_ms: int | None = None) -> None:
        """Read back one token lifetime: what was revoked while nobody watched."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self.cursor_ms = now_ms - (self.lifespan_s + MARGIN_S) * 1000

    def take(self, events: list[tuple[str, dict[str, Any]]]) -> list[Revocation]:
        """Events ("admin" or "user", the event) in any order: the revocations new to us."""
        fresh: list[Revocation] = []
        for source, event in events:
            event_id = str(event.get("id") or (source, event.get("time"),
                                              event.get("resourcePath"), event.get("sessionId")))
            if event_id in self.seen:
                continue
            at = int(event.get("time", 0))
            self.seen[event_id] = at
            self.cursor_ms = max(self.cursor_ms, at)
            parse = from_admin_event if source == "admin" else from_user_event
            revocation = parse(event, self.lifespan_s)
            if revocation is None:
                continue
            key = (revocation.kind, revocation.key)
            old = self.active.get(key)
            if old is None or old.before < revocation.before:
                self.active[key] = revocation
                fresh.append(revocation)
        horizon = self.cursor_ms - OVERLAP_MS
        self.seen = {k: t for k, t in self.seen.items() if t >= horizon}
        return fresh

    def snapshot(self, now_s: float | None = None) -> list[Revocation]:
        now_s = time.time() if now_s is None else now_s
        self.active = {k: r for k, r in self.active.items() if r.until > now_s}
        return list(self.active.values())


def _all_pages(fetch, query: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = fetch({**query, "first": len(found), "max": PAGE})
        found.extend(page)
        if len(page) < PAGE:
            return found


def read_events(admin: KeycloakAdmin, since_ms: int) -> list[tuple[str, dict[str, Any]]]:
    """Admin and user events from `since_ms` on, only the kinds that can revoke."""
    admin_events = _all_pages(admin.get_admin_events, {
        "dateFrom": str(since_ms), "direction": "asc",
        "resourceTypes": ["USER", "USER_SESSION", "REALM"],
        "operationTypes": ["UPDATE", "DELETE", "ACTION"]})
    user_events = _all_pages(admin.get_events, {
        "dateFrom": str(since_ms), "direction": "asc", "type": ["LOGOUT", "LOGIN"]})
    return [*(("admin", e) for e in admin_events), *(("user", e) for e in user_events)]


def signed_in(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The accounts (usernames) that signed in, from LOGIN events."""
    return sorted({str((e.get("details") or {}).get("username") or "").lower()
                   for source, e in events if source == "user" and e.get("type") == "LOGIN"}
                  - {""})


def poll(admin: KeycloakAdmin, feed: Feed) -> tuple[list[Revocation], list[str]]:
    """The revocations new to the feed, and who signed in (read again across the overlap:
    the receiver takes a sign-in twice without harm)."""
    events = read_events(admin, max(0, feed.cursor_ms - OVERLAP_MS))
    return feed.take(events), signed_in(events)


def payload(revocations: list[Revocation]) -> dict[str, Any]:
    """The `tokens_revoked` event and the `revocations` answer (gateway.tokens reads it)."""
    return {"revoked": [r.as_dict() for r in revocations]}
