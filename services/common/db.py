"""Database access for services: an engine per container and an explicit unit of work per change.

The transaction commits inside the entrypoint (not in `worker_result`), because nameko sends the RPC
reply before tearing the worker down: a commit failing after the reply would be a change the caller
believes accepted and which is lost.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from services.common.errors import Unavailable
from services.common.settings import settings

# psycopg 3's C wait function blocks the whole eventlet hub; the selector-based one yields.
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")


def database_url(service: str | None = None) -> str:
    """The service's own login, `DATABASE_URL_<SERVICE>` (DATABASE_URL_MEMBERSHIP: its runtime
    role, see services.common.db_roles), when set; else `DATABASE_URL`."""
    own = os.environ.get(f"DATABASE_URL_{service.upper()}") if service else None
    return own or settings().database_url


def make_engine(url: str | None = None, pool_size: int | None = None,
                service: str | None = None) -> Engine:
    """An engine on `url`, or else on the service's database URL (`database_url`)."""
    conf = settings()
    return create_engine(
        url or database_url(service),
        pool_size=pool_size or conf.db_pool_size,
        max_overflow=5,
        pool_pre_ping=True,  # a restarted PostgreSQL leaves dead connections in the pool
    )


def database_away(exc: BaseException) -> bool:
    """The server went away or is restarting (not a bad statement): worth retrying."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


@contextmanager
def retryable_when_away() -> Iterator[None]:
    """A database restarting under a request is a 503 the client may retry, not a 500."""
    try:
        yield
    except DBAPIError as exc:
        if not database_away(exc):
            raise
        raise Unavailable("database_unavailable",
                          "База данных временно недоступна, повторите запрос позже") from exc


class Db:
    """What a worker gets: a transaction to change things, a session to read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with retryable_when_away(), Session(self.engine) as session, session.begin():
            yield session

    @contextmanager
    def alone(self, job: str) -> Iterator[bool]:
        """Whether this instance runs a periodic job now. Every replica of a service runs its
        timers; a job that must run once at a time (collecting batches, applying the vendor's
        files, a sweep, the national quality run) goes to the replica that gets a session
        advisory lock, held on its own connection for the block (a dead replica's connection
        closes and frees it); the others skip this turn."""
        with retryable_when_away(), self.engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:j))"),
                               {"j": job}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(hashtext(:j))"), {"j": job})
                    conn.commit()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with retryable_when_away(), Session(self.engine) as session:
            try:
                yield session
            finally:
                session.rollback()


class Database(DependencyProvider):
    def setup(self) -> None:
        self.engine = make_engine(service=self.container.service_name)

    def stop(self) -> None:
        self.engine.dispose()

    def kill(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx) -> Db:
        return Db(self.engine)
