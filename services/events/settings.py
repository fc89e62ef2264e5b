"""The events service's settings, from the environment."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class EventsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # links in announcements point here (the same PORTAL_URL as notify's)
    portal_url: str = "http://127.0.0.1:8000"


@lru_cache
def events_settings() -> EventsSettings:
    return EventsSettings()
