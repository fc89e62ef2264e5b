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
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.common import maintenance

log = logging.getLogger(__name__)

TABLE = "registry.organization"
VERSIONS = "registry.organization_version"  # its rows come with the organizations
BIG_LOAD = 5_000  # rows; below this the indexes take the rows faster than they are rebuilt
LOCK_WAIT = "1s"  # a load waits no longer for readers (and readers queue behind its wait)
LOCK_REFUSED = ("55P03", "40P01")  # lock_not_available, deadlock_detected
# checking each row's foreign key costs a lookup per row; one join checks them all when the
# constraint is added back, before commit
FOREIGN_KEYS = True


def worth_rebuilding(session: Session, adding: int) -> bool:
    """A big load that at least doubles the table: rebuilding beats adding row by row."""
    if adding < BIG_LOAD:
        return False
    existing = session.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    return adding >= existing


@dataclass
class SetAside:
    """What a big load dropped, as the statements that make it again (the schema's owner keeps
    its own copy and runs that): the organizations' own indexes, built as soon as the
    organizations are in, and the rest (the versions' index, then the foreign keys), once the
    versions are in too."""

    organizations: list[str]
    rest: list[str]


def _drop(session: Session) -> SetAside:
    """Drop the plain secondary indexes (not the keys and unique ones, which guard the data) and
    the foreign keys of both tables."""
    dropped = maintenance.set_aside(session, TABLE, VERSIONS, keep_unique=True,
                                    foreign_keys=FOREIGN_KEYS)
    own = [d.statement for d in dropped if d.kind == "i" and d.table == TABLE]
    return SetAside(own, [d.statement for d in dropped if d.kind == "i" and d.table != TABLE]
                    + [d.statement for d in dropped if d.kind == "f"])


def set_aside(session: Session) -> SetAside | None:
    """Set the indexes and foreign keys aside for the load; none if another transaction holds
    either table."""
    previous = session.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            session.execute(text(f"LOCK TABLE {TABLE}, {VERSIONS} IN ACCESS EXCLUSIVE MODE"))
            dropped = _drop(session)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) not in LOCK_REFUSED:
            raise
        log.info("%s is in use: the load writes into its indexes", TABLE)
        return None
    # a released savepoint keeps its SET LOCAL: the rest of the load waits as it did before
    session.execute(text("SELECT set_config('lock_timeout', :previous, true)"),
                    {"previous": previous})
    return dropped


def rebuild_organizations(session: Session) -> None:
    """The organizations' own indexes, while the versions are still coming."""
    maintenance.restore(session, TABLE, foreign_keys=False)


def rebuild_rest(session: Session) -> None:
    """The rest, in order: indexes before the foreign keys, whose check joins through them."""
    maintenance.restore(session, TABLE, VERSIONS, foreign_keys=True)


def analyze(session: Session) -> None:
    """Statistics for the indexes a big load built again: the name index's expression has none
    until ANALYZE, and a search planned without them took 300 ms in a national region instead
    of 10 (autovacuum would gather them within a minute or so)."""
    maintenance.analyze(session, TABLE)
