"""Campaigns (адресная рассылка): a subject and Markdown text rendered once to sanitised HTML,
an audience from the registry, a purpose whose consent each recipient needs; queued on notify's
own outgoing queue (one message per campaign and address) and sent by the same delivery.

The audience is fixed when the campaign starts: the addresses resolved then are the campaign's
messages; people registered later are not added, a withdrawal later skips theirs.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.notify import consents
from services.notify.templates import Rendered

KIND = "campaign"
SUBJECT_MAX = 200
BODY_MAX = 100_000
STATES = ("draft", "awaiting_approval", "scheduled", "sending", "paused", "done", "cancelled")
# raw HTML in the Markdown is shown as text ('js-default' turns html off), links only http(s)
# and mailto, and nh3 (ammonia) strips whatever else slipped through: nothing runs in mail
_MD = MarkdownIt("js-default", {"linkify": False, "typographer": False})
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "h1", "h2", "h3", "h4", "blockquote",
         "code", "pre", "hr"}


def render_body(md: str) -> tuple[str, str]:
    html = nh3.clean(_MD.render(md), tags=_TAGS, attributes={"a": {"href"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return html, md.strip() + "\n"


def check_draft(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("campaign_object", "Передайте рассылку: тему, текст и адресатов")
    errors = []
    subject = " ".join(str(data.get("subject") or "").split())
    body = str(data.get("body") or "").strip()
    if not subject:
        errors.append(field_error("subject", "required", "Укажите тему письма"))
    elif len(subject) > SUBJECT_MAX:
        errors.append(field_error("subject", "too_long",
                                  f"Тема длиннее {SUBJECT_MAX} символов"))
    if not body:
        errors.append(field_error("body", "required", "Напишите текст письма"))
    elif len(body) > BODY_MAX:
        errors.append(field_error("body", "too_long", "Текст длиннее 100 000 символов"))
    if data.get("attachments"):
        errors.append(field_error("attachments", "not_supported",
                                  "Вложения в рассылку не прикладываются: дайте ссылку на "
                                  "документ в библиотеке"))
    purpose = data.get("purpose") or consents.UNION_NEWS
    if purpose not in consents.TEXTS:
        errors.append(field_error("purpose", "unknown", "Цель: union_news или partner_ads"))
    scheduled = None
    if data.get("scheduled_at"):
        try:
            scheduled = datetime.fromisoformat(str(data["scheduled_at"]))
            if scheduled.tzinfo is None:
                scheduled = scheduled.replace(tzinfo=UTC)
        except ValueError:
            errors.append(field_error("scheduled_at", "bad_moment",
                                      "Время отправки: ГГГГ-ММ-ДДTЧЧ:ММ"))
    try:
        audience = check_audience(data.get("audience"))
    except ValidationFailed as exc:
        errors.extend(exc.details or [field_error("audience", exc.code, exc.message)])
        audience = {}
    if errors:
        raise ValidationFailed(details=errors)
    return {"subject": subject, "body": body, "purpose": purpose, "scheduled_at": scheduled,
            "audience": audience}


LEVELS = ("central", "regional", "territorial", "primary", "subdivision")
CATEGORIES = ("working", "student", "pensioner", "not_given")
ORG_TYPES = ("school", "kindergarten", "college", "university", "additional", "other")


def check_audience(spec: Any) -> dict[str, Any]:
    """{"roots": [org ids, empty for the whole union], "chairs": {"levels": [...]},
    "members": {"categories": [...], "under_35": bool}, "org_types": [...]}; chairs and
    members together make the union of both."""
    if not isinstance(spec, dict):
        raise ValidationFailed("audience_required", "Выберите адресатов рассылки")
    roots = spec.get("roots") or []
    if not isinstance(roots, list) or not all(isinstance(i, int) and i > 0 for i in roots):
        raise ValidationFailed("roots", "Организации: список номеров")
    chairs, members = spec.get("chairs"), spec.get("members")
    if not isinstance(chairs, dict | None) or not isinstance(members, dict | None):
        raise ValidationFailed("audience", "Председатели и члены: объекты с условиями")
    if chairs is None and members is None:
        raise ValidationFailed("audience_empty",
                               "Выберите адресатов: председателей и (или) членов Профсоюза")
    out: dict[str, Any] = {"roots": sorted(set(roots)),
                           "org_types": _subset(spec.get("org_types"), ORG_TYPES, "org_types")}
    if chairs is not None:
        out["chairs"] = {"levels": _subset(chairs.get("levels"), LEVELS, "levels")}
    if members is not None:
        out["members"] = {"categories": _subset(members.get("categories"), CATEGORIES,
                                                "categories"),
                          "under_35": bool(members.get("under_35"))}
    return out


def _subset(value: Any, allowed: tuple[str, ...], field: str) -> list[str]:
    values = list(value or [])
    if any(v not in allowed for v in values):
        raise ValidationFailed(field, f"Допустимые значения: {', '.join(allowed)}")
    return sorted(set(values))


def create(session: Session, draft: dict[str, Any], author: str,
           scope_org_id: int | None) -> dict[str, Any]:
    html, plain = render_body(draft["body"])
    row = session.execute(text("""
        INSERT INTO notify.campaign (event_id, subject, body_md, body_html, body_text, purpose,
                                     audience, scope_org_id, author, scheduled_at)
        VALUES (:ev, :subject, :md, :html, :plain, :purpose, CAST(:aud AS jsonb), :scope,
                :author, :at)
        RETURNING id
    """), {"ev": str(uuid.uuid4()), "subject": draft["subject"], "md": draft["body"],
           "html": html, "plain": plain, "purpose": draft["purpose"],
           "aud": json.dumps(draft["audience"]), "scope": scope_org_id, "author": author,
           "at": draft["scheduled_at"]}).scalar_one()
    return get(session, row)


def get(session: Session, campaign_id: int, lock: bool = False) -> dict[str, Any]:
    row = session.execute(text(f"""
        SELECT id, subject, body_md, body_html, purpose, audience, scope_org_id, author, status,
               needs_approval, approved_by, approved_at, scheduled_at, started_at, counts,
               created_at, updated_at
        FROM notify.campaign WHERE id = :id {'FOR UPDATE' if lock else ''}
    """), {"id": campaign_id}).mappings().first()
    if row is None:
        raise NotFound("campaign_not_found", "Рассылка не найдена")
    return dict(row)


def listing(session: Session, scope_org_ids: list[int] | None, status: str | None,
            limit: int = 100) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT id, subject, purpose, status, author, scope_org_id, needs_approval, approved_by,
               scheduled_at, started_at, counts, created_at
        FROM notify.campaign
        WHERE (CAST(:scope AS bigint[]) IS NULL OR scope_org_id = ANY(CAST(:scope AS bigint[])))
          AND (CAST(:status AS text) IS NULL OR status = :status)
        ORDER BY id DESC LIMIT :n
    """), {"scope": scope_org_ids, "status": status, "n": min(max(limit, 1), 500)})
    return [dict(r) for r in rows.mappings()]


