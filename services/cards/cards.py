"""Cards of members: requests, the moves a chair makes, lists, history, the member's own card.

Who the holders are comes from membership (`card_holders`, asked as the caller, so membership's
scope rules decide whom a chair may order for); a card keeps the holder's name and organization
as of the request, which is what the vendor prints and where it delivers.
"""

import re
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.cards import numbers
from services.cards.lifecycle import CHAIR_MOVES, LIVE, record_events
from services.cards.titles import STATUS_TITLES
from services.common import outbox
from services.common.caller import in_subtrees
from services.common.errors import Conflict, NotFound, ValidationFailed

SCHEMA = "cards"
KINDS = ("plastic", "virtual")
MAX_PAGE = 500


def card_not_found(card_id: Any) -> NotFound:
    return NotFound("card_not_found", f"Карта {card_id} не найдена")


def _holder_name(h: dict[str, Any]) -> str:
    return " ".join(p for p in (h["surname"], h["first_name"], h.get("patronymic")) if p)


def region_codes(session: Session, holders: list[dict[str, Any]]) -> dict[Any, str]:
    """Each region's two digits of card numbers: fixed when the region's first card is
    numbered (from a registry number of its then), never taken again from a registry number
    an editor may change since."""
    seen = {h["region_id"]: numbers.region_code(h["org_registry_number"]) for h in holders}
    session.execute(text("""
        INSERT INTO cards.region_code (region_id, code)
        SELECT region_id, code FROM jsonb_to_recordset(CAST(:rows AS jsonb))
            AS r(region_id bigint, code text)
        ON CONFLICT (region_id) DO NOTHING
    """), {"rows": orjson.dumps([{"region_id": r, "code": c} for r, c in seen.items()
                                 if r is not None]).decode()})
    fixed = dict(session.execute(text(
        "SELECT region_id, code FROM cards.region_code WHERE region_id = ANY(:r)"),
        {"r": [r for r in seen if r is not None]}).all())
    return {r: fixed.get(r, c) for r, c in seen.items()}


def request(session: Session, actor: str, holders: list[dict[str, Any]], kind: str,
            prefix: str) -> list[dict[str, Any]]:
    """New cards for members without one in force; those who have one are skipped. Each gets
    its number at once (the vendor prints it). Returns the cards made."""
    if kind not in KINDS:
        raise ValidationFailed(details=[{"field": "kind", "code": "enum",
                                         "message": "Вид карты: plastic или virtual"}])
    if not holders:
        return []
    has_card = set(session.execute(text("""
        SELECT live_member_id FROM cards.card WHERE live_member_id = ANY(:m)
    """), {"m": [h["member_id"] for h in holders]}).scalars())
    holders = [h for h in holders if h["member_id"] not in has_card]
    if not holders:
        return []
    sequence = session.execute(text(
        "SELECT nextval('cards.card_number_seq') FROM generate_series(1, :n)"),
        {"n": len(holders)}).scalars().all()
    codes = region_codes(session, holders)
    rows = [{"number": numbers.compose(prefix, codes[h["region_id"]], seq),
             "member_id": h["member_id"], "org_id": h["org_id"], "org_path": h["org_path"],
             "region_id": h["region_id"], "holder": _holder_name(h),
             "org_number": h["org_registry_number"], "org_name": h["org_name"]}
            for h, seq in zip(holders, sequence, strict=True)]
    made = session.execute(text("""
        INSERT INTO cards.card (number, member_id, live_member_id, org_id, org_path, region_id,
                                holder, org_number, org_name, kind, status, requested_by)
        SELECT number, member_id, member_id, org_id, text2ltree(org_path), region_id, holder,
               org_number, org_name, :kind,
               CASE WHEN :kind = 'virtual' THEN 'virtual' ELSE 'requested' END, :actor
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            number text, member_id bigint, org_id bigint, org_path text, region_id bigint,
            holder text, org_number text, org_name text)
        ON CONFLICT (live_member_id) DO NOTHING
        RETURNING id, number, member_id, status
    """), {"rows": orjson.dumps(rows).decode(), "kind": kind, "actor": actor}
    ).mappings().all()
    if made:
        record_events(session, [m["id"] for m in made], made[0]["status"], actor)
        outbox.add_event(session, SCHEMA, "cards_requested", {
            "cards": [{"card_id": m["id"], "member_id": m["member_id"], "number": m["number"],
                       "status": m["status"]} for m in made]})
    return [dict(m) for m in made]


