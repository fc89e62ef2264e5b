"""Reading the tree: one organization, its subtree and ancestors, search, counts, past states.

Subtree and ancestors are single index lookups on the materialized path (ltree), never a walk.
"""

import re
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import NotFound
from services.common.serialization import jsonable
from services.registry.errors import org_not_found

# what lists show of an organization; the full passport is in PASSPORT_COLUMNS
BRIEF_COLUMNS = ("id, parent_id, level, kind, registry_number, name, region_id, inn, "
                 "territorial_rights, excluded_on")
PASSPORT_COLUMNS = ("id, parent_id, ltree2text(path) AS path, level, kind, registry_number, name, "
                    "region_id, region_code, territorial_rights, legal_entity, ogrn, inn, "
                    "included_on, excluded_on, exclusion_reason, reorganized_into_id, chair, "
                    "education, staff, version, updated_at, updated_by")
BRIEF_KEYS = tuple(c.strip() for c in BRIEF_COLUMNS.split(","))
MAX_PAGE = 10_000


def start_of(day: date) -> datetime:
    """'As of 1 January' means the state at the start of that day (UTC)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def fetch(session: Session, org_id: int, lock: bool = False) -> dict[str, Any]:
    sql = f"SELECT {PASSPORT_COLUMNS} FROM registry.organization WHERE id = :id"
    row = session.execute(text(sql + (" FOR UPDATE" if lock else "")), {"id": org_id}).mappings()
    found = row.first()
    if found is None:
        raise org_not_found(org_id)
    return dict(found)


def get(session: Session, org_id: int) -> dict[str, Any]:
    org = fetch(session, org_id)
    org["ancestors"] = ancestors(session, org_id)[:-1]
    org["children_count"] = session.execute(text(
        "SELECT count(*) FROM registry.organization WHERE parent_id = :id AND excluded_on IS NULL"
    ), {"id": org_id}).scalar_one()
    return jsonable(org)


def subtree(session: Session, org_id: int, include_excluded: bool = False,
            level: str | None = None, limit: int = MAX_PAGE, offset: int = 0) -> dict[str, Any]:
    """The organization and everything beneath it, in tree order, a page at a time.

    Tree order is the dotted path as text: '.' sorts before every digit, so each organization
    comes right before everything beneath it. When the subtree fits in the page (a region:
    about a thousand), it is sorted here: sorting ltree values in PostgreSQL cost more than the
    lookup itself (and building the JSON there, eight times more). Dates stay date objects: the
    wire format writes them as ISO strings.
    """
    limit, offset = min(max(limit, 1), MAX_PAGE), max(offset, 0)
    params = {"id": org_id, "all": include_excluded, "level": level}
    sql = f"""
        WITH root AS (SELECT path FROM registry.organization WHERE id = :id)
        SELECT {_prefixed("o")}, nlevel(o.path) - nlevel(root.path) AS depth,
               ltree2text(o.path) AS sort_path
        FROM registry.organization o, root
        WHERE o.path <@ root.path
          AND (:all OR o.excluded_on IS NULL)
          AND (CAST(:level AS text) IS NULL OR o.level = :level)
    """
    rows: list[Any] = []
    if offset == 0:
        # the driver's cursor directly: SQLAlchemy's row objects cost more than the query here
        with session.connection().connection.driver_connection.cursor() as cur:
            cur.execute(_psycopg(sql + " LIMIT :n"), params | {"n": limit + 1})
            rows = cur.fetchall()
        if not rows:
            fetch(session, org_id)  # tells "not found" apart from "nothing matches"
        rows.sort(key=lambda r: r[-1])  # the same order as ORDER BY ... COLLATE "C" below
    if offset or len(rows) > limit:  # more than a page: let PostgreSQL order and cut it
        page = sql + ' ORDER BY ltree2text(o.path) COLLATE "C" LIMIT :n OFFSET :offset'
        rows = session.execute(text(page), params | {"n": limit, "offset": offset}).all()
        total = session.execute(text(f"SELECT count(*) FROM ({sql}) s"), params).scalar_one()
    else:
        total = len(rows)
    keys = BRIEF_KEYS + ("depth",)
    return {"items": [dict(zip(keys, row, strict=False)) for row in rows], "total": total}


def _psycopg(sql: str) -> str:
    """`:name` parameters (SQLAlchemy's) as psycopg's `%(name)s`."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in BRIEF_COLUMNS.split(","))


def ancestors(session: Session, org_id: int) -> list[dict[str, Any]]:
    """From the Central Council down to the organization itself."""
    rows = session.execute(text(f"""
        SELECT {_prefixed("a")}
        FROM registry.organization o
        JOIN registry.organization a ON a.path @> o.path
        WHERE o.id = :id
        ORDER BY nlevel(a.path)
    """), {"id": org_id}).mappings().all()
    if not rows:
        raise org_not_found(org_id)
    return [jsonable(dict(r)) for r in rows]


def children(session: Session, org_id: int, include_excluded: bool = False) -> list[dict]:
    rows = session.execute(text(f"""
        SELECT {BRIEF_COLUMNS} FROM registry.organization
        WHERE parent_id = :id AND (:all OR excluded_on IS NULL) ORDER BY name
    """), {"id": org_id, "all": include_excluded}).mappings().all()
    return [jsonable(dict(r)) for r in rows]


# the legal form most names begin with: the name index leaves it out (registry migration 0004)
LEGAL_FORM = "Первичная профсоюзная организация "


def _name_has(i: int, word: str) -> str:
    """The condition that the name has word `i`: through the index of the names less the legal
    form, unless the word may lie within the form (a word has no spaces, so it cannot span the
    form's end)."""
    if word.lower() in LEGAL_FORM.lower():
        return f"o.name ILIKE :w{i}"
    return f"registry.name_key(o.name) ILIKE :w{i}"


def search(session: Session, query: str, within: list[int] | None = None,
           level: str | None = None, include_excluded: bool = False,
           limit: int = 50) -> list[dict[str, Any]]:
    """By registry number or INN (exact), else by words of the name; within the subtrees of
    `within` when given."""
    query = query.strip()
    params = {"q": query, "within": within, "level": level, "all": include_excluded,
              "limit": min(max(limit, 1), 500)}
    scope = """
        AND (CAST(:within AS bigint[]) IS NULL OR o.path <@ ANY(ARRAY(
             SELECT path FROM registry.organization WHERE id = ANY(:within))))
        AND (CAST(:level AS text) IS NULL OR o.level = :level)
        AND (:all OR o.excluded_on IS NULL)
    """
    if query.isdigit() and len(query) in (10, 12):
        where = "(o.inn = :q OR o.education ->> 'inn' = :q OR o.registry_number = :q)"
        order = "o.name"
    else:
        exact = session.execute(text(
            f"SELECT {_prefixed('o')} FROM registry.organization o WHERE o.registry_number = :q"
            + scope), params).mappings().all()
        if exact:
            return [jsonable(dict(r)) for r in exact]
        # every word must occur in the name, in any order: «сад Солнышко» finds
        # «Детский сад № 5 «Солнышко»»; each word is a trigram index lookup
        words = [w for w in query.split() if w][:8]
        for i, word in enumerate(words):
            params[f"w{i}"] = "%" + word.replace("%", r"\%").replace("_", r"\_") + "%"
        where = " AND ".join(_name_has(i, word) for i, word in enumerate(words)) or "false"
        order = "similarity(o.name, :q) DESC, o.name"
        # the best plan depends on the words (how many names have each): the generic plan
        # PostgreSQL switches to after five runs of a prepared statement took 100 ms a search
        # in a region instead of 8
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    rows = session.execute(text(
        f"SELECT {_prefixed('o')} FROM registry.organization o WHERE {where} {scope} "
        f"ORDER BY {order} LIMIT :limit"), params).mappings().all()
    return [jsonable(dict(r)) for r in rows]


def counts(session: Session, within: list[int] | None = None) -> list[dict[str, Any]]:
    """Active organizations per region and level (the Central Council counts as no region)."""
    # count first, name the ~85 regions after: joining before grouping cost 100 ms nationally
    rows = session.execute(text("""
        SELECT c.region_id, r.name AS region_name, r.region_code, c.level, c.count
        FROM (SELECT o.region_id, o.level, count(*) AS count
              FROM registry.organization o
              WHERE o.excluded_on IS NULL
                AND (CAST(:within AS bigint[]) IS NULL OR o.path <@ ANY(ARRAY(
                     SELECT path FROM registry.organization WHERE id = ANY(:within))))
              GROUP BY o.region_id, o.level) c
        LEFT JOIN registry.organization r ON r.id = c.region_id
        ORDER BY r.region_code NULLS FIRST, c.level
    """), {"within": within}).mappings().all()
    return [dict(r) for r in rows]


def passport_as_of(session: Session, org_id: int, day: date) -> dict[str, Any]:
    """The passport as it stood at the start of `day`."""
    fetch(session, org_id)
    row = session.execute(text("""
        SELECT version, valid_from, passport FROM registry.organization_version
        WHERE org_id = :id AND valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)
    """), {"id": org_id, "at": start_of(day)}).mappings().first()
    if row is None:
        raise NotFound("org_not_in_registry_on_date",
                       f"Организации {org_id} не было в реестре на {day:%d.%m.%Y}")
    return {"as_of": day.isoformat(), "version": row["version"],
            "valid_from": row["valid_from"].isoformat(), "passport": row["passport"]}


def history(session: Session, org_id: int) -> list[dict[str, Any]]:
    fetch(session, org_id)
    rows = session.execute(text("""
        SELECT version, valid_from, valid_to, change_kind, diff, changed_by, changed_at
        FROM registry.organization_version WHERE org_id = :id ORDER BY version DESC
    """), {"id": org_id}).mappings().all()
    return [jsonable(dict(r)) for r in rows]


def index_rows(session: Session, within: int | None = None, ids: list[int] | None = None,
               after_id: int = 0, limit: int = 20_000) -> list[dict[str, Any]]:
    """What other services keep of each organization in their read models, a page at a time
    in id order: all of them, a subtree, or the ones named."""
    rows = session.execute(text("""
        SELECT o.id, o.parent_id, ltree2text(o.path) AS path, o.level, o.region_id,
               o.registry_number, o.name, o.education ->> 'name' AS education_name,
               o.education ->> 'inn' AS education_inn, o.education ->> 'type' AS education_type,
               o.excluded_on
        FROM registry.organization o
        WHERE o.id > :after
          AND (CAST(:ids AS bigint[]) IS NULL OR o.id = ANY(:ids))
          AND (CAST(:within AS bigint) IS NULL OR o.path <@ (
                SELECT path FROM registry.organization WHERE id = :within))
        ORDER BY o.id LIMIT :limit
    """), {"after": after_id, "ids": ids, "within": within, "limit": limit}).mappings().all()
    return [jsonable(dict(r)) for r in rows]


AS_OF_COLUMNS = ("id", "parent_id", "level", "kind", "territorial_rights", "legal_entity",
                 "name", "registry_number", "region_id", "education_type", "education_inn",
                 "has_chair", "chair_term_until", "chair_has_email", "included_on",
                 "excluded_on")


def as_of(session: Session, day: date | None) -> list[tuple[Any, ...]]:
    """Every organization in the registry at the start of `day` (None: now), as its passport
    stood then (excluded ones too: an exclusion dated before `day` is in that passport). One
    scan of the passport history; the rows follow AS_OF_COLUMNS."""
    rows = session.execute(text("""
        SELECT v.org_id, (p ->> 'parent_id')::bigint, p ->> 'level', p ->> 'kind',
               COALESCE((p ->> 'territorial_rights')::boolean, false),
               COALESCE((p ->> 'legal_entity')::boolean, false),
               p ->> 'name', p ->> 'registry_number', (p ->> 'region_id')::bigint,
               p -> 'education' ->> 'type', p -> 'education' ->> 'inn',
               jsonb_typeof(p -> 'chair') = 'object', p -> 'chair' ->> 'term_until',
               COALESCE(p -> 'chair' ->> 'email', '') <> '', p ->> 'included_on',
               -- an exclusion recorded later may be dated back before `day`
               COALESCE(o.excluded_on::text, p ->> 'excluded_on')
        FROM registry.organization_version v
        JOIN registry.organization o ON o.id = v.org_id, LATERAL (SELECT v.passport AS p) x
        WHERE CASE WHEN CAST(:at AS timestamptz) IS NULL THEN v.valid_to IS NULL
                   ELSE v.valid_from <= :at AND (v.valid_to IS NULL OR v.valid_to > :at) END
    """), {"at": None if day is None else start_of(day)}).all()
    return [tuple(r) for r in rows]
