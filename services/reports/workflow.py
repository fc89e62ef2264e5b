"""A report's life: read, typed into, checked, submitted and locked, reopened from above.

Every change is a row of `report_event` (who, when, what, why). Consolidating reports are
summed again whenever they are read or submitted as drafts, so a parent always sees its
children's latest figures; a submitted report keeps the figures it was submitted with.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import outbox, serialization
from services.common.caller import in_subtrees, ran_through
from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.reports import compute
from services.reports.definitions import EDITABLE, Family, Form, family

SCHEMA = "reports"
_COLUMNS = """id, day, family, form, form_year, org_id, ltree2text(path) AS path, level,
    region_id, consolidator_id, status, auto, computed, entered, "values", version, summed_at,
    created_at, created_by, updated_at, updated_by, submitted_at, submitted_by, reopen_reason"""
MAX_VALUE = 10_000_000


def get(session: Session, report_id: int, roots: tuple[int, ...] | None,
        lock: bool = False) -> dict[str, Any]:
    """A report of the caller's subtrees as they stood on its date (`roots`, the caller's
    organizations; None: everywhere): an organization moved since is still seen by its own
    chair and by those it reported to then. Others look missing."""
    row = session.execute(text(f"SELECT {_COLUMNS} FROM reports.report WHERE id = :id"
                               + (" FOR UPDATE" if lock else "")),
                          {"id": report_id}).mappings().first()
    if row is None or not ran_through(row["path"], roots):
        raise NotFound("report_not_found", f"Отчёт {report_id} не найден")
    return dict(row)


def find(session: Session, day: date, family_code: str, org_id: int) -> dict[str, Any] | None:
    row = session.execute(text(f"SELECT {_COLUMNS} FROM reports.report WHERE day = :d "
                               "AND family = :f AND org_id = :o"),
                          {"d": day, "f": family_code, "o": org_id}).mappings().first()
    return None if row is None else dict(row)


def definitions(report: dict[str, Any]) -> tuple[Family, Form]:
    fam = family(report["family"], report["day"])
    return fam, fam.form(report["form"])


def refresh(session: Session, report: dict[str, Any]) -> dict[str, Any]:
    """A consolidating draft summed again from the reports beneath as they stand now."""
    if report["status"] != "draft" or report["level"] == "primary":
        return report
    stale = session.execute(text("""
        SELECT EXISTS (SELECT 1 FROM reports.report r
                       JOIN reports.snapshot_org o ON o.day = r.day AND o.org_id = r.org_id
                       WHERE r.day = :d AND r.family = :f AND o.path <@ CAST(:p AS ltree)
                         AND r.id <> :id AND r.updated_at > :summed)
    """), {"d": report["day"], "f": report["family"], "p": report["path"], "id": report["id"],
           "summed": report["summed_at"] or datetime.min.replace(tzinfo=UTC)}).scalar()
    if not stale and report["summed_at"] is not None:
        return report
    fam, _ = definitions(report)
    compute.consolidate(session, fam, report["day"], root=report["path"])
    return get(session, report["id"], None)


def shown(session: Session, report: dict[str, Any], with_children: bool = False
          ) -> dict[str, Any]:
    """The report as people read it: each indicator with its label, value and whether it is
    typed by hand here, the failed checks, what is missing, its history, and for a
    consolidating one (`with_children`) the reports directly beneath."""
    fam, form = definitions(report)
    values = report["values"]
    org = session.execute(text("""
        SELECT name, registry_number FROM reports.snapshot_org WHERE day = :d AND org_id = :o
    """), {"d": report["day"], "o": report["org_id"]}).mappings().first()
    history = session.execute(text("""
        SELECT action, actor, at, reason, diff FROM reports.report_event
        WHERE report_id = :id ORDER BY at, id
    """), {"id": report["id"]}).mappings().all()
    return serialization.jsonable({
        **{k: report[k] for k in ("id", "day", "family", "form", "form_year", "org_id", "level",
                                  "region_id", "status", "auto", "version", "updated_at",
                                  "updated_by", "submitted_at", "submitted_by",
                                  "reopen_reason")},
        "org_name": org["name"] if org else None,
        "registry_number": org["registry_number"] if org else None,
        "family_title": fam.title,
        "form_title": form.title,
        "indicators": [{"code": i.code, "label": i.label, "mode": i.mode,
                        "value": values.get(i.code),
                        "editable": _editable(report, i.mode)} for i in form.indicators],
        "missing": missing(report, form),
        "failed_checks": form.failed_checks(values),
        "history": [{"action": "generated", "actor": report["created_by"],
                     "at": report["created_at"].isoformat(), "reason": None, "diff": {}},
                    *(serialization.jsonable(dict(h)) for h in history)],
        **({"children": expected_children(session, fam, report)}
           if with_children and form.consolidating else {}),
    })


def _editable(report: dict[str, Any], mode: str) -> bool:
    return report["status"] == "draft" and (
        mode in EDITABLE or mode == "registry" and not report["auto"])


def missing(report: dict[str, Any], form: Form) -> list[str]:
    """Codes a report cannot be submitted without: the ones entered by hand here."""
    return [i.code for i in form.indicators
            if i.mode == "manual" and report["values"].get(i.code) is None]


def _parse_values(form: Form, report: dict[str, Any], values: Any) -> dict[str, int | None]:
    if not isinstance(values, dict) or not values:
        raise ValidationFailed(details=[field_error(
            "values", "values_required", "Укажите значения показателей: {\"код\": число}")])
    errors, parsed = [], {}
    for code, value in values.items():
        indicator = form.indicator(str(code))
        if indicator is None:
            errors.append(field_error(str(code), "indicator_unknown",
                                      f"В форме {form.code} нет показателя {code}"))
        elif not _editable(report, indicator.mode):
            errors.append(field_error(str(code), "indicator_not_editable", (
                f"Показатель {code} вычисляется по реестру и не вводится вручную"
                if indicator.mode in ("registry", "sum", "tree")
                else f"Показатель {code} не редактируется")))
        elif value is None:
            parsed[indicator.code] = None
        elif isinstance(value, bool) or not isinstance(value, int | str) \
                or not str(value).strip().isdigit() or int(value) > MAX_VALUE:
            errors.append(field_error(str(code), "value_not_count", (
                f"Показатель {code}: нужно целое неотрицательное число "
                f"(не больше {MAX_VALUE:,})".replace(",", " "))))
        else:
            parsed[indicator.code] = int(value)
    if errors:
        raise ValidationFailed(details=errors)
    return parsed


def edit(session: Session, report: dict[str, Any], values: Any, actor: str,
         expected_version: int | None = None) -> dict[str, Any]:
    """Type values into a draft. Values that break the form's checks are refused with the
    rules they break, and nothing is kept."""
    fam, form = definitions(report)
    if report["status"] != "draft":
        raise Conflict("report_locked", "Отчёт сдан и закрыт для изменений; исправить его "
                                        "можно после того, как вышестоящая организация "
                                        "вернёт его на доработку")
    if expected_version is not None and expected_version != report["version"]:
        raise Conflict("report_changed", "Отчёт изменён другим пользователем: обновите "
                                         "страницу и внесите изменения ещё раз")
    parsed = _parse_values(form, report, values)
    entered = {**report["entered"], **parsed}
    entered = {k: v for k, v in entered.items() if v is not None}
    session.execute(text("""
        UPDATE reports.report SET entered = CAST(:e AS jsonb), version = version + 1,
               updated_at = now(), updated_by = :actor WHERE id = :id
    """), {"e": serialization.dumps(entered).decode(), "actor": actor, "id": report["id"]})
    compute.combine(session, fam, report["day"], ids=[report["id"]])
    after = refresh(session, get(session, report["id"], None))
    failed = form.failed_checks(after["values"])
    if failed:
        raise ValidationFailed("report_checks_failed",
                               "Значения не прошли проверки формы: " + "; ".join(
                                   f["message"] for f in failed), failed)
    _log(session, report["id"], "edited", actor, diff={
        k: [report["values"].get(k), after["values"].get(k)] for k in parsed})
    return after


def expected_children(session: Session, fam: Family, report: dict[str, Any]
                      ) -> list[dict[str, Any]]:
    """The organizations directly beneath a consolidating report that report in its family,
    each with the state of its report (none, draft, submitted)."""
    rows = session.execute(text("""
        SELECT o.org_id, o.name, o.registry_number, o.level, o.education_type,
               o.territorial_rights, r.id AS report_id, r.form, r.status, r.auto,
               r.submitted_at, COALESCE(r."values", '{}') AS "values"
        FROM reports.snapshot_org o
        LEFT JOIN reports.report r ON r.day = o.day AND r.family = :f AND r.org_id = o.org_id
        WHERE o.day = :d AND o.consolidator_id = :org
        ORDER BY o.name
    """), {"d": report["day"], "f": fam.code, "org": report["org_id"]}).mappings().all()
    return [serialization.jsonable({**dict(r), "form": r["form"] or fam.form_for(r).code})
            for r in rows if fam.form_for(r) is not None]


def submit(session: Session, report: dict[str, Any], actor: str) -> dict[str, Any]:
    fam, form = definitions(report)
    if report["status"] == "submitted":
        raise Conflict("report_locked", "Отчёт уже сдан")
    report = refresh(session, report)
    problems = []
    if gaps := missing(report, form):
        problems.append(f"не заполнены показатели {', '.join(gaps)}")
    if failed := form.failed_checks(report["values"]):
        problems.append("не пройдены проверки: " + "; ".join(f["message"] for f in failed))
    if form.consolidating:
        waiting = [c for c in expected_children(session, fam, report)
                   if c["status"] != "submitted"]
        if waiting:
            names = ", ".join(c["name"] for c in waiting[:5])
            more = f" и ещё {len(waiting) - 5}" if len(waiting) > 5 else ""
            problems.append(f"не сданы отчёты {len(waiting)} организаций ({names}{more})")
    if problems:
        raise Conflict("report_not_ready", "Отчёт нельзя сдать: " + "; ".join(problems),
                       {"missing": gaps, "failed_checks": failed})
    session.execute(text("""
        UPDATE reports.report SET status = 'submitted', submitted_at = now(),
               submitted_by = :actor, version = version + 1, reopen_reason = NULL
        WHERE id = :id
    """), {"actor": actor, "id": report["id"]})
    _log(session, report["id"], "submitted", actor)
    outbox.add_event(session, SCHEMA, "report_submitted", {
        "report_id": report["id"], "day": report["day"].isoformat(), "family": fam.code,
        "form": form.code, "org_id": report["org_id"], "region_id": report["region_id"],
        "auto": report["auto"]})
    return get(session, report["id"], None)


def reopen(session: Session, report: dict[str, Any], reason: Any, actor: str
           ) -> dict[str, Any]:
    """Back to draft, with the reason; the submitted reports above it (whose sums would no
    longer hold) go back to draft with it."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed(details=[field_error(
            "reason", "reason_required", "Укажите причину возврата отчёта на доработку")])
    if report["status"] != "submitted":
        raise Conflict("report_not_submitted", "Отчёт ещё не сдан: возвращать нечего")
    above = session.execute(text("""
        UPDATE reports.report SET status = 'draft', version = version + 1,
               reopen_reason = CASE WHEN id = :id THEN :reason
                                    ELSE 'Возвращён отчёт нижестоящей организации' END
        WHERE day = :d AND family = :f AND status = 'submitted'
          AND path @> CAST(:p AS ltree)
        RETURNING id
    """), {"id": report["id"], "reason": reason.strip(), "d": report["day"],
           "f": report["family"], "p": report["path"]}).scalars().all()
    for rid in above:
        _log(session, rid, "reopened", actor,
             reason.strip() if rid == report["id"] else f"вслед за отчётом {report['id']}")
    outbox.add_event(session, SCHEMA, "report_reopened", {
        "report_id": report["id"], "day": report["day"].isoformat(),
        "family": report["family"], "org_id": report["org_id"], "reason": reason.strip(),
        "family_title": family(report["family"], report["day"]).title})
    return refresh(session, get(session, report["id"], None))