def live_card(session: Session, member_id: int) -> dict[str, Any] | None:
    row = session.execute(text("""
        SELECT * FROM cards.card WHERE live_member_id = :m
    """), {"m": member_id}).mappings().first()
    return None if row is None else shown(dict(row))


def of_member(session: Session, member_id: int, paths: list[str] | None) -> list[dict[str, Any]]:
    scope, params = in_subtrees("org_path", paths)
    rows = session.execute(text(f"""
        SELECT * FROM cards.card WHERE member_id = :m AND {scope} ORDER BY id
    """), {"m": member_id, **params}).mappings().all()
    return [shown(dict(r)) for r in rows]


def erase_holders(session: Session, member_ids: list[int]) -> int:
    """The name printed on a reduced member's cards is erased (the number stays: a number is
    never given again); idempotent."""
    return session.execute(text("""
        UPDATE cards.card SET holder = '' WHERE member_id = ANY(:ids) AND holder <> ''
    """), {"ids": member_ids}).rowcount


def in_production(session: Session) -> list[int]:
    """Members with a card ordered and not yet made (requested, batched)."""
    return list(session.execute(text("""
        SELECT DISTINCT member_id FROM cards.card WHERE status IN ('requested', 'batched')
    """)).scalars())


def get(session: Session, card_id: int, paths: list[str] | None, lock: bool = False
        ) -> dict[str, Any]:
    """A card within the caller's subtrees (`paths`; None: everywhere). Others look missing."""
    scope, params = in_subtrees("org_path", paths)
    row = session.execute(text(f"""
        SELECT * FROM cards.card WHERE id = :id AND {scope}
        {'FOR UPDATE' if lock else ''}
    """), {"id": card_id, **params}).mappings().first()
    if row is None:
        raise card_not_found(card_id)
    return dict(row)


def move(session: Session, actor: str, card: dict[str, Any], status: str,
         reason: str | None) -> dict[str, Any]:
    """A chair's move: handing the card out (Выдана), or recording a refusal (Отказ)."""
    allowed = CHAIR_MOVES.get(status)
    if allowed is None:
        raise ValidationFailed(details=[{"field": "status", "code": "enum",
                                         "message": "Статус: issued или refused"}])
    if card["status"] == status:
        return shown(card)  # the same press twice
    if card["status"] not in allowed:
        raise Conflict("card_status", f"Карту в статусе «{STATUS_TITLES[card['status']]}» "
                                      f"нельзя перевести в «{STATUS_TITLES[status]}»")
    if status == "refused" and not (reason or "").strip():
        raise ValidationFailed(details=[{"field": "reason", "code": "missing",
                                         "message": "Укажите причину отказа"}])
    row = session.execute(text("""
        UPDATE cards.card SET status = :s, status_on = now(),
            reason = CASE WHEN :s = 'refused' THEN :reason ELSE reason END,
            live_member_id = CASE WHEN :s = 'refused' THEN NULL ELSE live_member_id END
        WHERE id = :id RETURNING *
    """), {"s": status, "reason": (reason or "").strip() or None, "id": card["id"]}
    ).mappings().one()
    record_events(session, [card["id"]], status, actor, reason)
    if status == "refused":
        outbox.add_event(session, SCHEMA, "cards_refused", {"cards": [{
            "card_id": card["id"], "member_id": card["member_id"], "number": card["number"],
            "reason": reason}]})
    return shown(dict(row))


UNDO_REASON = "выдача отменена"


def undo_issue(session: Session, actor: str, card: dict[str, Any]) -> dict[str, Any]:
    """A card marked Выдана by mistake goes back to the status it had, the same day and by
    the person who marked it; the history keeps both moves."""
    events = session.execute(text("""
        SELECT status, at, by, at::date = current_date AS today
        FROM cards.card_event WHERE card_id = :id ORDER BY id DESC LIMIT 2
    """), {"id": card["id"]}).mappings().all()
    if card["status"] != "issued" or not events or events[0]["status"] != "issued":
        raise Conflict("card_status", "Отменить можно только выдачу карты")
    if events[0]["by"] != actor or not events[0]["today"]:
        raise Conflict("undo_too_late", "Отменить выдачу может только тот, кто её отметил, "
                                        "и только в тот же день")
    back = events[1]["status"] if len(events) > 1 and events[1]["status"] in \
        CHAIR_MOVES["issued"] else "delivered"
    row = session.execute(text("""
        UPDATE cards.card SET status = :s, status_on = now() WHERE id = :id RETURNING *
    """), {"s": back, "id": card["id"]}).mappings().one()
    record_events(session, [card["id"]], back, actor, UNDO_REASON)
    return shown(dict(row))


