"""Data-quality monitoring: the organizational department's quarterly checks, done by the system.

A run asks the registry for the tree as it stands (`tree_as_of`), membership for the counts
(`counts_as_of`) and cards for the cards waiting to be handed out (`waiting_by_org`), one call
each, keeps the tree of the run and writes one row per organization at fault per check, with
set-based SQL. Summaries per region, drill-downs to territorial and primary organizations and the
chair's own problems are then reads of those rows. The last run of each quarter is kept, so a
region sees its trend.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import maintenance
from services.common.errors import NotFound
from services.common.packed import unpack_columns
from services.reports import snapshot


@dataclass(frozen=True)
class Check:
    code: str
    title: str
    fix: str  # the portal's page where a fault is put right, for an organization `{id}`
    records: str  # what `n` counts


PASSPORT = "/portal/org/{id}/passport/"
# the source document's checks; each is one statement in _FAULTS
CHECKS = (
    Check("no_chair", "Первичные организации без председателя в паспорте",
          PASSPORT + "chair", "организаций"),
    Check("no_term", "Первичные организации без срока полномочий председателя",
          PASSPORT + "chair", "организаций"),
    Check("no_edu_inn", "Первичные организации без ИНН образовательной организации",
          PASSPORT + "education", "организаций"),
    Check("no_members", "Первичные организации без членов Профсоюза на учёте",
          "/portal/org/{id}/members/import", "организаций"),
    Check("few_members", "Первичные организации, где на учёте меньше трёх членов",
          "/portal/members?within={id}", "организаций"),
    Check("no_category", "Члены Профсоюза без категории (работающий, обучающийся, пенсионер)",
          "/portal/members?within={id}&category=not_given", "членов Профсоюза"),
    Check("cards_waiting", "Карты изготовлены или доставлены, но не выданы",
          "/portal/cards?within={id}&status=delivered", "карт"),
    Check("chair_no_access", "Председатели без доступа к АИС (нет e-mail, не входили, "
          "приглашение истекло или адрес не принимает почту)", PASSPORT + "chair",
          "организаций"),
    Check("bad_email", "Неверный e-mail председателя: почтовый сервер не принимает адрес "
          "(письма и рассылки на него не отправляются)", PASSPORT + "chair", "организаций"),
    Check("member_bad_email", "Неверный e-mail в карточках членов Профсоюза: почтовый сервер "
          "не принимает адрес (письма и рассылки на него не отправляются)",
          "/portal/members?within={id}", "членов Профсоюза"),
    Check("status_mismatch", "Юридический статус или права территориальной не совпадают "
          "со статистическим отчётом", PASSPORT + "legal", "организаций"),
    Check("stopped_reporting", "Перестали сдавать статистические отчёты, но не исключены",
          "/portal/reports?org_id={id}", "организаций"),
)
BY_CODE = {c.code: c for c in CHECKS}


# members per holder (a subdivision's count in its primary), from the run's counts
_HELD = """
    SELECT o.holder_id, sum(c.members) AS members, sum(c.not_given) AS not_given
    FROM q_counts c JOIN reports.quality_org o ON o.run_id = :run AND o.org_id = c.org_id
    GROUP BY o.holder_id