def not_submitted(session: Session, fam: Family, day: date, paths: list[str] | None,
            region_id: int | None = None) -> list[dict[str, Any]]:
    """The organizations of the caller's subtrees (one region's, if given) that should report
    on `day` and have not submitted, with the state of their report (none yet, a draft,
    checked), by region and name."""
    scope, params = in_subtrees("o.path", paths)
    rows = session.execute(text(f"""
        SELECT o.org_id, o.name, o.registry_number, o.level, o.education_type,
               o.territorial_rights, o.region_id, rg.name AS region_name,
               r.id AS report_id, r.status
        FROM reports.snapshot_org o
        LEFT JOIN reports.snapshot_org rg ON rg.day = o.day AND rg.org_id = o.region_id
        LEFT JOIN reports.report r ON r.day = o.day AND r.org_id = o.org_id AND r.family = :f
        WHERE o.day = :d AND {scope} AND (CAST(:region AS bigint) IS NULL OR o.region_id = :region)
          AND r.status IS DISTINCT FROM 'submitted'
        ORDER BY rg.name NULLS FIRST, o.name, o.org_id
    """), {"d": day, "f": fam.code, "region": region_id, **params}).mappings().all()
    due = []
    for row in rows:
        form = fam.form_for(row)
        if form is not None:
            due.append({k: row[k] for k in ("org_id", "name", "registry_number", "region_id",
                                            "region_name", "report_id")}
                       | {"form": form.code, "status": row["status"] or "none"})
    return due


