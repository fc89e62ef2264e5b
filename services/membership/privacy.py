"""A person's rights over their data (152-ФЗ ст. 14, 9 ч. 2, 21 ч. 5): their own copy of
everything membership holds about them, and the withdrawal of consent.

The copy gathers the card, its earlier states, the organizations with dates, consents with their
texts, card numbers, applications, the person's requests and who read the card — from the audit
log, by organization and role, never by name. Every copy is recorded (data_request) and repeated
copies are throttled. Withdrawal is dated and recorded; membership cannot go on without
processing (the union's rule, README), so the member is removed from the register with the reason
`consent_withdrawn`, the e-mail consent goes off at once, and the card enters retention
(retention.py: reduced after the `consent_withdrawn_member` term, at most 30 days).
"""

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import Conflict, TooManyRequests, ValidationFailed, field_error
from services.common.roles import ROLES
from services.membership import members, retention
from services.membership.applications import STATUS_TITLES
from services.membership.card import CONSENT_FORMS, RemovalReason

# the consents a member gives, as the forms word them (join/form.html, members/form.html)
CONSENT_TEXTS = {
    "personal_data": "Даю согласие Общероссийскому Профсоюзу образования на обработку моих "
                     "персональных данных (фамилия, имя, отчество, пол, дата рождения, СНИЛС, "
                     "телефон, e-mail, место работы или учёбы, категория, номер профсоюзного "
                     "билета) в целях учёта членов Профсоюза, выдачи профсоюзного билета, "
                     "статистической отчётности и защиты моих прав, до отзыва согласия.",
    "email": "Согласен(на) получать e-mail-рассылку Профсоюза.",
}
ROLE_TITLES = {**ROLES, "system": "Сервисы платформы (автоматически)", "": "Роль не записана"}
ACTION_TITLES = {
    "read_card": "просмотр карточки", "read_card_as_of": "просмотр карточки на дату",
    "read_history": "просмотр истории", "search": "поиск и списки", "export": "выгрузка",
    "read_contacts": "адрес для уведомления", "read_card_holders": "заказ билета",
    "update": "изменение", "register": "постановка на учёт", "remove": "снятие с учёта",
    "transfer": "перевод", "data_copy": "выдача копии данных",
}


def throttled(session: Session, member_id: int, limit: int, window_s: float) -> None:
    n = session.execute(text("""
        SELECT count(*) FROM membership.data_request
        WHERE member_id = :id AND kind = 'copy' AND asked_at > now() - make_interval(secs => :w)
    """), {"id": member_id, "w": window_s}).scalar_one()
    if n >= limit:
        hours = max(1, round(window_s / 3600))
        raise TooManyRequests("copy_throttled",
                              f"Копия данных уже выдавалась {n} раз(а) за последние {hours} ч. "
                              "Повторите позже: данные не изменились.")


def record_request(session: Session, member_id: int, kind: str, channel: str, asked_on: date,
                   answered_on: date, actor: str) -> None:
    session.execute(text("""
        INSERT INTO membership.data_request
            (member_id, kind, channel, asked_on, answered_on, recorded_by)
        VALUES (:id, :kind, :channel, :asked, :answered, :actor)
    """), {"id": member_id, "kind": kind, "channel": channel, "asked": asked_on,
           "answered": answered_on, "actor": actor})


def asked_on(value: Any, today: date) -> date:
    """The date a paper request was received: not in the future."""
    if value in (None, ""):
        return today
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(details=[field_error("asked_on", "date",
                                                    "Дата заявления: ГГГГ-ММ-ДД")]) from None
    if day > today:
        raise ValidationFailed(details=[field_error("asked_on", "date_in_future",
                                                    "Дата заявления не может быть в будущем")])
    return day


# ---- the copy -------------------------------------------------------------------------------