"""
_PRIMARY = "o.run_id = :run AND o.level = 'primary'"
_FAULTS: dict[str, str] = {
    "no_chair": f"SELECT o.org_id, 1 FROM reports.quality_org o WHERE {_PRIMARY} "
                "AND NOT o.has_chair",
    "no_term": f"SELECT o.org_id, 1 FROM reports.quality_org o WHERE {_PRIMARY} "
               "AND o.has_chair AND NOT o.has_term",
    "no_edu_inn": f"SELECT o.org_id, 1 FROM reports.quality_org o WHERE {_PRIMARY} "
                  "AND o.education_inn IS NULL",
    "no_members": f"""SELECT o.org_id, 1 FROM reports.quality_org o
        LEFT JOIN ({_HELD}) h ON h.holder_id = o.org_id
        WHERE {_PRIMARY} AND COALESCE(h.members, 0) = 0""",
    "few_members": f"""SELECT o.org_id, h.members FROM reports.quality_org o
        JOIN ({_HELD}) h ON h.holder_id = o.org_id
        WHERE {_PRIMARY} AND h.members BETWEEN 1 AND 2""",
    "no_category": "SELECT c.org_id, c.not_given FROM q_counts c WHERE c.not_given > 0",
    "cards_waiting": "SELECT w.org_id, w.n FROM q_cards w WHERE w.n > 0",
    # no e-mail in the passport, or an account that is not in use (notify's account states)
    "chair_no_access": """SELECT o.org_id, 1 FROM reports.quality_org o
        LEFT JOIN q_access a ON a.org_id = o.org_id
        WHERE o.run_id = :run AND o.has_chair
          AND (NOT o.chair_has_email OR a.state <> 'active')""",
    # the relay refused the chair's address for good (notify's bounces): «неверный e-mail»
    "bad_email": """SELECT o.org_id, 1 FROM reports.quality_org o
        JOIN q_access a ON a.org_id = o.org_id
        WHERE o.run_id = :run AND o.has_chair AND a.state = 'bouncing'""",
    # members' addresses the relay refused for good, counted by membership per organization
    "member_bad_email": "SELECT b.org_id, b.n FROM q_bad_email b WHERE b.n > 0",
    # the latest submitted statistical report said otherwise: 4-СП is the form of a primary
    # with territorial rights, line 23 says whether it is a legal entity
    "status_mismatch": f"""SELECT o.org_id, 1 FROM reports.quality_org o
        JOIN (SELECT DISTINCT ON (org_id) org_id, form, "values" FROM reports.report
              WHERE family = 'stat' AND status = 'submitted'
              ORDER BY org_id, day DESC) last ON last.org_id = o.org_id
        WHERE {_PRIMARY}
          AND ((last.form = '4-СП') <> o.territorial_rights
               OR (last."values" ? '23' AND (last."values" ->> '23' = '1') <> o.legal_entity))""",
    # submitted a statistical report once, none on the last two dates reports were made for
    "stopped_reporting": f"""SELECT o.org_id, 1 FROM reports.quality_org o
        JOIN (SELECT org_id FROM reports.report
              WHERE family = 'stat' AND status = 'submitted'
              GROUP BY org_id
              HAVING bool_and(day NOT IN (SELECT day FROM reports.snapshot
                                          ORDER BY day DESC LIMIT 2))) gone
          ON gone.org_id = o.org_id
        WHERE {_PRIMARY}""",
}


def quarter_of(day: date) -> date:
    return date(day.year, 1 + (day.month - 1) // 3 * 3, 1)


def run(session: Session, today: date, packed_tree: str, packed_counts: str,
        packed_cards: str, actor: str, chair_access: dict[int, str] | None = None,
        member_bad_email: dict[int, int] | None = None) -> int:
    """Every check over the whole union; returns the run's id. `chair_access`: the state of
    each chair's account by organization (notify's: active, invited, never_signed_in, ...);
    an organization missing from it counts as active. `member_bad_email`: members whose
    card's address bounces, by organization."""
    run_id = session.execute(text("""
        INSERT INTO reports.quality_run (quarter, taken_by) VALUES (:q, :by) RETURNING id
    """), {"q": quarter_of(today), "by": actor}).scalar_one()
    snapshot.copy_frame(session, "reports.quality_org", snapshot.tree_frame(
        packed_tree, today).select(
        pl.lit(run_id).alias("run_id"), pl.col("id").alias("org_id"), "parent_id", "path",
        "level", "region_id", "consolidator_id", "holder_id", "name", "registry_number",
        pl.col("has_chair").fill_null(False),
        pl.col("chair_term_until").is_not_null().alias("has_term"),
        pl.col("chair_has_email").fill_null(False), "education_inn",
        pl.col("legal_entity").fill_null(False), pl.col("territorial_rights").fill_null(False)))
    cursor = session.connection().connection.cursor()
    counts = unpack_columns(packed_counts)
    session.execute(text("""
        CREATE TEMP TABLE q_counts (org_id bigint PRIMARY KEY, members int, not_given int,
                                    working int, students int, pensioners int,
                                    joined_online int) ON COMMIT DROP
    """))
    with cursor.copy("COPY q_counts FROM STDIN") as cp:
        for row in zip(counts["org_id"], counts["members"], counts["category_not_given"],
                       counts["working"], counts["students"], counts["pensioners"],
                       counts["joined_online"], strict=True):
            cp.write_row(row)
    cards = unpack_columns(packed_cards)
    session.execute(text("CREATE TEMP TABLE q_cards (org_id bigint PRIMARY KEY, n int) "
                         "ON COMMIT DROP"))
    with cursor.copy("COPY q_cards FROM STDIN") as cp:
        for org_id, produced, delivered in zip(cards["org_id"], cards["produced"],
                                               cards["delivered"], strict=True):
            cp.write_row((org_id, produced + delivered))
    session.execute(text("CREATE TEMP TABLE q_access (org_id bigint PRIMARY KEY, state text) "
                         "ON COMMIT DROP"))
    with cursor.copy("COPY q_access FROM STDIN") as cp:
        for org_id, state in (chair_access or {}).items():
            cp.write_row((org_id, state))
    session.execute(text("CREATE TEMP TABLE q_bad_email (org_id bigint PRIMARY KEY, n int) "
                         "ON COMMIT DROP"))
    with cursor.copy("COPY q_bad_email FROM STDIN") as cp:
        for org_id, n in (member_bad_email or {}).items():
            cp.write_row((int(org_id), int(n)))
    # the planner must know the tables just filled, or it joins them row by row
    session.execute(text("ANALYZE q_counts; ANALYZE q_cards; ANALYZE q_access; "
                         "ANALYZE q_bad_email"))
    maintenance.analyze(session, "reports.quality_org")
    for code, select in _FAULTS.items():
        # faults only where the organization is in the tree of the run (placed, in force)
        session.execute(text(f"""
            INSERT INTO reports.quality_fault (run_id, check_code, org_id, region_id,
                                               consolidator_id, n)
            SELECT :run, :code, f.org_id, o.region_id, o.consolidator_id, f.n
            FROM ({select}) AS f(org_id, n)
            JOIN reports.quality_org o ON o.run_id = :run AND o.org_id = f.org_id
        """), {"run": run_id, "code": code})
    session.execute(text("""
        UPDATE reports.quality_fault f
        SET detail = CASE WHEN NOT o.chair_has_email THEN 'no_email' ELSE a.state END
        FROM reports.quality_org o LEFT JOIN q_access a ON a.org_id = o.org_id
        WHERE f.run_id = :run AND f.check_code = 'chair_no_access'
          AND o.run_id = :run AND o.org_id = f.org_id
    """), {"run": run_id})
    session.execute(text("""
        INSERT INTO reports.quality_region
        SELECT :run, o.region_id, count(*) FILTER (WHERE o.level = 'primary'),
               COALESCE(sum(c.members), 0), COALESCE(sum(c.working), 0),
               COALESCE(sum(c.students), 0), COALESCE(sum(c.pensioners), 0),
               COALESCE(sum(c.not_given), 0), COALESCE(sum(c.joined_online), 0)
        FROM reports.quality_org o LEFT JOIN q_counts c ON c.org_id = o.org_id
        WHERE o.run_id = :run AND o.region_id IS NOT NULL
        GROUP BY o.region_id
    """), {"run": run_id})
    # drill-downs read these at once: they must not be planned as empty tables
    maintenance.analyze(session, "reports.quality_fault", "reports.quality_region")
    # the last run of each quarter stays for the trend; earlier runs of a quarter go
    session.execute(text("""
        DELETE FROM reports.quality_run r
        WHERE r.id <> :run AND EXISTS (SELECT 1 FROM reports.quality_run n
                                       WHERE n.quarter = r.quarter AND n.id > r.id)
    """), {"run": run_id})
    return int(run_id)


