"""Search in Russian: PostgreSQL's `russian` configuration stems both the text and the query
(«взносы» finds «взносов»). Matches come from the whole vector (title, topics, description and
the file's text, under a GIN index); they are ranked by ts_rank over the small vector of title
(above) and topics and description, then newest first: a match in the title or the description
before one in the file's text alone (ranking by the whole vector read every match's TOASTed
kilobytes). A snippet from ts_headline for the page's rows only.
Filters: kind, topic, audience, publication date. Only what the reader may read is looked at.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.library.materials import COLUMNS

HEADLINE = ("StartSel=«, StopSel=», MaxWords=30, MinWords=12, MaxFragments=2, "
            "FragmentDelimiter=\" … \"")
# ts_headline reads the whole text it is given: the snippet comes from this much of it
HEADLINE_CHARS = 100_000


def search(session: Session, visible: tuple[str, dict[str, Any]], q: str = "",
           kind: str | None = None, topic: str | None = None, audience: str | None = None,
           since: date | None = None, until: date | None = None, limit: int = 20,
           offset: int = 0, event_id: int | None = None) -> dict[str, Any]:
    condition, params = visible
    where = [condition]
    params = {**params, "q": q, "limit": limit, "offset": offset}
    if q:
        where.append("m.search @@ query")
    if kind:
        where.append("m.kind = :kind")
        params["kind"] = kind
    if topic:
        where.append("m.topics @> ARRAY[CAST(:topic AS text)]")
        params["topic"] = topic.strip().lower()
    if audience:
        where.append("m.audiences @> ARRAY[CAST(:audience AS text)]")
        params["audience"] = audience
    if since:
        where.append("m.created_at >= :since")
        params["since"] = since
    if until:
        where.append("m.created_at < CAST(:until AS date) + 1")
        params["until"] = until
    if event_id is not None:
        where.append("m.event_id = :event_id")
        params["event_id"] = event_id
    filters = " AND ".join(f"({w})" for w in where)
    order = "rank DESC, m.id DESC" if q else "m.created_at DESC, m.id DESC"
    rows = session.execute(text(f"""
        WITH query AS (SELECT websearch_to_tsquery('russian', :q) AS query),
        page AS (
            SELECT m.id, {"ts_rank(m.search_rank, query)" if q else "0"} AS rank,
                   count(*) OVER () AS total
            FROM library.material m, query
            WHERE {filters}
            ORDER BY {order} LIMIT :limit OFFSET :offset
        )
        SELECT {COLUMNS}, page.rank, page.total,
               {f"ts_headline('russian', m.title || '. ' || m.description || ' ' || "
                f"left(m.body, {HEADLINE_CHARS}), query, '{HEADLINE}')"
                if q else "left(m.description, 300)"} AS snippet
        FROM page JOIN library.material m ON m.id = page.id, query
        ORDER BY {order.replace("rank", "page.rank")}
    """), params).mappings().all()
    total = int(rows[0]["total"]) if rows else 0
    return {"total": total, "items": [{k: v for k, v in r.items() if k != "total"}
                                      for r in rows]}


def naive(session: Session, q: str, limit: int = 20) -> list[int]:
    """The baseline the bench compares with: ILIKE over title, description and text, no
    morphology, no index."""
    return list(session.execute(text("""
        SELECT id FROM library.material
        WHERE title ILIKE :p OR description ILIKE :p OR body ILIKE :p
        ORDER BY created_at DESC LIMIT :limit
    """), {"p": f"%{q}%", "limit": limit}).scalars())