def move(session: Session, campaign_id: int, allowed_from: tuple[str, ...], to: str,
         **extra: Any) -> dict[str, Any]:
    sets = "".join(f", {k} = :{k}" for k in extra)
    done = session.execute(text(f"""
        UPDATE notify.campaign SET status = :to, updated_at = now() {sets}
        WHERE id = :id AND status = ANY(:from_) RETURNING id
    """), {"id": campaign_id, "to": to, "from_": list(allowed_from), **extra}).first()
    if done is None:
        state = get(session, campaign_id)["status"]
        raise Conflict("campaign_state", f"Рассылка в состоянии «{STATE_RU[state]}»: "
                                         "это действие сейчас невозможно")
    return get(session, campaign_id)


STATE_RU = {"draft": "черновик", "awaiting_approval": "ждёт утверждения",
            "scheduled": "запланирована", "sending": "отправляется", "paused": "приостановлена",
            "done": "отправлена", "cancelled": "отменена"}


def pause(session: Session, campaign_id: int) -> dict[str, Any]:
    """Queued messages wait (due never) until resumed; the batch in hand finishes."""
    out = move(session, campaign_id, ("sending",), "paused")
    session.execute(text("""
        UPDATE notify.message SET due_at = 'infinity'
        WHERE campaign_id = :c AND status = 'queued'
    """), {"c": campaign_id})
    return out