def took(session: Session, run_id: int, seconds: float) -> None:
    session.execute(text("UPDATE reports.quality_run SET seconds = :s WHERE id = :id"),
                    {"s": seconds, "id": run_id})


def latest_run(session: Session, before_quarter: date | None = None) -> dict[str, Any]:
    row = session.execute(text("""
        SELECT id, taken_at, quarter FROM reports.quality_run
        WHERE CAST(:q AS date) IS NULL OR quarter < :q ORDER BY id DESC LIMIT 1
    """), {"q": before_quarter}).mappings().first()
    if row is None and before_quarter is None:
        raise NotFound("quality_not_run", "Проверка качества данных ещё не проводилась")
    return dict(row) if row else {}


def _scope(paths: list[str] | None, alias: str = "o") -> str:
    return (f"(CAST(:paths AS ltree[]) IS NULL OR {alias}.path <@ CAST(:paths AS ltree[]))")


def _regions(paths: list[str] | None) -> list[int] | None:
    """The regions the subtrees at `paths` lie in (None: the Central Council's, all): faults
    are read by region through their index, not all of a run's with their paths compared."""
    if paths is None or any("." not in p for p in paths):
        return None
    return sorted({int(p.split(".")[1]) for p in paths})


_IN_REGIONS = "(CAST(:regions AS bigint[]) IS NULL OR f.region_id = ANY(:regions))"


