"""Cards' settings, from the environment with local defaults (the object store deploy/up.sh
starts: S3Proxy on the local file system)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class CardsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    card_prefix: str = "77"  # the union's issuer prefix, the first two digits of every number
    s3_endpoint: str = "http://127.0.0.1:9100"
    s3_access_key: str = ""
    s3_secret_key: str = ""  # no usable default: given by the deploy
    s3_region: str = "us-east-1"
    cards_bucket: str = "reestr-cards"
    # requested cards are collected into one batch per region this often (and on demand)
    batch_interval_s: float = 3600
    # the bucket is read for the vendor's responses this often
    response_poll_s: float = 30
    # a card delivered to an organization but not handed out reminds the chair after this long
    handout_remind_after_d: float = 14
    remind_sweep_s: float = 3600


def cards_settings() -> CardsSettings:
    return CardsSettings()
