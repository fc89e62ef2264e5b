"""Digests: many facts, one message per recipient, at most once every `digest_every_h` hours.

The applications of the day wait as items; a run finds the organizations with items, asks the
registry for their chairs, and writes one message per chair (all their organizations together),
marking the items gathered in the same transaction. A second run finds nothing new to gather; the
message's event id is derived from its first item, so it is queued once.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.common.db import Db
from services.notify import queue
from services.notify.settings import NotifySettings

DIGEST = "applications_waiting"
KIND = "applications_waiting"


def open_orgs(db: Db) -> list[int]:
    with db.reading() as s:
        return list(s.execute(text("""
            SELECT DISTINCT org_id FROM notify.digest_item
            WHERE digest = :d AND gathered_at IS NULL ORDER BY org_id
        """), {"d": DIGEST}).scalars())


def gather(db: Db, conf: NotifySettings, chairs_of: Callable[[list[int]], list[dict[str, Any]]],
           expire_days: int) -> int:
    """Write the digests that are due; returns how many messages were queued."""
    org_ids = open_orgs(db)
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
    every = timedelta(hours=conf.digest_every_h)
    made = 0
    for address, entry in by_chair.items():
        with db.transaction() as s:
            recent = s.execute(text("""
                SELECT 1 FROM notify.message
                WHERE recipient = :to AND kind = :k
                  AND created_at > now() - CAST(:every AS interval)
                LIMIT 1
            """), {"to": address, "k": KIND, "every": f"{every.total_seconds()} seconds"}).first()
            if recent:
                continue
            items = s.execute(text("""
                SELECT id, org_id, item FROM notify.digest_item
                WHERE digest = :d AND gathered_at IS NULL AND org_id = ANY(:orgs)
                ORDER BY org_id, id FOR UPDATE SKIP LOCKED
            """), {"d": DIGEST, "orgs": list(entry["orgs"])}).mappings().all()
            if not items:
                continue
            orgs: dict[int, dict[str, Any]] = {}
            for it in items:
                org = orgs.setdefault(it["org_id"], {
                    "name": entry["orgs"][it["org_id"]] or it["item"].get("org_name", ""),
                    "applications": []})
                org["applications"].append(it["item"])
            message_id = queue.enqueue(
                s, queue.derived_id("digest", DIGEST, address, items[0]["id"]), address, KIND, {
                    "first_name": entry["person"].get("first_name") or "",
                    "total": len(items), "orgs": list(orgs.values()),
                    "queue_url": f"{portal}/portal/applications", "expire_days": expire_days,
                    "settings_url": f"{portal}/portal/account#notifications"})
            s.execute(text("""
                UPDATE notify.digest_item SET gathered_at = now(), message_id = :m
                WHERE id = ANY(:ids)
            """), {"m": message_id, "ids": [it["id"] for it in items]})
            made += message_id is not None
    return made