def summary(session: Session, paths: list[str] | None) -> dict[str, Any]:
    """Per region and check: organizations at fault and records, with the change since the
    last quarter's run."""
    now = latest_run(session)
    before = latest_run(session, now["quarter"])
    rows = session.execute(text(f"""
        WITH counted AS (
            SELECT f.run_id, f.region_id, f.check_code, count(*) AS orgs, sum(f.n) AS records
            FROM reports.quality_fault f
            JOIN reports.quality_org o ON o.run_id = f.run_id AND o.org_id = f.org_id
            WHERE f.run_id IN (:now, :before) AND {_IN_REGIONS} AND {_scope(paths)}
            GROUP BY f.run_id, f.region_id, f.check_code
        )
        SELECT c.region_id, rg.name AS region_name, c.check_code, c.orgs, c.records,
               p.orgs AS orgs_before, p.records AS records_before
        FROM counted c
        LEFT JOIN counted p ON p.run_id = :before AND p.region_id = c.region_id
                           AND p.check_code = c.check_code
        LEFT JOIN reports.quality_org rg ON rg.run_id = :now AND rg.org_id = c.region_id
        WHERE c.run_id = :now
        ORDER BY rg.name, c.check_code
    """), {"now": now["id"], "before": before.get("id", -1), "paths": paths,
           "regions": _regions(paths)}).mappings().all()
    return {"run": _run_shown(now), "previous_run": _run_shown(before) if before else None,
            "checks": [_check_shown(c) for c in CHECKS],
            "rows": [dict(r) for r in rows], "trend": trend(session, paths)}


TREND_QUARTERS = 8


def trend(session: Session, paths: list[str] | None) -> dict[str, Any]:
    """Organizations at fault per check over the last quarters (each quarter's latest run),
    within the caller's subtrees: the quarters, oldest first, and per check one count each."""
    last = session.execute(text("""
        SELECT DISTINCT ON (quarter) id, quarter FROM reports.quality_run
        ORDER BY quarter DESC, id DESC LIMIT :n
    """), {"n": TREND_QUARTERS}).mappings().all()
    quarters = sorted(r["quarter"] for r in last)
    counts = session.execute(text(f"""
        SELECT r.quarter, f.check_code, count(*) AS orgs
        FROM reports.quality_fault f
        JOIN reports.quality_run r ON r.id = f.run_id
        JOIN reports.quality_org o ON o.run_id = f.run_id AND o.org_id = f.org_id
        WHERE f.run_id = ANY(:runs) AND {_IN_REGIONS} AND {_scope(paths)}
        GROUP BY r.quarter, f.check_code
    """), {"runs": [r["id"] for r in last], "paths": paths,
           "regions": _regions(paths)}).tuples().all()
    by_check: dict[str, list[int]] = {c.code: [0] * len(quarters) for c in CHECKS}
    for quarter, code, orgs in counts:
        if code in by_check:
            by_check[code][quarters.index(quarter)] = orgs
    return {"quarters": [q.isoformat() for q in quarters], "orgs": by_check}


