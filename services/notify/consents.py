"""Consent to mailings by purpose (38-ФЗ art. 18 keeps advertising apart from the union's news;
consent to processing personal data is a separate document, kept by membership).

A person's own choices (the personal account, the unsubscribe page, the one-click POST) are
rows here, by address, the latest deciding; until an address has a row for a purpose, the
consent in the member's card or the chair's passport (`email_consent`) stands for the union's
news, and nothing stands for partners' advertising: it needs its own prior consent.
"""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed
from services.notify.queue import normal_address

UNION_NEWS = "union_news"
PARTNER_ADS = "partner_ads"
PERSONAL_DATA = "personal_data"  # membership's: shown, withdrawn through membership
# the text a person agrees to, by version: a new wording is a new version, older rows keep theirs
TEXTS: dict[str, tuple[str, str, str]] = {
    UNION_NEWS: ("news-2026-1", "Новости и мероприятия Профсоюза",
                 "Согласен получать по e-mail новости Профсоюза, приглашения на мероприятия и "
                 "сообщения о значимых событиях."),
    PARTNER_ADS: ("ads-2026-1", "Предложения партнёров Профсоюза (реклама)",
                  "Согласен получать по e-mail рекламу партнёров Профсоюза (ст. 18 Федерального "
                  "закона «О рекламе»)."),
}
PURPOSES = tuple(TEXTS)
CHANNELS = ("account", "unsubscribe_link", "one_click", "mailto", "card", "passport", "staff")


def check_purpose(purpose: Any) -> str:
    if purpose not in TEXTS:
        raise ValidationFailed("purpose", "Цель рассылки: новости Профсоюза (union_news) или "
                                          "реклама партнёров (partner_ads)")
    return str(purpose)


def record(session: Session, email: str, purpose: str, granted: bool, channel: str,
           source: str) -> dict[str, Any]:
    """A dated change of consent. A withdrawal takes effect at once for campaigns still
    sending: their queued messages to the address for that purpose are skipped."""
    address = normal_address(email)
    if "@" not in address:
        raise ValidationFailed("email", "Нет адреса e-mail")
    check_purpose(purpose)
    row = session.execute(text("""
        INSERT INTO notify.consent (email, purpose, granted, text_version, channel, source)
        VALUES (:e, :p, :g, :v, :c, :s) RETURNING id, at
    """), {"e": address, "p": purpose, "g": bool(granted), "v": TEXTS[purpose][0],
           "c": channel, "s": source[:200]}).mappings().one()
    stopped = 0
    if not granted:
        stopped = session.execute(text("""
            UPDATE notify.message m SET status = 'skipped', error = 'unsubscribed'
            FROM notify.campaign c
            WHERE m.recipient = :e AND m.status = 'queued' AND m.campaign_id = c.id
              AND c.purpose = :p
        """), {"e": address, "p": purpose}).rowcount
    return {"id": row["id"], "at": row["at"].isoformat(), "purpose": purpose,
            "granted": bool(granted), "stopped_messages": stopped}


def of(session: Session, email: str, base_news: bool | None = None) -> list[dict[str, Any]]:
    """The person's consents, each with its version, date, channel and source (the card's or
    passport's consent when they have chosen nothing here)."""
    address = normal_address(email)
    rows = {r["purpose"]: dict(r) for r in session.execute(text("""
        SELECT DISTINCT ON (purpose) purpose, granted, text_version, channel, source, at
        FROM notify.consent WHERE email = :e ORDER BY purpose, id DESC
    """), {"e": address}).mappings()}
    out = []
    for purpose, (_version, title, wording) in TEXTS.items():
        row = rows.get(purpose)
        if row:
            out.append({"purpose": purpose, "title": title, "text": wording,
                        "granted": row["granted"], "text_version": row["text_version"],
                        "channel": row["channel"], "source": row["source"],
                        "at": row["at"].isoformat()})
        else:
            granted = bool(base_news) if purpose == UNION_NEWS else False
            out.append({"purpose": purpose, "title": title, "text": wording,
                        "granted": granted, "text_version": None,
                        "channel": "card" if granted else None,
                        "source": "карточка / паспорт" if granted else None, "at": None})
    return out


def history(session: Session, email: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT purpose, granted, text_version, channel, source, at FROM notify.consent
        WHERE email = :e ORDER BY id DESC LIMIT :n
    """), {"e": normal_address(email), "n": limit}).mappings().all()
    return [dict(r, at=r["at"].isoformat()) for r in rows]
