"""The organizations' secondary indexes, set aside while a big load writes and built again after.

Building an index over the loaded rows costs PostgreSQL less than adding 75,000 rows to it one by
one (the trigram index of the names most: some 4 s of the COPY against under 3 s to build). The
indexes are dropped and built again inside the load's transaction, so a load that fails or a
process that dies leaves them as they were, and the load returns with them built and valid. The
price: from the drop to the commit the table is locked against readers too, so only a load that
at least doubles the registry does it, and only if it gets the lock at once; otherwise it writes
into the indexes as they are.
"""

import logging

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TABLE = "registry.organization"
BIG_LOAD = 5_000  # rows; below this the indexes take the rows faster than they are rebuilt
LOCK_WAIT = "1s"  # a load waits no longer for readers (and readers queue behind its wait)
LOCK_REFUSED = ("55P03", "40P01")  # lock_not_available, deadlock_detected


def worth_rebuilding(session: Session, adding: int) -> bool:
    """A big load that at least doubles the table: rebuilding beats adding row by row."""
    if adding < BIG_LOAD:
        return False
    existing = session.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    return adding >= existing


def set_aside(session: Session) -> list[str]:
    """Drop the table's plain secondary indexes (not the keys and unique ones, which guard the
    data) and return their definitions; none if another transaction holds the table."""
    previous = session.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            session.execute(text(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE"))
            found = session.execute(text("""
                SELECT c.relname, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = CAST(:table AS regclass)
                  AND NOT i.indisunique AND NOT i.indisprimary
                ORDER BY c.relname
            """), {"table": TABLE}).all()
            for name, _ in found:
                session.execute(text(f'DROP INDEX registry."{name}"'))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) not in LOCK_REFUSED:
            raise
        log.info("%s is in use: the load writes into its indexes", TABLE)
        return []
    # a released savepoint keeps its SET LOCAL: the rest of the load waits as it did before
    session.execute(text("SELECT set_config('lock_timeout', :previous, true)"),
                    {"previous": previous})
    return [definition for _, definition in found]


def rebuild(session: Session, definitions: list[str]) -> None:
    for definition in definitions:
        session.execute(text(definition))