def hand_out(session: Session, actor: str, card_ids: list[int]) -> int:
    """Many cards handed out at once (a chair's meeting, or a generated data set): the move of
    `move` to Выдана for those of them that may make it; returns how many did."""
    moved = session.execute(text("""
        UPDATE cards.card SET status = 'issued', status_on = now()
        WHERE id = ANY(:ids) AND status = ANY(:allowed) RETURNING id
    """), {"ids": card_ids, "allowed": list(CHAIR_MOVES["issued"])}).scalars().all()
    record_events(session, list(moved), "issued", actor)
    return len(moved)


def refuse_for_removed(session: Session, member_id: int) -> int:
    """A member taken off the register: a card not yet sent to the vendor is not made."""
    ids = session.execute(text("""
        UPDATE cards.card SET status = 'refused', status_on = now(),
            reason = 'снят с учёта', live_member_id = NULL
        WHERE member_id = :m AND status = 'requested' RETURNING id
    """), {"m": member_id}).scalars().all()
    record_events(session, ids, "refused", "system", "снят с учёта")
    return len(ids)


def follow_transfer(session: Session, holder: dict[str, Any]) -> int:
    """A member moved to another organization: a card not yet delivered goes there."""
    return session.execute(text("""
        UPDATE cards.card SET org_id = :org, org_path = text2ltree(:path), region_id = :region,
            org_number = :number, org_name = :name
        WHERE member_id = :m AND status IN ('requested', 'virtual')
    """), {"org": holder["org_id"], "path": holder["org_path"], "region": holder["region_id"],
           "number": holder["org_registry_number"], "name": holder["org_name"],
           "m": holder["member_id"]}).rowcount


def list_cards(session: Session, paths: list[str] | None, org_id: int | None,
               status: str | None, limit: int = 50, offset: int = 0,
               q: str = "") -> dict[str, Any]:
    """A page of cards, by holder; `q` finds a holder by the beginning of a surname (or of
    surname and first name, ё read as е) or a card by its number, however it is spaced."""
    if status and status not in STATUS_TITLES:
        raise ValidationFailed(details=[{"field": "status", "code": "enum",
                                         "message": "Статус: " + ", ".join(STATUS_TITLES)}])
    limit = min(max(int(limit), 1), MAX_PAGE)
    subtrees, params = in_subtrees("org_path", paths)
    scope = f"{subtrees} AND (CAST(:org AS bigint) IS NULL OR org_id = :org)"
    params.update(org=org_id, status=status)
    where = f"{scope} AND (CAST(:status AS text) IS NULL OR status = :status)"
    found = _card_query(q)
    if found:
        where += " AND " + found[0]
        params.update(found[1])
    rows = session.execute(text(f"""
        SELECT * FROM cards.card WHERE {where}
        ORDER BY holder, id LIMIT :limit OFFSET :offset
    """), {**params, "limit": limit, "offset": max(int(offset), 0)}).mappings().all()
    counts = status_counts(session, paths, org_id)
    if found:
        total = session.execute(text(f"SELECT count(*) FROM cards.card WHERE {where}"),
                                params).scalar_one()
    else:
        total = counts.get(status, 0) if status else sum(counts.values())
    return {"items": [shown(dict(r)) for r in rows], "limit": limit, "offset": offset,
            "total": total, "by_status": counts}


def _card_query(q: str) -> tuple[str, dict[str, Any]] | None:
    """A search of the cards list: digits (spaces, dashes and «№» aside) are a card number's
    beginning; words are the beginning of the holder's name, ё read as е."""
    text_q = str(q or "").strip()
    if not text_q:
        return None
    digits = re.sub(r"[\s\-№#]|N[oо]?\.?", "", text_q, flags=re.IGNORECASE)
    if digits.isdigit():
        return "number LIKE :number", {"number": digits + "%"}
    words = " ".join(text_q.lower().replace("ё", "е").split())
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("replace(lower(holder), 'ё', 'е') LIKE :holder",
            {"holder": escaped + "%"})