def resume(session: Session, campaign_id: int) -> dict[str, Any]:
    out = move(session, campaign_id, ("paused",), "sending")
    session.execute(text("""
        UPDATE notify.message SET due_at = now()
        WHERE campaign_id = :c AND status = 'queued'
    """), {"c": campaign_id})
    return out


# ---- the audience, set-based ----

def load_audience(session: Session, member_cols: dict[str, list[Any]] | None,
                  org_cols: dict[str, list[Any]] | None) -> None:
    """The resolved people into a temporary table by COPY (a million rows in a second or
    two): their address, region, the card's or passport's consent, and whether they may be
    written to at all (consent to processing personal data in force)."""
    session.execute(text("""
        CREATE TEMPORARY TABLE IF NOT EXISTS mailing_aud
            (email text, region_id bigint, base boolean, pd_ok boolean) ON COMMIT DROP
    """))
    session.execute(text("TRUNCATE mailing_aud"))
    raw = session.connection().connection.driver_connection
    with raw.cursor().copy("COPY mailing_aud (email, region_id, base, pd_ok) FROM STDIN") as cp:
        if member_cols:
            for row in zip(member_cols["email"], member_cols["region_id"],
                           member_cols["email_consent"], member_cols["pd_ok"], strict=True):
                cp.write_row(row)
        if org_cols:
            for email, region, consent, has_chair in zip(
                    org_cols["email"], org_cols["region_id"], org_cols["email_consent"],
                    org_cols["has_chair"], strict=True):
                if has_chair:
                    cp.write_row((email, region, consent, True))


_CLASSIFIED = """
    WITH a AS (
        SELECT email, min(region_id) AS region_id, bool_or(base) AS base,
               bool_and(pd_ok) AS pd_ok
        FROM mailing_aud WHERE email LIKE '%_@_%' GROUP BY email),
    c AS (
        SELECT DISTINCT ON (email) email, granted FROM notify.consent
        WHERE purpose = :purpose ORDER BY email, id DESC),
    k AS (
        SELECT a.email, a.region_id,
               CASE WHEN b.email IS NOT NULL THEN 'bouncing'
                    WHEN a.pd_ok AND COALESCE(c.granted,
                         CASE WHEN :purpose = 'union_news' THEN a.base ELSE false END)
                        THEN 'with_consent'
                    ELSE 'without_consent' END AS state
        FROM a LEFT JOIN c USING (email) LEFT JOIN notify.address b ON b.email = a.email)
"""


def counts(session: Session, purpose: str) -> dict[str, int]:
    got = session.execute(text(_CLASSIFIED + """
        SELECT state, count(*) FROM k GROUP BY state
    """), {"purpose": purpose}).all()
    out = {"with_consent": 0, "without_consent": 0, "bouncing": 0}
    out.update({s: int(n) for s, n in got})
    out["without_email"] = int(session.execute(text(
        "SELECT count(*) FROM mailing_aud WHERE email IS NULL OR email NOT LIKE '%_@_%'"
    )).scalar_one())
    out["total"] = sum(out.values())
    return out


def queue_recipients(session: Session, campaign: dict[str, Any]) -> int:
    """Those with consent and a working address, each once (the queue's unique pair)."""
    event_id = session.execute(text("SELECT event_id FROM notify.campaign WHERE id = :c"),
                               {"c": campaign["id"]}).scalar_one()
    return session.execute(text(_CLASSIFIED + """
        INSERT INTO notify.message (event_id, recipient, kind, context, campaign_id, region_id)
        SELECT :ev, email, 'campaign', '{}'::jsonb, :cid, region_id FROM k
        WHERE state = 'with_consent'
        ON CONFLICT ON CONSTRAINT message_once DO NOTHING
    """), {"purpose": campaign["purpose"], "ev": str(event_id),
           "cid": campaign["id"]}).rowcount


def finish_sent(session: Session) -> int:
    """Campaigns with nothing left queued are done."""
    return session.execute(text("""
        UPDATE notify.campaign c SET status = 'done', updated_at = now()
        WHERE c.status = 'sending' AND NOT EXISTS (
            SELECT 1 FROM notify.message m WHERE m.campaign_id = c.id AND m.status = 'queued')
    """)).rowcount


