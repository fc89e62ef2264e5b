"""What delivery needs of a campaign's message: its text (read once per campaign and process)
and the unsubscribe headers of RFC 2369 / RFC 8058, signed for the recipient."""

import threading
from typing import Any

from sqlalchemy import text

from services.common.db import Db
from services.notify import campaigns, unsubscribe
from services.notify.settings import NotifySettings
from services.notify.templates import Rendered, RenderFailed

_CACHE: dict[int, tuple[str, str, str, str]] = {}
_LOCK = threading.Lock()


def _content(db: Db, campaign_id: int) -> tuple[str, str, str, str]:
    with _LOCK:
        if campaign_id in _CACHE:
            return _CACHE[campaign_id]
    with db.reading() as s:
        row = s.execute(text("""
            SELECT subject, body_html, body_text, purpose FROM notify.campaign WHERE id = :c
        """), {"c": campaign_id}).first()
    if row is None:
        raise RenderFailed(f"campaign {campaign_id} not found")
    with _LOCK:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[campaign_id] = tuple(row)  # a campaign's text does not change once queued
    return tuple(row)


def rendered(db: Db, conf: NotifySettings, campaign_id: int,
             recipient: str) -> tuple[Rendered, list[str]]:
    subject, html, plain, purpose = _content(db, campaign_id)
    try:
        links = unsubscribe.links(conf, recipient, campaign_id)
    except RuntimeError as exc:
        raise RenderFailed(str(exc)) from exc
    targets = [f"<{links['one_click']}>"]
    if conf.unsubscribe_mailto:
        targets.append(f"<mailto:{conf.unsubscribe_mailto}?subject=unsubscribe-"
                       f"{links['token']}>")
    headers = [f"List-Unsubscribe: {', '.join(targets)}",
               "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
               f"List-Id: <campaign-{campaign_id}.reestr.mailing>",
               "Precedence: bulk"]
    return campaigns.message(subject, html, plain, links, purpose), headers


def forget(campaign_id: Any) -> None:
    with _LOCK:
        _CACHE.pop(int(campaign_id), None)