def status_counts(session: Session, paths: list[str] | None, org_id: int | None,
                  beneath: int | None = None) -> dict[str, int]:
    """Cards by status within the caller's subtrees (`paths`; None: everywhere), or of one
    organization, or of the whole subtree of `beneath` (paths are chains of ids, so the
    subtree is the paths that hold its id: `*.id.*`, which the path's GiST index answers)."""
    subtrees, params = in_subtrees("org_path", paths)
    under = "AND org_path ~ CAST(:beneath AS lquery)" if beneath is not None else ""
    return dict(session.execute(text(f"""
        SELECT status, count(*) FROM cards.card
        WHERE {subtrees} {under} AND (CAST(:org AS bigint) IS NULL OR org_id = :org)
        GROUP BY status
    """), {**params, "org": org_id, "beneath": f"*.{int(beneath)}.*" if beneath is not None
           else None}).all())


def history(session: Session, card_id: int) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT status, at, by, reason FROM cards.card_event WHERE card_id = :id ORDER BY id
    """), {"id": card_id}).mappings().all()
    return [{**dict(r), "status_title": STATUS_TITLES[r["status"]]} for r in rows]


def shown(card: dict[str, Any]) -> dict[str, Any]:
    card = {k: v for k, v in card.items()
            if k not in ("org_path", "reminded_at", "live_member_id")}
    card["status_title"] = STATUS_TITLES[card["status"]]
    card["live"] = card["status"] in LIVE
    number = card["number"]
    card["number_display"] = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    return card


def virtual_card(card: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
    """What the app shows as the virtual card: the number, the holder, the organization and a
    code a partner's till can read (the number itself)."""
    return {"number": card["number"], "number_display": card["number_display"],
            "holder": card["holder"], "organization": member.get("org_name") or card["org_name"],
            "status": card["status"], "status_title": card["status_title"],
            "barcode": {"type": "code128", "value": card["number"]},
            "valid": card["status"] in ("issued", "virtual", "delivered", "produced")}


def set_policy(session: Session, actor: str, region_id: int, auto_request: bool) -> dict:
    session.execute(text("""
        INSERT INTO cards.region_policy (region_id, auto_request, updated_by)
        VALUES (:r, :a, :by)
        ON CONFLICT (region_id) DO UPDATE SET auto_request = :a, updated_by = :by,
            updated_at = now()
    """), {"r": region_id, "a": auto_request, "by": actor})
    return {"region_id": region_id, "auto_request": auto_request}


def auto_request(session: Session, region_id: int | None) -> bool:
    if region_id is None:
        return False
    return bool(session.execute(text(
        "SELECT auto_request FROM cards.region_policy WHERE region_id = :r"),
        {"r": region_id}).scalar())


def remind(session: Session, after: timedelta) -> int:
    """Chairs of organizations holding cards produced or delivered but not handed out for
    longer than `after` are reminded (an event per organization, again after as long): the
    source document says chairs forget to mark them issued."""
    rows = session.execute(text("""
        WITH due AS (
            UPDATE cards.card SET reminded_at = now()
            WHERE status IN ('produced', 'delivered') AND status_on < now() - :after
              AND (reminded_at IS NULL OR reminded_at < now() - :after)
            RETURNING org_id
        )
        SELECT org_id, count(*) FROM due GROUP BY org_id
    """), {"after": after}).all()
    for org_id, count in rows:
        outbox.add_event(session, SCHEMA, "cards_waiting", {"org_id": org_id, "cards": count})
    return len(rows)


WAITING_COLUMNS = ("org_id", "produced", "delivered")


def waiting_by_org(session: Session) -> list[tuple[int, int, int]]:
    """Cards produced or delivered but not handed out, per organization (data quality)."""
    return [tuple(r) for r in session.execute(text("""
        SELECT org_id, count(*) FILTER (WHERE status = 'produced'),
               count(*) FILTER (WHERE status = 'delivered')
        FROM cards.card WHERE status IN ('produced', 'delivered') GROUP BY org_id
    """))]
