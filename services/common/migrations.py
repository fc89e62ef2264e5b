"""Alembic wiring shared by the services: each service keeps its own history in its own schema,
and its migrations run as the schema's owner (services.common.db_roles).

Either `MIGRATE_DATABASE_URL_<SERVICE>` logs in as the owner itself (roles and schema made
beforehand, e.g. by a DBA or an earlier `reestr migrate`), or the admin login of `DATABASE_URL`
(owner of the database, CREATEROLE) makes the roles and grants and runs the migrations after
`SET ROLE <owner>`, granting again after them.
"""

import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text

from services.common import db_roles
from services.common.settings import settings

SERVICES_DIR = Path(__file__).resolve().parent.parent


def migrate_url_env(service: str) -> str:
    return f"MIGRATE_DATABASE_URL_{service.upper()}"


def config(service: str, url: str | None = None, role: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or settings().database_url).replace("%", "%%"))
    cfg.attributes["schema"] = service
    cfg.attributes["role"] = role
    return cfg


def apply_roles(url: str, services: tuple[str, ...]) -> None:
    """The roles of `services` as db_roles makes them, with the passwords of the environment
    (PG_<SERVICE>_PASSWORD, PG_<SERVICE>_OWNER_PASSWORD) where set."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            db_roles.apply(conn, services, db_roles.passwords_from_env(database, services))
    finally:
        engine.dispose()


def upgrade(service: str, url: str | None = None) -> None:
    """To the head of `service`'s history: through MIGRATE_DATABASE_URL_<SERVICE> when set (and
    no `url` is given), else as the owner role through the admin login of `url` or
    DATABASE_URL."""
    own = os.environ.get(migrate_url_env(service))
    if own and url is None:
        command.upgrade(config(service, own), "head")
        return
    admin = url or settings().database_url
    apply_roles(admin, (service,))
    owner = db_roles.roles(make_url(admin).database, service).owner
    command.upgrade(config(service, admin, owner), "head")
    apply_roles(admin, (service,))  # again: the audit log's revokes on what they made


def run_env(schema: str) -> None:
    """Body of every service's migrations/env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    role = context.config.attributes.get("role")
    engine = create_engine(url)
    with engine.connect() as conn:
        if role:  # everything the migrations make belongs to the owner
            conn.execute(text(f'SET ROLE "{role}"'))
        conn.commit()
        context.configure(connection=conn, version_table_schema=schema,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
