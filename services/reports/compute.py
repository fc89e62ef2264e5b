"""Reports made, counted and consolidated with set-based SQL over the snapshot of their date.

The same statements serve one organization (a chair's draft) and the whole union (72,000
primaries at once): a selection narrows them, nothing loops over organizations. Only drafts are
ever recomputed; a submitted report keeps its values.

- `place` makes the draft of each organization that reports in a family (its form chosen by the
  definitions: 5-СП, 3-СП or 4-СП for a primary, and so on);
- `count` fills the primaries' registry indicators from membership's counts (a subdivision's
  members count in its primary) and decides whether the report is generated automatically;
- `consolidate` sums the reports beneath into each territorial, regional and central report,
  level by level from the bottom;
- `combine` sets what a report shows from what was counted or summed and what was typed.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.reports.definitions import CONSOLIDATING, LEVELS, Family

# the indicators of a family's forms, as rows for SQL: (form, code, mode, count)
_MAP = """m AS (
    SELECT * FROM unnest(CAST(:m_form AS text[]), CAST(:m_code AS text[]),
                         CAST(:m_mode AS text[]), CAST(:m_count AS text[]))
        AS m(form, code, mode, count)
)"""
# which drafts a statement works on: the family's of the date, narrowed by ids, level, subtree
_SELECTED = """r.day = :day AND r.family = :family AND r.status = 'draft'
    AND (CAST(:ids AS bigint[]) IS NULL OR r.id = ANY(:ids))
    AND (CAST(:level AS text) IS NULL OR r.level = :level)
    AND (CAST(:root AS ltree) IS NULL OR r.path <@ CAST(:root AS ltree))"""


def _params(fam: Family, day: date, ids: list[int] | None = None, level: str | None = None,
            root: str | None = None) -> dict[str, Any]:
    rows = [(f.code, i.code, i.mode, i.count) for f in fam.forms for i in f.indicators]
    return {"day": day, "family": fam.code, "ids": ids, "level": level, "root": root,
            "m_form": [r[0] for r in rows], "m_code": [r[1] for r in rows],
            "m_mode": [r[2] for r in rows], "m_count": [r[3] for r in rows]}


def place(session: Session, fam: Family, day: date, actor: str,
          org_ids: list[int] | None = None) -> int:
    """Drafts for the organizations that report in `fam` on `day` (all, or those named) and
    have none yet; returns how many were made."""
    rows = session.execute(text("""
        SELECT org_id, level, education_type, territorial_rights FROM reports.snapshot_org
        WHERE day = :d AND (CAST(:ids AS bigint[]) IS NULL OR org_id = ANY(:ids))
    """), {"d": day, "ids": org_ids}).mappings().all()
    ids, forms = [], []
    for row in rows:
        form = fam.form_for(row)
        if form is not None:
            ids.append(row["org_id"])
            forms.append(form.code)
    made = session.execute(text("""
        WITH made AS (
            INSERT INTO reports.report (day, family, form, form_year, org_id, path, level,
                                        region_id, consolidator_id, updated_by)
            SELECT :d, :family, g.form, :year, o.org_id, o.path, o.level, o.region_id,
                   o.consolidator_id, :actor
            FROM unnest(CAST(:ids AS bigint[]), CAST(:forms AS text[])) AS g(org_id, form)
            JOIN reports.snapshot_org o ON o.day = :d AND o.org_id = g.org_id
            ON CONFLICT (day, family, org_id) DO NOTHING
            RETURNING id
        ), logged AS (
            INSERT INTO reports.report_event (report_id, action, actor)
            SELECT id, 'generated', :actor FROM made
        )
        SELECT count(*) FROM made
    """), {"d": day, "family": fam.code, "year": fam.year, "ids": ids, "forms": forms,
           "actor": actor}).scalar_one()
    return int(made)


def count(session: Session, fam: Family, day: date, root: str | None = None) -> None:
    """The registry indicators of the primaries' drafts (all of the family's, or those in the
    subtree at `root`), and whether each is generated automatically: its passport is complete
    and every member has a category. Then what they show."""
    params = _params(fam, day, level="primary", root=root)
    session.execute(text(f"""
        WITH {_MAP}, selected AS (
            SELECT r.id, r.org_id, r.form FROM reports.report r WHERE {_SELECTED}
        ), counted AS (
            SELECT o.holder_id, e.key, sum(e.value::bigint) AS n
            FROM reports.snapshot_count c
            JOIN reports.snapshot_org o ON o.day = c.day AND o.org_id = c.org_id
            CROSS JOIN LATERAL jsonb_each_text(c.counts) e
            WHERE c.day = :day
              AND (CAST(:root AS ltree) IS NULL
                   OR o.holder_id IN (SELECT org_id FROM selected))
            GROUP BY o.holder_id, e.key
        ), computed AS (
            SELECT s.id, jsonb_object_agg(m.code, COALESCE(c.n, 0)) AS vals
            FROM selected s JOIN m ON m.form = s.form AND m.mode = 'registry'
            LEFT JOIN counted c ON c.holder_id = s.org_id AND c.key = m.count
            GROUP BY s.id
        )
        UPDATE reports.report r
        SET computed = COALESCE(v.vals, '{{}}'),
            auto = v.vals IS NOT NULL AND o.passport_complete AND COALESCE(
                (SELECT n FROM counted WHERE holder_id = r.org_id
                 AND key = 'category_not_given'), 0) = 0,
            -- an automatic report takes the registry's figures: hand-typed ones give way
            entered = CASE WHEN v.vals IS NOT NULL AND o.passport_complete
                           THEN r.entered - ARRAY(SELECT jsonb_object_keys(v.vals))
                           ELSE r.entered END
        FROM selected s
        LEFT JOIN computed v ON v.id = s.id
        JOIN reports.snapshot_org o ON o.day = :day AND o.org_id = s.org_id
        WHERE r.id = s.id
    """), params)
    combine(session, fam, day, level="primary", root=root)


def consolidate(session: Session, fam: Family, day: date, root: str | None = None) -> None:
    """Sum the reports beneath into the drafts of every consolidating level (within the
    subtree at `root`), from the bottom up: a region sums its territorial organizations'
    reports as they stand after their own sums."""
    for level in LEVELS:
        if level not in CONSOLIDATING:
            continue
        params = _params(fam, day, level=level, root=root)
        session.execute(text(f"""
            WITH {_MAP}, selected AS (
                SELECT r.id, r.org_id, r.form FROM reports.report r WHERE {_SELECTED}
            ), summed AS (
                SELECT s.id, m.code, CASE WHEN m.mode = 'tree'
                    THEN sum(COALESCE((c."values" ->> m.code)::bigint, 0)
                             + CASE WHEN c.level = m.count THEN 1 ELSE 0 END)
                    -- a figure nobody beneath has given yet stays blank, not zero
                    ELSE sum((c."values" ->> m.code)::bigint) END AS n
                FROM selected s
                JOIN m ON m.form = s.form AND m.mode IN ('sum', 'sum_manual', 'tree')
                JOIN reports.report c ON c.day = :day AND c.family = :family
                                     AND c.consolidator_id = s.org_id
                GROUP BY s.id, m.code, m.mode
            ), computed AS (
                SELECT s.id, jsonb_object_agg(m.code, COALESCE(x.n, 0))
                           FILTER (WHERE x.n IS NOT NULL OR m.mode = 'tree') AS vals
                FROM selected s
                JOIN m ON m.form = s.form AND m.mode IN ('sum', 'sum_manual', 'tree')
                LEFT JOIN summed x ON x.id = s.id AND x.code = m.code
                GROUP BY s.id
            )
            UPDATE reports.report r SET computed = COALESCE(v.vals, '{{}}')
            FROM selected s LEFT JOIN computed v ON v.id = s.id
            WHERE r.id = s.id
        """), params)
        combine(session, fam, day, level=level, root=root)


def combine(session: Session, fam: Family, day: date, ids: list[int] | None = None,
            level: str | None = None, root: str | None = None) -> None:
    """What each selected draft shows: counted or summed figures, what was typed in the
    indicators entered by hand (and in the registry's, where the report is not automatic)."""
    session.execute(text(f"""
        WITH {_MAP}, shown AS (
            SELECT r.id, m.code, CASE
                WHEN m.mode = 'registry' AND NOT r.auto AND r.entered ? m.code
                    THEN r.entered -> m.code
                WHEN m.mode = 'manual' THEN r.entered -> m.code
                WHEN m.mode = 'sum_manual' AND (r.computed ? m.code OR r.entered ? m.code)
                    THEN to_jsonb(COALESCE((r.computed ->> m.code)::bigint, 0)
                                  + COALESCE((r.entered ->> m.code)::bigint, 0))
                WHEN m.mode = 'sum_manual' THEN NULL
                ELSE r.computed -> m.code END AS v
            FROM reports.report r JOIN m ON m.form = r.form
            WHERE {_SELECTED}
        ), shown_all AS (
            SELECT id, COALESCE(jsonb_object_agg(code, v) FILTER (WHERE v IS NOT NULL
                                                             AND v <> 'null'), '{{}}') AS vals
            FROM shown GROUP BY id
        )
        UPDATE reports.report r SET "values" = s.vals FROM shown_all s WHERE r.id = s.id
    """), _params(fam, day, ids, level, root))
