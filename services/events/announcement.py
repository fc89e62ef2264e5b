"""An event announced by a mailing (issue 22, through issue 21's campaigns): the draft of a
campaign whose audience is the event's — its organization's subtree (or the one it is open
within), the members of the categories it is open to, the young ones if it is for them, and
the chairs of the organizations of its levels, who register their members. The draft goes to
notify as the person announcing, and is sent like any campaign of theirs (approval included);
registration still checks the event's audience, levels included, as the mailing cannot."""

from datetime import datetime
from typing import Any

from babel.dates import format_datetime

from services.events.titles import KINDS


def _when(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return format_datetime(moment, "d MMMM y, HH:mm", locale="ru")


def draft(event: dict[str, Any], portal_url: str, to_chairs: bool) -> dict[str, Any]:
    """`to_chairs`: the chairs beneath are told too (staff's events; a chair writes only to
    the members of their own organization)."""
    audience = event.get("audience") or {}
    root = int(audience.get("within_org_id") or event["org_id"])
    lines = [f"**{KINDS.get(event['kind'], event['kind'])}: {event['title']}**", "",
             f"Когда: {_when(event['starts_at'])}"]
    if event.get("place"):
        lines.append(f"Где: {event['place']}")
    if event.get("link"):
        lines.append(f"Ссылка: {event['link']}")
    if audience.get("young"):
        lines.append("Для молодых членов Профсоюза (до 35 лет)")
    if event.get("description"):
        lines += ["", str(event["description"])]
    closes = event.get("registration_closes_at")
    lines += ["", "Зарегистрироваться можно в личном кабинете"
              + (f" до {_when(closes)}" if closes else "")
              + f": {portal_url.rstrip('/')}/portal/account/events",
              "Председатели регистрируют членов своей организации в разделе «Мероприятия»."]
    recipients: dict[str, Any] = {
        "roots": [root], "members": {"categories": list(audience.get("categories") or []),
                                     "under_35": bool(audience.get("young"))}}
    if to_chairs:
        recipients["chairs"] = {"levels": list(audience.get("levels") or [])}
    return {"subject": f"{KINDS.get(event['kind'], event['kind'])}: {event['title']}"[:200],
            "body": "\n".join(lines), "purpose": "union_news", "audience": recipients}
