"""Portal settings, from the environment with local defaults."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    # encrypts the portal's cookies (tokens, drafts); every gateway instance needs the same one
    secret: str = "local-development-secret-change-me"
    # how long a form typed into an expired session is kept for after sign-in
    draft_ttl_s: int = 3600
    page_size: int = 50


@lru_cache(maxsize=1)
def portal_settings() -> PortalSettings:
    return PortalSettings()
