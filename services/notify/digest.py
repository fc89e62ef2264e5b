"""Digests: many facts, one message per recipient, at most once every so many hours (the
applications waiting: `digest_every_h`, a day; the cards waiting: `cards_digest_every_h`, a week).

The applications of the day wait as items; a run finds the organizations with items, asks the
registry for their chairs, and writes one message per chair (all their organizations together),
marking the items gathered in the same transaction. A second run finds nothing new to gather; the
message's event id is derived from its first item, so it is queued once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.common.db import Db
from services.notify import queue
from services.notify.settings import NotifySettings

DIGEST = "applications_waiting"
KIND = "applications_waiting"
CARDS = "cards_waiting"  # the weekly digest of cards delivered and not handed out


@dataclass(frozen=True)
class Digest:
    name: str  # notify.digest_item.digest
    kind: str  # the template
    every_h: Callable[[NotifySettings], float]
    # the message's context from the recipient, their organizations' items (by name) and links
    context: Callable[[dict[str, Any], list[dict[str, Any]], str], dict[str, Any]]


def _applications(person: dict[str, Any], orgs: list[dict[str, Any]], portal: str,
                  expire_days: int) -> dict[str, Any]:
    return {"first_name": person.get("first_name") or "",
            "total": sum(len(o["items"]) for o in orgs),
            "orgs": [{"name": o["name"], "applications": o["items"]} for o in orgs],
            "queue_url": f"{portal}/portal/applications", "expire_days": expire_days,
            "settings_url": f"{portal}/portal/account#notifications"}


def _cards(person: dict[str, Any], orgs: list[dict[str, Any]], portal: str) -> dict[str, Any]:
    # the latest count of each organization (a reminder again a week later replaces it)
    counted = [{"name": o["name"], "cards": int(o["items"][-1].get("cards") or 0)}
               for o in orgs]
    return {"first_name": person.get("first_name") or "",
            "total": sum(o["cards"] for o in counted), "orgs": counted,
            "cards_url": f"{portal}/portal/cards?status=delivered",
            "settings_url": f"{portal}/portal/account#notifications"}


def applications(expire_days: int) -> Digest:
    return Digest(DIGEST, KIND, lambda c: c.digest_every_h,
                  lambda p, o, u: _applications(p, o, u, expire_days))


def cards() -> Digest:
    return Digest(CARDS, CARDS, lambda c: c.cards_digest_every_h, _cards)


def open_orgs(db: Db, name: str = DIGEST) -> list[int]:
    with db.reading() as s:
        return list(s.execute(text("""
            SELECT DISTINCT org_id FROM notify.digest_item
            WHERE digest = :d AND gathered_at IS NULL ORDER BY org_id
        """), {"d": name}).scalars())


def gather(db: Db, conf: NotifySettings, chairs_of: Callable[[list[int]], list[dict[str, Any]]],
           expire_days: int, spec: Digest | None = None) -> int:
    """Write the digests that are due; returns how many messages were queued."""
    spec = spec or applications(expire_days)
    org_ids = open_orgs(db, spec.name)
    if not org_ids:
        return 0
    by_chair: dict[str, dict[str, Any]] = {}
    for row in chairs_of(org_ids):
        person = row.get("chair") or {}
        address = queue.normal_address(person.get("email"))
        if "@" not in address:
            continue  # no e-mail: the quality check "chairs without access" counts them
        entry = by_chair.setdefault(address, {"person": person, "orgs": {}})
        entry["orgs"][int(row["org_id"])] = row.get("name") or ""
    portal = conf.portal_url.rstrip("/")
    every = timedelta(hours=spec.every_h(conf))
    made = 0
    for address, entry in by_chair.items():
        with db.transaction() as s:
            recent = s.execute(text("""
                SELECT 1 FROM notify.message
                WHERE recipient = :to AND kind = :k
                  AND created_at > now() - CAST(:every AS interval)
                LIMIT 1
            """), {"to": address, "k": spec.kind,
                   "every": f"{every.total_seconds()} seconds"}).first()
            if recent:
                continue
            items = s.execute(text("""
                SELECT id, org_id, item FROM notify.digest_item
                WHERE digest = :d AND gathered_at IS NULL AND org_id = ANY(:orgs)
                ORDER BY org_id, id FOR UPDATE SKIP LOCKED
            """), {"d": spec.name, "orgs": list(entry["orgs"])}).mappings().all()
            if not items:
                continue
            orgs: dict[int, dict[str, Any]] = {}
            for it in items:
                org = orgs.setdefault(it["org_id"], {
                    "name": entry["orgs"][it["org_id"]] or it["item"].get("org_name", ""),
                    "items": []})
                org["items"].append(it["item"])
            message_id = queue.enqueue(
                s, queue.derived_id("digest", spec.name, address, items[0]["id"]), address,
                spec.kind, spec.context(entry["person"], list(orgs.values()), portal))
            s.execute(text("""
                UPDATE notify.digest_item SET gathered_at = now(), message_id = :m
                WHERE id = ANY(:ids)
            """), {"m": message_id, "ids": [it["id"] for it in items]})
            made += message_id is not None
    return made