def drilldown(session: Session, org_id: int, paths: list[str] | None) -> dict[str, Any]:
    """An organization's subtree in the latest run: per check, the faults under each
    organization directly beneath (a region's territorial organizations and the primaries
    directly under it), and its own."""
    now = latest_run(session)
    org = _visible(session, now["id"], org_id, paths)
    parts = session.execute(text("""
        -- the organization directly beneath that holds each fault (or the organization)
        SELECT CASE WHEN o.org_id = :id THEN o.org_id
                    ELSE ltree2text(subpath(o.path, nlevel(CAST(:path AS ltree)), 1))::bigint
               END AS part_id,
               f.check_code, count(*) AS orgs, sum(f.n) AS records
        FROM reports.quality_fault f
        JOIN reports.quality_org o ON o.run_id = f.run_id AND o.org_id = f.org_id
        WHERE f.run_id = :run AND o.path <@ CAST(:path AS ltree)
        GROUP BY 1, 2
    """), {"run": now["id"], "id": org_id, "path": org["path"]}).mappings().all()
    names = dict(session.execute(text("""
        SELECT org_id, name FROM reports.quality_org
        WHERE run_id = :run AND org_id = ANY(:ids)
    """), {"run": now["id"], "ids": list({p["part_id"] for p in parts})}).all())
    return {"run": _run_shown(now), "org": dict(org),
            "checks": [_check_shown(c) for c in CHECKS],
            "parts": [{**dict(p), "name": names.get(p["part_id"])} for p in parts]}