def unsubmitted_before(session: Session, day: date) -> list[dict[str, Any]]:
    """Reports still in draft whose reporting day is before `day`, as (subtree path, day):
    membership's retention keeps the cards of the removed members they count."""
    rows = session.execute(text("""
        SELECT DISTINCT path::text AS path, day FROM reports.report
        WHERE status = 'draft' AND day < :day ORDER BY 1, 2
    """), {"day": day}).mappings().all()
    return [{"path": r["path"], "day": r["day"].isoformat()} for r in rows]


def ask_to_submit(session: Session, fam: Family, day: date, org_ids: list[int], actor: str,
                  due: list[dict[str, Any]]) -> int:
    """A reminder asked for by those above: for the organizations of `org_ids` that are among
    `due`, one event (notify writes to their chairs, once a day per organization)."""
    chosen = [d["org_id"] for d in due if d["org_id"] in set(org_ids)]
    if chosen:
        outbox.add_event(session, SCHEMA, "report_reminder_asked", {
            "day": day.isoformat(), "family": fam.code, "family_title": fam.title,
            "org_ids": chosen, "asked_by": actor, "asked_on": date.today().isoformat()})
    return len(chosen)

def tracking(session: Session, fam: Family, day: date, paths: list[str] | None
             ) -> list[dict[str, Any]]:
    """Per region and form: organizations that should report, reports generated, generated
    automatically, submitted (as the source document's tables count them)."""
    scope, params = in_subtrees("o.path", paths)
    rows = session.execute(text(f"""
        SELECT o.region_id, rg.name AS region_name, r.form, count(*) AS generated,
               count(*) FILTER (WHERE r.auto) AS generated_auto,
               count(*) FILTER (WHERE r.status = 'submitted') AS submitted
        FROM reports.report r
        JOIN reports.snapshot_org o ON o.day = r.day AND o.org_id = r.org_id
        LEFT JOIN reports.snapshot_org rg ON rg.day = r.day AND rg.org_id = o.region_id
        WHERE r.day = :d AND r.family = :f AND {scope}
        GROUP BY o.region_id, rg.name, r.form
    """), {"d": day, "f": fam.code, **params}).mappings().all()
    expected: dict[tuple[Any, str], int] = {}
    names: dict[Any, str] = {}
    for org in session.execute(text(f"""
        SELECT o.region_id, rg.name AS region_name, o.level, o.education_type,
               o.territorial_rights
        FROM reports.snapshot_org o
        LEFT JOIN reports.snapshot_org rg ON rg.day = o.day AND rg.org_id = o.region_id
        WHERE o.day = :d AND {scope}
    """), {"d": day, **params}).mappings():
        form = fam.form_for(org)
        if form is not None:
            key = (org["region_id"], form.code)
            expected[key] = expected.get(key, 0) + 1
            names[org["region_id"]] = org["region_name"]
    out = {(r["region_id"], r["form"]): {**r, "expected": 0} for r in rows}
    for (region, form_code), n in expected.items():
        out.setdefault((region, form_code), {"region_id": region, "region_name": names[region],
                                             "form": form_code, "generated": 0,
                                             "generated_auto": 0, "submitted": 0})
        out[(region, form_code)]["expected"] = n
    return sorted(out.values(), key=lambda r: (r["region_name"] or "", r["form"]))


def _log(session: Session, report_id: int, action: str, actor: str, reason: str | None = None,
         diff: dict[str, Any] | None = None) -> None:
    session.execute(text("""
        INSERT INTO reports.report_event (report_id, action, actor, reason, diff)
        VALUES (:id, :a, :actor, :reason, CAST(:diff AS jsonb))
    """), {"id": report_id, "a": action, "actor": actor, "reason": reason,
           "diff": serialization.dumps(diff or {}).decode()})
