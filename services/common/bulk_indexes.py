"""Indexes set aside for an initial bulk load into an empty table, and built again after it.

PostgreSQL builds an index over a loaded table in one sorted pass for a fraction of what it costs
to maintain it row by row during a COPY (its own advice for populating a database). The indexes
are dropped inside the load's transaction, so they come back whether it commits or rolls back,
and readers of the (empty) table wait for the load. Indexes that back a constraint (primary key,
UNIQUE) stay: the load relies on them. The dropping and making again is the schema owner's,
through `services.common.maintenance`.
"""

import logging

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.common import maintenance

log = logging.getLogger(__name__)


def set_aside(session: Session, *tables: str) -> list[str]:
    """Drop the secondary indexes of `tables` ("schema.table"); returns their definitions. If
    some transaction holds a table, nothing is dropped and the load goes the ordinary way."""
    try:
        with session.begin_nested():
            session.execute(text("SET LOCAL lock_timeout = '3s'"))
            dropped = maintenance.set_aside(session, *tables)
            session.execute(text("SET LOCAL lock_timeout = 0"))
    except OperationalError:
        log.info("%s busy: loading with the indexes in place", ", ".join(tables))
        return []
    return [d.statement for d in dropped]


def rebuild(session: Session, *tables: str) -> None:
    """Build the indexes of `tables` set aside again (an IntegrityError means the data broke a
    unique index)."""
    session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    maintenance.restore(session, *tables)