def _readers(session: Session, member_id: int, own_subject: str | None) -> list[dict[str, Any]]:
    """Who read or changed the card: per role and organization, with counts and dates. The
    person's own reads are left out; names never appear."""
    rows = session.execute(text("""
        WITH hits AS (
            SELECT at, action, COALESCE(actor_roles, ARRAY[]::text[]) AS roles,
                   COALESCE(actor_orgs, ARRAY[]::bigint[]) AS orgs, actor
            FROM membership.audit_log
            WHERE record_type = 'member'
              AND (record_id = :id OR record_ids @> ARRAY[CAST(:id AS text)])
              AND (CAST(:own AS text) IS NULL OR actor_subject <> :own)
        )
        SELECT CASE WHEN h.actor LIKE 'system:%' THEN 'system'
                    ELSE COALESCE((SELECT string_agg(r, ',' ORDER BY r) FROM unnest(h.roles) r
                                   WHERE r = ANY(:known)), '') END AS role,
               COALESCE((SELECT string_agg(o.name, '; ' ORDER BY o.name)
                         FROM membership.org o WHERE o.id = ANY(h.orgs)), '') AS orgs,
               array_agg(DISTINCT h.action ORDER BY h.action) AS actions,
               count(*) AS times, min(h.at) AS first_at, max(h.at) AS last_at
        FROM hits h GROUP BY 1, 2 ORDER BY max(h.at) DESC
    """), {"id": str(member_id), "own": own_subject, "known": list(ROLES)}).mappings().all()
    out = []
    for r in rows:
        titles = [ROLE_TITLES.get(x, x) for x in r["role"].split(",")] if r["role"] else \
            [ROLE_TITLES[""]]
        out.append({"role": r["role"], "role_title": "; ".join(titles),
                    "organizations": r["orgs"] or "весь Профсоюз" if r["role"] else r["orgs"],
                    "actions": [ACTION_TITLES.get(a, a) for a in r["actions"]],
                    "times": r["times"], "first_at": r["first_at"].isoformat(),
                    "last_at": r["last_at"].isoformat()})
    return out


def collect(session: Session, member: dict[str, Any], own_subject: str | None = None
            ) -> dict[str, Any]:
    """Everything membership holds about the person, as a JSON-ready dict."""
    mid = member["id"]
    # who made a change is staff's data, not the person's: a copy names no staff
    card = {k: v for k, v in members.shown(member, personal=True).items() if k != "updated_by"}
    history = members.history(session, member)
    versions = session.execute(text("""
        SELECT version, valid_from, valid_to, change_kind, card, diff
        FROM membership.member_version WHERE member_id = :id ORDER BY version
    """), {"id": mid}).mappings().all()
    apps = session.execute(text("""
        SELECT a.id, a.org_id, o.name AS org_name, a.status, a.submitted_at, a.decided_at,
               a.decline_reason, a.card
        FROM membership.application a LEFT JOIN membership.org o ON o.id = a.org_id
        WHERE a.member_id = :id OR a.duplicate_of_member = :id OR a.person_key = :key
        ORDER BY a.submitted_at
    """), {"id": mid, "key": member.get("person_key") or _person_key(session, mid)}
    ).mappings().all()
    numbers = sorted({v["card"].get("card_number") for v in versions
                      if v["card"].get("card_number")} - {member.get("card_number")})
    requests = session.execute(text("""
        SELECT kind, channel, asked_on, answered_on FROM membership.data_request
        WHERE member_id = :id ORDER BY asked_at
    """), {"id": mid}).mappings().all()
    hold = retention.held(session, mid)
    consents = [
        {"kind": "personal_data", "text": CONSENT_TEXTS["personal_data"],
         "given_on": card.get("pd_consent_on"),
         "form": CONSENT_FORMS.get(member.get("pd_consent_form"), ""),
         "withdrawn_on": card.get("pd_consent_withdrawn_on")},
        {"kind": "email", "text": CONSENT_TEXTS["email"], "given": card.get("email_consent"),
         "changed_on": card.get("email_consent_on")}]
    return _plain({
        "produced_at": datetime.now().astimezone().isoformat(),
        "operator": "Общероссийский Профсоюз образования",
        "card": card,
        "organizations": history["organizations"],
        "changes": [dict(v) for v in versions],
        "consents": consents,
        "card_numbers": {"current": member.get("card_number"), "earlier": numbers},
        "applications": [{**dict(a), "status_title": STATUS_TITLES.get(a["status"], "")}
                         for a in apps],
        "requests": [dict(r) for r in requests],
        "readers": _readers(session, mid, own_subject),
        "legal_hold": hold is not None,
    })


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Nested dates, times and ids as JSON has them (orjson writes them ISO-formatted)."""
    return orjson.loads(orjson.dumps(data, default=str))


def _person_key(session: Session, member_id: int) -> str:
    return session.execute(text("SELECT person_key FROM membership.member WHERE id = :id"),
                           {"id": member_id}).scalar_one()


@cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("services.membership", "templates"),
                       autoescape=select_autoescape(["html"]))


@cache
def _fonts() -> Any:
    """One font configuration for every PDF: building it again each time costs ~25 %."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