def faults(session: Session, org_id: int, check_code: str | None, paths: list[str] | None,
           limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The organizations at fault in a subtree (one check or all), each with where it is put
    right."""
    if check_code is not None and check_code not in BY_CODE:
        raise NotFound("check_unknown", f"Нет проверки «{check_code}»")
    try:
        now = latest_run(session)
    except NotFound:  # nothing checked yet: nothing found
        return {"run": None, "total": 0, "items": []}
    org = _visible(session, now["id"], org_id, paths)
    # the subtree's organizations first (the path index), then each one's faults (by
    # organization; OFFSET 0 keeps the planner from hashing the run's 140,000 faults instead):
    # a region's list in 20 ms rather than 400
    rows = session.execute(text("""
        WITH subtree AS MATERIALIZED (
            SELECT org_id, name, registry_number, level FROM reports.quality_org
            WHERE run_id = :run AND path <@ CAST(:path AS ltree))
        SELECT f.check_code, o.org_id, o.name, o.registry_number, o.level, f.n, f.detail,
               count(*) OVER () AS total
        FROM subtree o CROSS JOIN LATERAL (
            SELECT check_code, n, detail FROM reports.quality_fault
            WHERE run_id = :run AND org_id = o.org_id
              AND (CAST(:code AS text) IS NULL OR check_code = :code)
            OFFSET 0) f
        ORDER BY f.check_code, o.name
        LIMIT :limit OFFSET :offset
    """), {"run": now["id"], "path": org["path"], "code": check_code,
           "limit": min(int(limit), 1000), "offset": int(offset)}).mappings().all()
    return {"run": _run_shown(now), "total": rows[0]["total"] if rows else 0,
            "items": [{**{k: r[k] for k in r if k != "total"},
                       "title": BY_CODE[r["check_code"]].title,
                       "fix": fix_link(r["check_code"], r["org_id"])} for r in rows]}


def _visible(session: Session, run_id: int, org_id: int, paths: list[str] | None
             ) -> dict[str, Any]:
    """An organization of the run within the caller's subtrees; others look missing."""
    org = session.execute(text(f"""
        SELECT o.org_id, o.name, o.level, o.region_id, ltree2text(o.path) AS path
        FROM reports.quality_org o WHERE o.run_id = :run AND o.org_id = :id AND {_scope(paths)}
    """), {"run": run_id, "id": org_id, "paths": paths}).mappings().first()
    if org is None:
        raise NotFound("org_not_found", f"Организация {org_id} не найдена")
    return dict(org)


def fix_link(check_code: str, org_id: int) -> str:
    """Where a fault is put right, as the portal's path."""
    return BY_CODE[check_code].fix.format(id=org_id)


def reconciliation(session: Session, paths: list[str] | None, day: date | None
                   ) -> dict[str, Any]:
    """Members and primaries on record against the regions' statistical reports (1-СП) of a
    reporting date (the latest with reports), per region and category. Where figures were
    loaded from a file for the date (figures_file: per primary), their sums per region are what
    the report states."""
    now = latest_run(session)
    if day is None:
        day = session.execute(text("""
            SELECT max(d) FROM (
                SELECT max(day) AS d FROM reports.report
                WHERE family = 'stat' AND level = 'regional'
                UNION ALL SELECT max(day) FROM reports.reported_figures) AS days
        """)).scalar()
    rows = session.execute(text(f"""
        SELECT q.region_id, o.name AS region_name, q.primaries, q.members, q.working,
               q.students, q.pensioners, q.category_not_given,
               r.status AS report_status, f.primaries IS NOT NULL AS from_file,
               COALESCE(f.members, (r."values" ->> '01')::bigint) AS members_reported,
               COALESCE(f.working, (r."values" ->> '04')::bigint) AS working_reported,
               COALESCE(f.students, (r."values" ->> '09')::bigint) AS students_reported,
               COALESCE(f.pensioners, (r."values" ->> '10')::bigint) AS pensioners_reported,
               COALESCE(f.primaries, (r."values" ->> '30')::bigint) AS primaries_reported
        FROM reports.quality_region q
        JOIN reports.quality_org o ON o.run_id = q.run_id AND o.org_id = q.region_id
        LEFT JOIN reports.report r ON r.family = 'stat' AND r.day = :day
                                  AND r.org_id = q.region_id
        LEFT JOIN (SELECT p.region_id, count(*) AS primaries, sum(g.members) AS members,
                          sum(g.working) AS working, sum(g.students) AS students,
                          sum(g.pensioners) AS pensioners
                   FROM reports.reported_figures g
                   JOIN reports.quality_org p ON p.run_id = :run AND p.org_id = g.org_id
                   WHERE g.day = :day GROUP BY p.region_id) f ON f.region_id = q.region_id
        WHERE q.run_id = :run AND {_scope(paths)}
        ORDER BY o.name
    """), {"run": now["id"], "day": day, "paths": paths}).mappings().all()
    out = []
    for r in rows:
        row = dict(r)
        for key in ("members", "working", "students", "pensioners", "primaries"):
            reported = row[f"{key}_reported"]
            row[f"{key}_share"] = round(row[key] / reported, 3) if reported else None
        out.append(row)
    return {"run": _run_shown(now), "day": day.isoformat() if day else None, "rows": out}


def usage(session: Session, paths: list[str] | None) -> dict[str, Any]:
    """Per region: the share of members who joined online, and of primaries whose latest
    statistical report was generated automatically."""
    now = latest_run(session)
    day = session.execute(text("SELECT max(day) FROM reports.report WHERE family = 'stat'")
                          ).scalar()
    rows = session.execute(text(f"""
        SELECT q.region_id, o.name AS region_name, q.members, q.joined_online, q.primaries,
               a.reports, a.auto
        FROM reports.quality_region q
        JOIN reports.quality_org o ON o.run_id = q.run_id AND o.org_id = q.region_id
        LEFT JOIN (SELECT region_id, count(*) AS reports, count(*) FILTER (WHERE auto) AS auto
                   FROM reports.report WHERE family = 'stat' AND day = :day
                     AND level = 'primary' GROUP BY region_id) a ON a.region_id = q.region_id
        WHERE q.run_id = :run AND {_scope(paths)}
        ORDER BY o.name
    """), {"run": now["id"], "day": day, "paths": paths}).mappings().all()
    return {"run": _run_shown(now), "reports_day": day.isoformat() if day else None,
            "rows": [{**dict(r),
                      "joined_online_share": round(r["joined_online"] / r["members"], 3)
                      if r["members"] else None,
                      "auto_share": round((r["auto"] or 0) / r["primaries"], 3)
                      if r["primaries"] else None} for r in rows]}


def _run_shown(run: dict[str, Any]) -> dict[str, Any]:
    return {"id": run["id"], "taken_at": run["taken_at"].isoformat(),
            "quarter": run["quarter"].isoformat()}


def _check_shown(check: Check) -> dict[str, str]:
    return {"code": check.code, "title": check.title, "fix": check.fix,
            "records": check.records}
