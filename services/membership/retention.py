"""How long each kind of record is kept, and what happens at the end of its term (152-ФЗ ст. 5
ч. 7: no longer than the purpose needs).

The rules are data (membership.retention_rule), set by the Central Council per kind; each kind
has a floor the union's lawyers fixed (LEGAL_MIN_DAYS) and some a ceiling (withdrawn consent:
destroyed within 30 days, ст. 21 ч. 5). A run is a few set-based statements, never a loop over
rows: 100,000 removed members are reduced in one UPDATE of member and one of member_version.

A removed member's card is *reduced*, not deleted: it keeps organization, dates, category, job
category, sex and source, which the statistical counts read (counts.py), and loses names, SNILS,
contacts, card number and account. The birth date is rounded UP to the next quarter start (1 Jan,
1 Apr, 1 Jul, 1 Oct; a quarter start stays): for any reporting day D that is a quarter start,
D − 35 years is one too, and for a quarter start Q, `b > Q ⟺ ceil_q(b) > Q` — so «youth» counts
for every such day stay exact (tests/unit/test_retention.py proves it), while only the quarter of
birth is kept. A report for another day may differ by members who turned 35 within that quarter.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.audit import AUDIT_MIN_DAYS
from services.common.errors import ValidationFailed, field_error

KINDS: dict[str, str] = {
    "removed_member": "Карточки снятых с учёта членов Профсоюза",
    "consent_withdrawn_member": "Карточки отозвавших согласие на обработку",
    "declined_application": "Отклонённые заявления о вступлении",
    "expired_application": "Заявления, не рассмотренные в срок",
    "import_report": "Отчёты о загрузке файлов (строки файлов с ФИО)",
    "card_batch_file": "Файлы партий билетов у производителя (ФИО держателей)",
    "audit_entry": "Записи журналов доступа к персональным данным (всех служб)",
}
ACTIONS = {"reduce": "обезличить (оставить то, что нужно статистике)", "erase": "удалить"}
# what each kind allows: a reduced member is still counted in past reports, so is never erased
ALLOWED_ACTIONS = {"removed_member": ("reduce",), "consent_withdrawn_member": ("reduce",),
                   "declined_application": ("erase",), "expired_application": ("erase",),
                   "import_report": ("erase",), "card_batch_file": ("erase",),
                   "audit_entry": ("erase",)}
# the union's floor per kind: removed members' cards answer claims for the general limitation
# period (ГК РФ ст. 196, 3 years); an applicant may dispute a decision for 3 months; a chair
# needs an import's report for a month to fix and reload the rows refused
LEGAL_MIN_DAYS = {"removed_member": 3 * 365, "consent_withdrawn_member": 0,
                  "declined_application": 92, "expired_application": 30, "import_report": 30,
                  # the vendor's claims on a batch (a card misprinted) run for a year
                  "card_batch_file": 365,
                  # who read whose card must be answerable for a year at least (every
                  # service's purge function refuses less: services.common.audit)
                  "audit_entry": AUDIT_MIN_DAYS}
# 152-ФЗ ст. 21 ч. 5: data of one who withdrew consent is destroyed within 30 days
LEGAL_MAX_DAYS = {"consent_withdrawn_member": 30}

# the keys a reduced card loses, in member and in every earlier state (member_version)
ERASED_KEYS = ("surname", "first_name", "patronymic", "snils", "phone", "email", "card_number",
               "account_subject", "person_key")


REDUCED_EVENT_IDS = 10_000  # members per members_reduced event: ~1 MB messages at most


def quarter_ceil(day: date) -> date:
    """The first quarter start on or after `day`."""
    start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if start == day:
        return day
    month = start.month + 3
    return date(day.year + 1, 1, 1) if month > 12 else date(day.year, month, 1)


_QUARTER_CEIL_SQL = ("CASE WHEN {b} = date_trunc('quarter', {b})::date THEN {b} "
                     "ELSE (date_trunc('quarter', {b}) + interval '3 months')::date END")


@dataclass(frozen=True)
class Rule:
    kind: str
    keep_days: int
    action: str


def rules(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(text(
        "SELECT kind, keep_days, action, set_by, set_at FROM membership.retention_rule "
        "ORDER BY kind")).mappings().all()
    return [{**r, "set_at": r["set_at"].isoformat(), "title": KINDS.get(r["kind"], r["kind"]),
             "action_title": ACTIONS.get(r["action"], r["action"]),
             "legal_min_days": LEGAL_MIN_DAYS.get(r["kind"], 0),
             "legal_max_days": LEGAL_MAX_DAYS.get(r["kind"])} for r in rows]


def _rule_map(session: Session) -> dict[str, Rule]:
    return {r["kind"]: Rule(r["kind"], r["keep_days"], r["action"]) for r in rules(session)}


def set_rule(session: Session, actor: str, kind: str, keep_days: Any, action: str
             ) -> dict[str, Any]:
    """A rule as the Central Council sets it; one outside the law's bounds is refused, saying
    the bound."""
    if kind not in KINDS:
        raise ValidationFailed(details=[field_error("kind", "enum", "Вид записей неизвестен: "
                                                    + ", ".join(KINDS))])
    if action not in ALLOWED_ACTIONS[kind]:
        raise ValidationFailed(details=[field_error(
            "action", "enum", f"Для вида «{KINDS[kind]}» по окончании срока можно только: "
            + ", ".join(ACTIONS[a] for a in ALLOWED_ACTIONS[kind]))])
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
        raise ValidationFailed(details=[field_error("keep_days", "type",
                                                    "Срок хранения — целое число дней")])
    low, high = LEGAL_MIN_DAYS[kind], LEGAL_MAX_DAYS.get(kind)
    if keep_days < low:
        raise ValidationFailed("retention_below_minimum",
                               f"Срок хранения для вида «{KINDS[kind]}» не может быть меньше "
                               f"{low} дн. (минимум по закону)",
                               [field_error("keep_days", "below_minimum", f"не меньше {low}")])
    if high is not None and keep_days > high:
        raise ValidationFailed("retention_above_maximum",
                               f"Срок хранения для вида «{KINDS[kind]}» не может быть больше "
                               f"{high} дн. (152-ФЗ, ст. 21 ч. 5)",
                               [field_error("keep_days", "above_maximum", f"не больше {high}")])
    session.execute(text("""
        INSERT INTO membership.retention_rule (kind, keep_days, action, set_by, set_at)
        VALUES (:kind, :days, :action, :actor, now())
        ON CONFLICT (kind) DO UPDATE SET keep_days = :days, action = :action, set_by = :actor,
            set_at = now()
    """), {"kind": kind, "days": keep_days, "action": action, "actor": actor})
    return next(r for r in rules(session) if r["kind"] == kind)


# ---- what is due ----------------------------------------------------------------------------

# members past their term: per reason, the kind whose rule applies; `held`, `wanted` name why a
# record waits (a legal hold, an open application of the same person, a card in production)
_MEMBERS_DUE = """
    WITH applying AS (  -- members an open application names, or is of the same person
        SELECT unnest(ARRAY[a.duplicate_of_member, a.member_id]) AS id
        FROM membership.application a WHERE a.status = 'submitted'
        UNION
        SELECT m.id FROM membership.application a
        JOIN membership.member m ON m.person_key = a.person_key
        WHERE a.status = 'submitted'
    ), held AS (
        SELECT member_id AS id FROM membership.legal_hold WHERE released_at IS NULL
    ), reporting AS (  -- members an unsubmitted report of their organization or above counts
        SELECT DISTINCT m.id FROM membership.member m
        JOIN membership.org o ON o.id = m.org_id
        JOIN unnest(CAST(:report_paths AS text[]), CAST(:report_days AS date[])) r (path, day)
            ON o.path <@ CAST(r.path AS ltree) AND r.day >= m.registered_on
               AND r.day < m.removed_on
        WHERE m.removed_on IS NOT NULL AND m.reduced_on IS NULL
          AND m.removal_reason IS DISTINCT FROM 'consent_withdrawn'
    )
    SELECT m.id, m.removed_on + CASE WHEN m.removal_reason = 'consent_withdrawn'
                                      THEN :withdrawn_days ELSE :removed_days END AS due_on,
           m.id IN (SELECT id FROM held) AS held,
           m.id IN (SELECT id FROM applying WHERE id IS NOT NULL) AS applying,
           m.id = ANY(CAST(:in_production AS bigint[])) AS in_production,
           m.id IN (SELECT id FROM reporting) AS reporting
    FROM membership.member m
    WHERE m.removed_on IS NOT NULL AND m.reduced_on IS NULL