# What these plain templates use of HTML, instead of WeasyPrint's full HTML5 user-agent sheet
# (~250 rules matched against every element): the cascade was about half the time of a copy.
LEAN_UA_CSS = """
html, body, div, h1, h2, p { display: block; }
head, style, title, script { display: none; }
table { display: table; box-sizing: border-box; } tbody { display: table-row-group; }
thead { display: table-header-group; } tr { display: table-row; }
td, th { display: table-cell; } th, h1, h2, b, strong { font-weight: bold; }
p, h1, h2 { margin: 0.6em 0; }
"""


@cache
def _lean_html() -> Any:
    from weasyprint import CSS, HTML  # heavy to import: only where PDFs are made

    ua = CSS(string=LEAN_UA_CSS)

    class LeanHTML(HTML):  # type: ignore[misc]
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [ua]

        def _ph_stylesheets(self) -> list[Any]:
            return []

    return LeanHTML


def pdf(data: dict[str, Any], template: str = "my_data.html") -> bytes:
    html = _templates().get_template(template).render(d=data)
    return _lean_html()(string=html).write_pdf(font_config=_fonts())


# ---- withdrawal -----------------------------------------------------------------------------

def withdraw(session: Session, actor: str, member: dict[str, Any], channel: str,
             asked: date, today: date) -> dict[str, Any]:
    """Withdraw consent: refused under a legal hold; otherwise consent withdrawn, e-mail off,
    the member removed (reason consent_withdrawn) and the request recorded. `member` locked."""
    hold = retention.held(session, member["id"])
    if hold is not None:
        raise Conflict("legal_hold", "Запись удерживается по законному основанию (судебное "
                                     "разбирательство): отзыв согласия не может быть исполнен "
                                     "сейчас. Обратитесь в аппарат Центрального Совета.")
    if member["pd_consent_withdrawn_on"] is not None and member["removed_on"] is not None:
        raise Conflict("already_withdrawn", "Согласие уже отозвано "
                                            f"{member['pd_consent_withdrawn_on']:%d.%m.%Y}")
    result = members.set_consent(session, actor, member, "personal_data", False, today)
    if result["email_consent"]:
        result = members.set_consent(session, actor, result, "email", False, today)
    if result["removed_on"] is None:
        result = members.remove(session, actor, result, today,
                                RemovalReason.CONSENT_WITHDRAWN, today)
    record_request(session, member["id"], "withdrawal", channel, asked, today, actor)
    return result


def due_on(session: Session, member: dict[str, Any]) -> date | None:
    """When the withdrawn member's card is to be reduced (the rule of its kind)."""
    if member.get("removed_on") is None:
        return None
    kind = "consent_withdrawn_member" if member["removal_reason"] == \
        RemovalReason.CONSENT_WITHDRAWN else "removed_member"
    days = session.execute(text("SELECT keep_days FROM membership.retention_rule "
                                "WHERE kind = :k"), {"k": kind}).scalar_one()
    return member["removed_on"] + timedelta(days=days)
