"""Settings shared by every service, read from the environment with local defaults."""

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # no login in the defaults: every process is given its own (deploy/up.sh, the manifests)
    database_url: str = "postgresql+psycopg://127.0.0.1:5432/reestr"
    amqp_uri: str = "pyamqp://127.0.0.1:5672/reestr"
    db_pool_size: int = 10
    # how often the outbox relay looks for events left unpublished (after a broker outage, say)
    outbox_interval_s: float = 1.0


def settings() -> CommonSettings:
    return CommonSettings()


def nameko_config(**overrides: Any) -> dict[str, Any]:
    """Config for nameko runners and standalone proxies outside `nameko run` (CLI, tests)."""
    import services.common.trust  # noqa: F401  (every message it sends is signed)
    from services.common.serialization import NAMEKO_SERIALIZERS

    return {"AMQP_URI": settings().amqp_uri, "serializer": "orjson",
            "SERIALIZERS": NAMEKO_SERIALIZERS, **overrides}
