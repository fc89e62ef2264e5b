"""The statistical report's figures loaded from a file: members reported per primary and
category, as the union's statistical reports state them, so that the reconciliation of the
registry against the report (quality.reconciliation) needs no report typed in by hand.

One row per primary: its registry number (matched ignoring case and Latin look-alikes) and the
counts. The file is read by the same reader as the imports (services.common.tabular: .xlsx,
.xls, .ods, CSV); every error of a row is reported at once, and a file with errors loads
nothing. A primary loaded again for the same day is replaced.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import tabular
from services.common.caller import within_scope
from services.common.errors import ValidationFailed
from services.common.identifiers import registry_key
from services.common.load_report import Report

COLUMNS = {
    "org_registry_number": "Рег. номер организации",
    "members": "Численность членов Профсоюза, всего (01)",
    "working": "Работающих (04)",
    "students": "Обучающихся (09)",
    "pensioners": "Неработающих пенсионеров (10)",
}
ALIASES = {
    "регистрационный номер": "org_registry_number", "рег. номер": "org_registry_number",
    "рег. номер ппо": "org_registry_number", "номер ппо": "org_registry_number",
    "01": "members", "04": "working", "09": "students", "10": "pensioners",
    "численность членов профсоюза": "members", "численность членов профсоюза, всего": "members",
    "всего членов профсоюза": "members", "членов профсоюза": "members",
    "работающих": "working", "работающих членов профсоюза": "working",
    "обучающихся": "students", "обучающихся (студентов) — членов профсоюза": "students",
    "студентов": "students", "неработающих пенсионеров": "pensioners",
    "неработающих пенсионеров — членов профсоюза": "pensioners", "пенсионеров": "pensioners",
}
REQUIRED = ("org_registry_number", "members")
COUNTS = ("members", "working", "students", "pensioners")
MAX_COUNT = 10_000_000


def _count(value: Any) -> int | None:
    if value is None or tabular.cell_text(value) == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        digits = tabular.cell_text(value).replace(" ", "").replace("\u00a0", "")
        if not digits.isdigit():
            raise ValueError
        number = int(digits)
    if not 0 <= number <= MAX_COUNT:
        raise ValueError
    return number


def load(session: Session, actor: str, content: bytes, filename: str, day: date,
         paths: list[str] | None) -> dict[str, Any]:
    """Check the file and store its figures for `day` (all rows, or none if any is wrong).
    `paths`: the subtrees the caller acts in (None: the whole union)."""
    table = tabular.read_table(content, filename, COLUMNS, REQUIRED, ALIASES)
    titles = COLUMNS | table.titles
    report = Report(filename=filename, titles=titles, unknown_columns=table.unknown_columns,
                    skipped=table.skipped)
    run = session.execute(text("SELECT max(id) FROM reports.quality_run")).scalar()
    if run is None:
        raise ValidationFailed("quality_run_missing", "Сверка строится по последней проверке "
                               "качества данных: запустите её и загрузите файл снова")
    primaries = {registry_key(n): (i, p) for n, i, p in session.execute(text(
        "SELECT registry_number, org_id, ltree2text(path) FROM reports.quality_org "
        "WHERE run_id = :run AND level = 'primary'"), {"run": run})}
    rows: dict[int, tuple[int, dict[str, int | None]]] = {}
    seen: dict[int, int] = {}
    for number, raw in table.rows:
        report.rows_total += 1
        written = tabular.cell_text(raw.get("org_registry_number"))
        org = primaries.get(registry_key(written))
        if not written:
            report.error(number, "org_registry_number", "missing",
                         f"{titles['org_registry_number']}: не заполнено")
        elif org is None or not within_scope(org[1], paths):
            report.error(number, "org_registry_number", "org_unknown",
                         f"Первичная организация с рег. номером {written} не найдена "
                         "(или не входит в вашу структуру)")
        elif org[0] in seen:
            report.error(number, "org_registry_number", "org_twice",
                         f"Эта организация уже в строке {seen[org[0]]}")
        counts: dict[str, int | None] = {}
        for key in COUNTS:
            try:
                counts[key] = _count(raw.get(key))
            except ValueError:
                report.error(number, key, "value_not_count", (
                    f"{titles[key]}: нужно целое неотрицательное число, а не "
                    f"«{tabular.cell_text(raw.get(key))}»"))
        if counts.get("members") is None and "members" in counts:
            report.error(number, "members", "missing", f"{titles['members']}: не заполнено")
        parts = sum(counts.get(k) or 0 for k in ("working", "students", "pensioners"))
        if counts.get("members") is not None and parts > counts["members"]:
            report.error(number, "members", "parts_exceed_total",
                         f"Работающих, обучающихся и пенсионеров ({parts}) больше, чем членов "
                         f"Профсоюза ({counts['members']})")
        if org is not None and number not in report.rejected_rows:
            seen[org[0]] = number
            rows[number] = (org[0], counts)
    if not report.errors and rows:
        session.execute(text("""
            INSERT INTO reports.reported_figures
                (day, org_id, members, working, students, pensioners, filename, loaded_by)
            VALUES (:day, :org, :members, :working, :students, :pensioners, :f, :actor)
            ON CONFLICT (day, org_id) DO UPDATE SET members = EXCLUDED.members,
                working = EXCLUDED.working, students = EXCLUDED.students,
                pensioners = EXCLUDED.pensioners, filename = EXCLUDED.filename,
                loaded_by = EXCLUDED.loaded_by, loaded_at = now()
        """), [{"day": day, "org": org_id, **counts, "f": filename[:200], "actor": actor}
               for org_id, counts in rows.values()])
        report.loaded = len(rows)
    result = report.as_dict()
    result["day"] = day.isoformat()
    return result