def due(session: Session) -> list[int]:
    return list(session.execute(text("""
        SELECT id FROM notify.campaign
        WHERE status = 'scheduled' AND COALESCE(scheduled_at, now()) <= now() ORDER BY id
    """)).scalars())


# ---- figures ----

RECIPIENT_STATE = """CASE WHEN m.status = 'queued' THEN 'queued'
    WHEN m.status = 'sent' THEN 'sent'
    WHEN m.status = 'bounced' OR m.error = 'address_bouncing' THEN 'bounced'
    WHEN m.error = 'unsubscribed' THEN 'unsubscribed'
    ELSE 'refused' END"""


def figures(session: Session, campaign_id: int) -> dict[str, Any]:
    rows = session.execute(text(f"""
        SELECT m.region_id, {RECIPIENT_STATE} AS state, count(*) AS n
        FROM notify.message m WHERE m.campaign_id = :c GROUP BY 1, 2
    """), {"c": campaign_id}).all()
    total = {s: 0 for s in ("queued", "sent", "bounced", "unsubscribed", "refused")}
    regions: dict[Any, dict[str, int]] = {}
    for region, state, n in rows:
        total[state] += int(n)
        regions.setdefault(region, dict.fromkeys(total, 0))[state] += int(n)
    total["audience"] = sum(total.values())
    return {"total": total, "regions": [{"region_id": r, **v} for r, v in sorted(
        regions.items(), key=lambda x: (x[0] is None, x[0] or 0))]}


def recipients(session: Session, campaign_id: int, state: str | None,
               limit: int) -> list[dict[str, Any]]:
    rows = session.execute(text(f"""
        SELECT * FROM (
            SELECT m.id AS message_id, m.recipient, m.region_id, {RECIPIENT_STATE} AS state,
                   m.error, m.sent_at FROM notify.message m WHERE m.campaign_id = :c) x
        WHERE CAST(:state AS text) IS NULL OR x.state = :state
        ORDER BY message_id LIMIT :n
    """), {"c": campaign_id, "state": state, "n": min(max(limit, 1), 1000)}).mappings()
    return [dict(r) for r in rows]


def past_for(session: Session, email: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT c.id, c.subject, c.purpose, m.status, m.sent_at
        FROM notify.message m JOIN notify.campaign c ON c.id = m.campaign_id
        WHERE m.recipient = :e AND m.campaign_id IS NOT NULL
        ORDER BY m.id DESC LIMIT :n
    """), {"e": email, "n": limit}).mappings()
    return [dict(r) for r in rows]


def approval_above(session: Session, default: int) -> int:
    value = session.execute(text(
        "SELECT value FROM notify.mailing_setting WHERE name = 'approval_above'")).scalar()
    return int(value) if value is not None else default


def set_approval_above(session: Session, value: int, by: str) -> int:
    session.execute(text("""
        INSERT INTO notify.mailing_setting (name, value, updated_by)
        VALUES ('approval_above', CAST(:v AS jsonb), :by)
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_by = :by,
                                         updated_at = now()
    """), {"v": json.dumps(int(value)), "by": by})
    return int(value)


# ---- the message each recipient gets ----

def message(subject: str, html: str, plain: str, links: dict[str, str],
            purpose: str) -> Rendered:
    why = ("Вы получили это письмо, потому что согласились получать "
           + ("новости Профсоюза" if purpose == consents.UNION_NEWS
              else "предложения партнёров Профсоюза") + ".")
    foot_text = f"\n--\n{why}\nОтписаться: {links['page']}\n"
    foot_html = (f'<hr><p style="color:#666;font-size:12px">{why} '
                 f'<a href="{links["page"]}">Отписаться или выбрать, какие письма получать</a>'
                 "</p>")
    page = ('<!doctype html><html lang="ru"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width"></head>'
            f'<body style="max-width:600px;margin:0 auto;font-family:sans-serif">{html}'
            f"{foot_html}</body></html>")
    return Rendered(subject=subject, text=plain + foot_text, html=page)