"""


@dataclass(frozen=True)
class Waiting:
    """What other services still need, asked of them before a run: members whose card the
    vendor is making (cards), and reports not yet submitted as (subtree path, reporting day)
    (reports) — a removed member such a report counts keeps their card until it is submitted.
    Withdrawn consent does not wait for reports: the law's 30 days win, and the quarter
    rounding keeps the figures of every quarter-start reporting day exact anyway."""
    in_production: tuple[int, ...] = ()
    open_reports: tuple[tuple[str, date], ...] = ()


NOTHING_WAITS = Waiting()


def reports_cutoff(session: Session, today: date) -> date:
    """Only reports of a day before this can count a member due now (removed on or before
    it): the day to ask reports for."""
    return today - timedelta(days=_rule_map(session)["removed_member"].keep_days)


def _member_params(rule_map: dict[str, Rule], waiting: Waiting) -> dict[str, Any]:
    return {"removed_days": rule_map["removed_member"].keep_days,
            "withdrawn_days": rule_map["consent_withdrawn_member"].keep_days,
            "in_production": list(waiting.in_production),
            "report_paths": [p for p, _ in waiting.open_reports],
            "report_days": [d for _, d in waiting.open_reports]}


def _applications_sql(status: str) -> str:
    return f"""SELECT id, COALESCE(decided_at, submitted_at)::date + :days AS due_on
               FROM membership.application WHERE status = '{status}'"""


_IMPORTS_SQL = """SELECT id, COALESCE(finished_at, started_at)::date + :days AS due_on
                  FROM membership.import_run WHERE report IS NOT NULL OR filename <> ''"""


def preview(session: Session, today: date, horizon_days: int = 92,
            waiting: Waiting = NOTHING_WAITS) -> dict[str, Any]:
    """What the next runs will erase: counts per kind due now and per week ahead, and what waits
    and why. Counts only."""
    rule_map = _rule_map(session)
    until = today + timedelta(days=horizon_days)
    out: dict[str, Any] = {"today": today.isoformat(), "kinds": []}
    members = session.execute(text(f"""
        SELECT CASE WHEN m.removal_reason = 'consent_withdrawn' THEN 'consent_withdrawn_member'
                    ELSE 'removed_member' END AS kind,
               GREATEST(d.due_on, :today) AS on_day, count(*) AS n,
               count(*) FILTER (WHERE d.held) AS held,
               count(*) FILTER (WHERE d.applying) AS applying,
               count(*) FILTER (WHERE d.in_production) AS in_production,
               count(*) FILTER (WHERE d.reporting) AS reporting
        FROM ({_MEMBERS_DUE}) d JOIN membership.member m ON m.id = d.id
        WHERE d.due_on <= :until GROUP BY 1, 2 ORDER BY 1, 2
    """), {**_member_params(rule_map, waiting), "today": today,
           "until": until}).mappings().all()
    per_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for r in members:
        per_kind[r["kind"]].append({"on": r["on_day"].isoformat(), "records": r["n"],
                                    "postponed": {"legal_hold": r["held"],
                                                  "open_application": r["applying"],
                                                  "card_in_production": r["in_production"],
                                                  "unsubmitted_report": r["reporting"]}})
    for kind, sql in (("declined_application", _applications_sql("declined")),
                      ("expired_application", _applications_sql("expired")),
                      ("import_report", _IMPORTS_SQL)):
        for r in session.execute(text(f"""
            SELECT GREATEST(due_on, :today) AS on_day, count(*) AS n FROM ({sql}) d
            WHERE due_on <= :until GROUP BY 1 ORDER BY 1
        """), {"days": rule_map[kind].keep_days, "today": today, "until": until}).all():
            per_kind[kind].append({"on": r[0].isoformat(), "records": r[1], "postponed": {}})
    for kind, days in per_kind.items():
        now = [d for d in days if d["on"] == today.isoformat()]
        out["kinds"].append({"kind": kind, "title": KINDS[kind],
                             "due_now": sum(d["records"] for d in now),
                             "ahead": [d for d in days if d["on"] != today.isoformat()],
                             "postponed_now": now[0]["postponed"] if now else {}})
    return out


# ---- the run --------------------------------------------------------------------------------

_WAITS = "(d.held OR d.applying OR d.in_production OR d.reporting)"


def _reduce_members(session: Session, rule_map: dict[str, Rule], today: date,
                    waiting: Waiting) -> tuple[int, int]:
    """Reduce every removed member past their term that nothing holds; (reduced, postponed)."""
    params = {**_member_params(rule_map, waiting), "today": today}
    session.execute(text(f"""
        CREATE TEMP TABLE retention_due ON COMMIT DROP AS
        SELECT id FROM ({_MEMBERS_DUE}) d WHERE d.due_on <= :today AND NOT {_WAITS}
    """), params)
    postponed = session.execute(text(f"""
        SELECT count(*) FROM ({_MEMBERS_DUE}) d WHERE d.due_on <= :today AND {_WAITS}
    """), params).scalar_one()
    session.execute(text("ALTER TABLE retention_due ADD PRIMARY KEY (id); ANALYZE retention_due"))
    # what other services keep of these people, by what they know it: the account (sso
    # deletes it) and the e-mail address (notify forgets it), unless a member still on the
    # register shares the address
    leaving = session.execute(text("""
        SELECT d.id, m.account_subject, lower(m.email) AS email
        FROM retention_due d JOIN membership.member m ON m.id = d.id ORDER BY d.id
    """)).all()
    shared = set(session.execute(text("""
        SELECT DISTINCT lower(o.email) FROM membership.member o
        JOIN unnest(CAST(:emails AS text[])) e (email) ON lower(o.email) = e.email
        WHERE o.reduced_on IS NULL AND NOT EXISTS (SELECT 1 FROM retention_due d
                                                   WHERE d.id = o.id)
    """), {"emails": sorted({r.email for r in leaving if r.email})}).scalars())
    erased = ", ".join(f"'{k}'" for k in ERASED_KEYS)
    bq = _QUARTER_CEIL_SQL.format(b="CAST(card ->> 'birth_date' AS date)")
    session.execute(text(f"""
        UPDATE membership.member_version v SET
            card = CASE WHEN card ? 'birth_date' THEN (card - ARRAY[{erased}])
                        || jsonb_build_object('birth_date', {bq}) ELSE card - ARRAY[{erased}]
                   END,
            diff = (diff - ARRAY[{erased}]) - 'birth_date'
        FROM retention_due d WHERE v.member_id = d.id
    """))
    reduced = session.execute(text(f"""
        UPDATE membership.member m SET
            surname = NULL, first_name = NULL, patronymic = NULL, snils = NULL, phone = NULL,
            email = NULL, email_consent = false, card_number = NULL, account_subject = NULL,
            account_active = false, person_key = 'erased:' || m.id,
            birth_date = {_QUARTER_CEIL_SQL.format(b="m.birth_date")}, reduced_on = :today
        FROM retention_due d WHERE m.id = d.id
    """), {"today": today}).rowcount
    # cards erases the names printed on their cards (cards.card.holder), sso deletes the
    # accounts, notify the addresses' messages, consents and opt-outs
    for i in range(0, len(leaving), REDUCED_EVENT_IDS):
        part = leaving[i:i + REDUCED_EVENT_IDS]
        outbox.add_event(session, "membership", "members_reduced", {
            "member_ids": [r.id for r in part],
            "account_subjects": [r.account_subject for r in part if r.account_subject],
            "emails": sorted({r.email for r in part if r.email and r.email not in shared})})
    session.execute(text("DROP TABLE retention_due"))
    return reduced, postponed


def _erase_applications(session: Session, status: str, days: int, today: date) -> int:
    return session.execute(text(f"""
        DELETE FROM membership.application a USING ({_applications_sql(status)}) d
        WHERE a.id = d.id AND d.due_on <= :today
    """), {"days": days, "today": today}).rowcount


def _erase_import_reports(session: Session, days: int, today: date) -> int:
    """The report's rows (the file's names) and the file name go; the counts stay."""
    return session.execute(text(f"""
        UPDATE membership.import_run r SET report = NULL, filename = ''
        FROM ({_IMPORTS_SQL}) d WHERE r.id = d.id AND d.due_on <= :today
    """), {"days": days, "today": today}).rowcount


def run(session: Session, actor: str, today: date, waiting: Waiting = NOTHING_WAITS
        ) -> dict[str, dict[str, int]]:
    """One retention run over every kind kept here, in the caller's transaction; the counts
    are kept."""
    rule_map = _rule_map(session)
    done: dict[str, dict[str, int]] = {}
    reduced, postponed = _reduce_members(session, rule_map, today, waiting)
    done["members"] = {"records": reduced, "postponed": postponed}
    for kind, status in (("declined_application", "declined"),
                         ("expired_application", "expired")):
        done[kind] = {"records": _erase_applications(session, status,
                                                     rule_map[kind].keep_days, today),
                      "postponed": 0}
    done["import_report"] = {"records": _erase_import_reports(
        session, rule_map["import_report"].keep_days, today), "postponed": 0}
    record_run(session, actor, done)
    return done


def record_run(session: Session, actor: str, done: dict[str, dict[str, int]]) -> None:
    """What a run did, as counts (kinds with nothing done leave no row)."""
    for kind, counts in done.items():
        if counts["records"] or counts["postponed"]:
            session.execute(text("""
                INSERT INTO membership.erasure_run (kind, action, records, postponed, run_by)
                VALUES (:kind, :action, :n, :p, :actor)
            """), {"kind": kind, "action": "reduce" if kind == "members" else "erase",
                   "n": counts["records"], "p": counts["postponed"], "actor": actor})


def keep_days(session: Session, kind: str) -> int:
    return session.execute(text("SELECT keep_days FROM membership.retention_rule "
                                "WHERE kind = :k"), {"k": kind}).scalar_one()


def erased(session: Session, since: date | None = None) -> list[dict[str, Any]]:
    """What retention erased: counts per run and kind, newest first (never the data)."""
    rows = session.execute(text("""
        SELECT at, kind, action, records, postponed, run_by FROM membership.erasure_run
        WHERE CAST(:since AS date) IS NULL OR at >= :since ORDER BY at DESC, id DESC LIMIT 500
    """), {"since": since}).mappings().all()
    return [{**r, "at": r["at"].isoformat()} for r in rows]


# ---- legal holds ----------------------------------------------------------------------------

def held(session: Session, member_id: int) -> dict[str, Any] | None:
    row = session.execute(text("""
        SELECT id, reason, placed_by, placed_at FROM membership.legal_hold
        WHERE member_id = :id AND released_at IS NULL
    """), {"id": member_id}).mappings().first()
    return None if row is None else {**row, "placed_at": row["placed_at"].isoformat()}


def place_hold(session: Session, actor: str, member_id: int, reason: str) -> dict[str, Any]:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details=[field_error("reason", "required",
                                                    "Укажите основание (дело, запрос суда)")])
    if held(session, member_id) is not None:
        raise ValidationFailed("hold_exists", "Запись уже удерживается")
    session.execute(text("""
        INSERT INTO membership.legal_hold (member_id, reason, placed_by)
        VALUES (:id, :reason, :actor)
    """), {"id": member_id, "reason": reason[:1000], "actor": actor})
    return held(session, member_id) or {}


def release_hold(session: Session, actor: str, member_id: int, reason: str) -> None:
    n = session.execute(text("""
        UPDATE membership.legal_hold SET released_by = :actor, released_at = now(),
            release_reason = :reason
        WHERE member_id = :id AND released_at IS NULL
    """), {"id": member_id, "actor": actor, "reason": (reason or "").strip()[:1000]}).rowcount
    if not n:
        raise ValidationFailed("no_hold", "Запись не удерживается")
