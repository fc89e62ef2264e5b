"""Members counted per organization as of a date, for the statistical reports.

A member counts in an organization on day D when they had joined by D, were not removed by D,
and were placed there on D (the current placement on the member row, earlier ones in
`placement`). The category is the one the card had at the end of D (`member_version` keeps
earlier states; a card entered after D counts as first entered). One pass over the register
with set-based SQL: the reports service asks once per reporting date, never once per
organization.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# what each count means is the reports' concern (their form definitions name these keys)
COUNTS: dict[str, str] = {
    "members": "true",
    "women": "sex = 'female'",
    "youth": "birth_date > :young_since",
    "working": "category = 'working'",
    "teachers": "category = 'working' AND job_category = 'teacher'",
    "young_teachers": "category = 'working' AND job_category = 'teacher' "
                      "AND birth_date > :young_since",
    "heads": "category = 'working' AND job_category = 'head'",
    "support_staff": "category = 'working' AND job_category = 'support_staff'",
    "other_staff": "category = 'working' AND (job_category = 'other' OR job_category IS NULL)",
    "students": "category = 'student'",
    "pensioners": "category = 'pensioner'",
    "category_not_given": "category = 'not_given'",
    "joined_in_year": "joined_on > :year_before",
    "joined_online": "source = 'online'",
}

# each member's row is read once: the current placement from the row itself, earlier ones
# (transfers) from `placement` joined to it
_SQL = """
WITH earlier AS (
    -- the card as it stood at the end of the day where it changed since: the first state still
    -- valid then (a card entered after the day, for someone who had joined by then, counts as
    -- first entered)
    SELECT DISTINCT ON (member_id) member_id, card ->> 'category' AS category,
           card ->> 'job_category' AS job_category
    FROM membership.member_version
    WHERE valid_to > :until
    ORDER BY member_id, version
), placed AS (
    SELECT m.org_id, m.id, m.sex, m.birth_date, m.joined_on, m.source, m.category,
           m.job_category
    FROM membership.member m
    WHERE m.org_since <= :day AND m.joined_on <= :day
      AND (m.removed_on IS NULL OR m.removed_on > :day) {org_filter}
    UNION ALL
    SELECT p.org_id, m.id, m.sex, m.birth_date, m.joined_on, m.source, m.category,
           m.job_category
    FROM membership.placement p JOIN membership.member m ON m.id = p.member_id
    WHERE p.since <= :day AND p.until > :day AND m.joined_on <= :day
      AND (m.removed_on IS NULL OR m.removed_on > :day) {placement_filter}
), facts AS (
    SELECT pl.org_id, pl.sex, pl.birth_date, pl.joined_on, pl.source,
           COALESCE(e.category, pl.category) AS category,
           CASE WHEN e.member_id IS NULL THEN pl.job_category ELSE e.job_category END
               AS job_category
    FROM placed pl LEFT JOIN earlier e ON e.member_id = pl.id
)
SELECT org_id, {columns} FROM facts GROUP BY org_id ORDER BY org_id
"""


def as_of(session: Session, day: date, org_ids: list[int] | None = None
          ) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows): one row per organization with anyone registered on `day`."""
    columns = ", ".join(f"count(*) FILTER (WHERE {cond}) AS {name}"
                        for name, cond in COUNTS.items())
    sql = _SQL.format(
        columns=columns,
        org_filter="AND m.org_id = ANY(:orgs)" if org_ids is not None else "",
        placement_filter="AND p.org_id = ANY(:orgs)" if org_ids is not None else "")
    rows = session.execute(text(sql), {
        "day": day, "until": f"{day.isoformat()} 23:59:59.999999+00", "orgs": org_ids,
        "young_since": _years_before(day, 35), "year_before": _years_before(day, 1)}).all()
    return ["org_id", *COUNTS], [tuple(r) for r in rows]


def _years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def bad_emails(session: Session, emails: list[str]) -> dict[str, int]:
    """Members on the register whose e-mail the relay refuses, by organization (keys as text:
    JSON objects have them so). One statement over the whole register: addresses compared as
    notify keeps them (lower case, trimmed)."""
    if not emails:
        return {}
    rows = session.execute(text("""
        SELECT m.org_id, count(*) FROM membership.member m
        WHERE m.removed_on IS NULL AND m.email IS NOT NULL
          AND lower(btrim(m.email)) = ANY(CAST(:e AS text[]))
        GROUP BY m.org_id
    """), {"e": sorted({e.strip().lower() for e in emails})}).all()
    return {str(org): int(n) for org, n in rows}
