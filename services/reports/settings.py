"""Reports' settings, from the environment with local defaults."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # every check of data quality runs over the whole union this often (and on demand)
    quality_interval_s: float = 6 * 3600


def reports_settings() -> ReportsSettings:
    return ReportsSettings()
