"""Reports made, counted and consolidated with set-based SQL over the snapshot of their date.

The same statements serve one organization (a chair's draft) and the whole union (72,000
primaries at once): a selection narrows them, nothing loops over organizations. Only drafts are
ever recomputed; a submitted report keeps its values.

- `place` makes the draft of each organization that reports in a family (its form chosen by the
  definitions: 5-СП, 3-СП or 4-СП for a primary, and so on), a primary's with its registry
  indicators from membership's counts (a subdivision's members count in its primary) and
  whether it is generated automatically;
- `count` counts the drafts that were there already again;
- `consolidate` sums the reports beneath into each territorial, regional and central report,
  level by level from the bottom;
- `combine` sets what a report shows from what was counted or summed and what was typed.

Each statement is written out from the family's definitions: one `jsonb_build_object` per form
with a column per indicator. Unpacking every report into a row per indicator and packing it
again (jsonb_each, jsonb_object_agg) cost some 10 s at national scale; this costs one pass.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import maintenance
from services.reports import snapshot
from services.reports.definitions import CONSOLIDATING, LEVELS, Family, Form, Indicator

# which drafts a statement works on: the family's of the date, narrowed by ids, level, subtree
_SELECTED = """r.day = :day AND r.family = :family AND r.status = 'draft'
    AND (CAST(:ids AS bigint[]) IS NULL OR r.id = ANY(:ids))
    AND (CAST(:level AS text) IS NULL OR r.level = :level)
    AND (CAST(:root AS ltree) IS NULL OR r.org_id IN (
        SELECT org_id FROM reports.snapshot_org
        WHERE day = :day AND path <@ CAST(:root AS ltree)))"""
SUMMED = ("sum", "sum_manual", "tree")


def _no_jit(session: Session) -> None:
    """These statements are long but run once: compiling them (PostgreSQL's JIT, which their
    cost estimates set off) took longer than running them."""
    session.execute(text("SET LOCAL jit = off"))


def _params(fam: Family, day: date, ids: list[int] | None = None, level: str | None = None,
            root: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"day": day, "family": fam.code, "ids": ids, "level": level,
                              "root": root}
    params.update({f"form_{n}": form.code for n, form in enumerate(fam.forms)})
    return params


def _per_form(fam: Family, alias: str,
              value: Callable[[Form, Indicator], str | None]) -> str:
    """An object per form of `fam` (by the row's `alias`.form), one key per indicator whose
    `value` gives an SQL expression; keys whose value is NULL are left out."""
    whens = []
    for n, form in enumerate(fam.forms):
        # codes are two digits (definitions checks), safe to write into the statement
        pairs = [f"'{i.code}', {expr}" for i in form.indicators
                 if (expr := value(form, i)) is not None]
        if pairs:
            whens.append(f"WHEN :form_{n} THEN jsonb_build_object({', '.join(pairs)})")
    if not whens:
        return "NULL::jsonb"
    return f"jsonb_strip_nulls(CASE {alias}.form {' '.join(whens)} END)"


def _counting(session: Session, fam: Family, day: date, alias: str
              ) -> tuple[str, str, str]:
    """SQL pieces of the registry's figures: the sums of membership's counts per holder (a
    subdivision's in its primary; a CTE body selecting from `c` and `o`), a report's figures
    from them (for the row `alias` with its form, the sums as `h`), and whether it is complete
    (every member has a category)."""
    keys = snapshot.count_keys(session, day) or []
    column = {key: f"h.k{n}" for n, key in enumerate(keys, 1)}
    held = "".join(f", sum(c.counts[{n}]) AS k{n}" for n in range(1, len(keys) + 1))
    registry = _per_form(fam, alias, lambda form, i: (
        f"COALESCE({column[i.count]}, 0)" if i.count in column else "0")
        if i.mode == "registry" else None)
    no_category = (f"COALESCE({column['category_not_given']}, 0) = 0"
                   if "category_not_given" in column else "true")
    return f"SELECT o.holder_id{held}", registry, no_category


def place(session: Session, fam: Family, day: date, actor: str,
          org_ids: list[int] | None = None) -> int:
    """Drafts for the organizations that report in `fam` on `day` (all, or those named) and
    have none yet, a primary's with its registry figures counted; returns how many were made."""
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
    held, registry, no_category = _counting(session, fam, day, "g")
    _no_jit(session)
    made = session.execute(text(f"""
        WITH g AS (
            SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:forms AS text[]))
                AS g(org_id, form)
        ), h AS (
            {held}
            FROM reports.snapshot_count c
            JOIN reports.snapshot_org o ON o.day = c.day AND o.org_id = c.org_id
            WHERE c.day = :day AND o.holder_id IN (SELECT org_id FROM g)
            GROUP BY o.holder_id
        ), decided AS MATERIALIZED (
            SELECT g.org_id, g.form, o.path, o.level, o.region_id, o.consolidator_id,
                   {registry} AS vals, o.passport_complete AND {no_category} AS complete
            FROM g JOIN reports.snapshot_org o ON o.day = :day AND o.org_id = g.org_id
            LEFT JOIN h ON h.holder_id = g.org_id
        ), made AS (
            INSERT INTO reports.report (day, family, form, form_year, org_id, path, level,
                                        region_id, consolidator_id, created_by, updated_by,
                                        computed, "values", auto)
            SELECT :day, :family, d.form, :year, d.org_id, d.path, d.level, d.region_id,
                   d.consolidator_id, :actor, :actor, COALESCE(d.vals, '{{}}'),
                   COALESCE(d.vals, '{{}}'), d.vals IS NOT NULL AND d.complete
            FROM decided d
            ON CONFLICT (day, family, org_id) DO NOTHING
            RETURNING id
        )
        SELECT count(*) FROM made
    """), {**_params(fam, day), "year": fam.year, "ids": ids, "forms": forms,
           "actor": actor}).scalar_one()
    return int(made)


def national(session: Session, fam: Family, day: date, packed_tree: str, packed_counts: str,
             actor: str) -> dict[str, int]:
    """Every report of `fam` on `day` across the union, from the registry's tree and
    membership's counts as they answered: the snapshot taken afresh, drafts made, those there
    already counted again, everything consolidated. Returns the totals."""
    orgs = snapshot.take(session, day, packed_tree, actor)
    snapshot.store_counts(session, day, packed_counts)
    # the planner must know the tables just filled, or it joins them row by row
    maintenance.analyze(session, "reports.snapshot_org", "reports.snapshot_count")
    made = place(session, fam, day, actor)
    maintenance.analyze(session, "reports.report")
    drafts_before = session.execute(text(
        "SELECT count(*) FROM reports.report WHERE day = :d AND family = :f "
        "AND status = 'draft'"), {"d": day, "f": fam.code}).scalar_one() - made
    if drafts_before:  # the new ones were counted as they were made
        count(session, fam, day)
    consolidate(session, fam, day)
    totals = session.execute(text("""
        SELECT count(*) AS reports, count(*) FILTER (WHERE auto) AS generated_auto,
               count(*) FILTER (WHERE status = 'submitted') AS submitted
        FROM reports.report WHERE day = :d AND family = :f
    """), {"d": day, "f": fam.code}).mappings().one()
    return {"organizations": orgs, "made": made, **totals}


def count(session: Session, fam: Family, day: date, root: str | None = None) -> None:
    """The registry indicators of the primaries' drafts (all of the family's, or those in the
    subtree at `root`) counted again, and whether each is generated automatically: its
    passport is complete and every member has a category. Then what they show."""
    held, registry, no_category = _counting(session, fam, day, "s")
    # what the report shows, from the figures this same UPDATE sets
    shown = _per_form(fam, "r", _shown("COALESCE(d.vals, '{}')",
                                       "d.vals IS NOT NULL AND d.complete"))
    _no_jit(session)
    session.execute(text(f"""
        WITH selected AS (
            SELECT r.id, r.org_id, r.form FROM reports.report r WHERE {_SELECTED}
        ), h AS (
            {held}
            FROM reports.snapshot_count c
            JOIN reports.snapshot_org o ON o.day = c.day AND o.org_id = c.org_id
            WHERE c.day = :day
              AND (CAST(:root AS ltree) IS NULL OR o.path <@ CAST(:root AS ltree))
            GROUP BY o.holder_id
        ), decided AS MATERIALIZED (  -- each figure built once, read by several
            SELECT s.id, {registry} AS vals, o.passport_complete AND {no_category} AS complete
            FROM selected s
            JOIN reports.snapshot_org o ON o.day = :day AND o.org_id = s.org_id
            LEFT JOIN h ON h.holder_id = s.org_id
        )
        UPDATE reports.report r
        SET computed = COALESCE(d.vals, '{{}}'), updated_at = now(),
            auto = d.vals IS NOT NULL AND d.complete,
            -- an automatic report takes the registry's figures: hand-typed ones give way
            entered = CASE WHEN d.vals IS NOT NULL AND d.complete
                           THEN r.entered - ARRAY(SELECT jsonb_object_keys(d.vals))
                           ELSE r.entered END,
            "values" = COALESCE({shown}, '{{}}')
        FROM decided d
        WHERE r.id = d.id
    """), _params(fam, day, level="primary", root=root))


def consolidate(session: Session, fam: Family, day: date, root: str | None = None) -> None:
    """Sum the reports beneath into the drafts of every consolidating level (within the
    subtree at `root`), from the bottom up: a region sums its territorial organizations'
    reports as they stand after their own sums. A figure nobody beneath has given stays blank,
    not zero."""
    codes = sorted({i.code for f in fam.forms if f.consolidating for i in f.indicators
                    if i.mode in SUMMED})
    levels = sorted({i.count for f in fam.forms for i in f.indicators if i.mode == "tree"})
    sums = [f"""sum((c."values" ->> '{code}')::bigint) AS s{code}""" for code in codes]
    sums += [f"count(*) FILTER (WHERE c.level = '{lv}') AS n_{lv}" for lv in levels
             if lv in LEVELS]
    summed = _per_form(fam, "s", lambda form, i: (
        f"COALESCE(k.s{i.code}, 0) + COALESCE(k.n_{i.count}, 0)" if i.mode == "tree"
        else f"k.s{i.code}") if i.mode in SUMMED else None)
    shown = _per_form(fam, "r", _shown("d.vals"))
    _no_jit(session)
    for level in LEVELS:
        if level not in CONSOLIDATING:
            continue
        session.execute(text(f"""
            WITH selected AS (
                SELECT r.id, r.org_id, r.form FROM reports.report r WHERE {_SELECTED}
            ), k AS (
                SELECT c.consolidator_id {", " + ", ".join(sums) if sums else ""}
                FROM reports.report c
                WHERE c.day = :day AND c.family = :family
                  AND c.consolidator_id IN (SELECT org_id FROM selected)
                GROUP BY c.consolidator_id
            ), decided AS MATERIALIZED (  -- each figure built once, read by several
                SELECT s.id, COALESCE({summed}, '{{}}') AS vals
                FROM selected s LEFT JOIN k ON k.consolidator_id = s.org_id
            )
            UPDATE reports.report r SET computed = d.vals, summed_at = now(),
                "values" = COALESCE({shown}, '{{}}')
            FROM decided d WHERE r.id = d.id
        """), _params(fam, day, level=level, root=root))


def _shown(computed: str = "r.computed", auto: str = "r.auto"
           ) -> Callable[[Form, Indicator], str]:
    """What a report shows for one indicator, from its `computed` and `entered` figures (the
    expressions name them: an UPDATE may show what it is setting in the same statement)."""
    def value(form: Form, i: Indicator) -> str:
        code = i.code
        if i.mode == "registry":
            return (f"CASE WHEN NOT ({auto}) AND r.entered ? '{code}' "
                    f"THEN r.entered -> '{code}' ELSE ({computed}) -> '{code}' END")
        if i.mode == "manual":
            return f"r.entered -> '{code}'"
        if i.mode == "sum_manual":
            return (f"CASE WHEN ({computed}) ? '{code}' OR r.entered ? '{code}' THEN to_jsonb("
                    f"COALESCE((({computed}) ->> '{code}')::bigint, 0) "
                    f"+ COALESCE((r.entered ->> '{code}')::bigint, 0)) END")
        return f"({computed}) -> '{code}'"
    return value


def combine(session: Session, fam: Family, day: date, ids: list[int] | None = None,
            level: str | None = None, root: str | None = None) -> None:
    """What each selected draft shows: counted or summed figures, what was typed in the
    indicators entered by hand (and in the registry's, where the report is not automatic)."""
    _no_jit(session)
    session.execute(text(f"""
        UPDATE reports.report r SET "values" = COALESCE({_per_form(fam, "r", _shown())}, '{{}}')
        WHERE {_SELECTED}
    """), _params(fam, day, ids, level, root))
