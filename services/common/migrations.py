"""Alembic wiring shared by the services: each service keeps its own history in its own schema."""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, text

from services.common.settings import settings

SERVICES_DIR = Path(__file__).resolve().parent.parent


def config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or settings().database_url).replace("%", "%%"))
    cfg.attributes["schema"] = service
    return cfg


def upgrade(service: str, url: str | None = None) -> None:
    command.upgrade(config(service, url), "head")


def run_env(schema: str) -> None:
    """Body of every service's migrations/env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        conn.commit()
        context.configure(connection=conn, version_table_schema=schema,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
