"""Indexes set aside for an initial bulk load into an empty table, and built again after it.

PostgreSQL builds an index over a loaded table in one sorted pass for a fraction of what it costs
to maintain it row by row during a COPY (its own advice for populating a database). The indexes
are dropped inside the load's transaction, so they come back whether it commits or rolls back,
and readers of the (empty) table wait for the load. Indexes that back a constraint (primary key,
UNIQUE) stay: the load relies on them.
"""

import logging

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def set_aside(session: Session, *tables: str) -> list[str]:
    """Drop the secondary indexes of `tables` ("schema.table"); returns their definitions. If
    some transaction holds a table, nothing is dropped and the load goes the ordinary way."""
    defs = session.execute(text("""
        SELECT n.nspname || '.' || i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE x.indrelid = ANY(CAST(:tables AS regclass[]))
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
    """), {"tables": list(tables)}).all()
    try:
        with session.begin_nested():
            session.execute(text("SET LOCAL lock_timeout = '3s'"))
            for name, _ in defs:
                session.execute(text(f"DROP INDEX {name}"))
            session.execute(text("SET LOCAL lock_timeout = 0"))
    except OperationalError:
        log.info("%s busy: loading with the indexes in place", ", ".join(tables))
        return []
    return [d for _, d in defs]


def rebuild(session: Session, defs: list[str]) -> None:
    """Build the indexes again (an IntegrityError means the data broke a unique index)."""
    if defs:
        session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for sql in defs:
            session.execute(text(sql))
