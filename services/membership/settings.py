"""Membership's settings, from the environment with local defaults."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class MembershipSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # an application nobody has decided reminds the chair after this long, and again as often
    application_remind_after_h: float = 72
    # and is closed as not decided in time after this long; the applicant may apply again
    application_expire_after_d: float = 30
    application_sweep_s: float = 600
    # a transfer in from outside one's scope (member id + date of birth): refused tries per
    # member allowed within the window before the look-up answers 429 for that member
    transfer_lookup_limit: int = 5
    transfer_lookup_window_s: float = 3600
    # how often transfer requests a region lets through after its period are looked for
    transfer_sweep_s: float = 600
    # how often the read model of the registry's tree is reconciled in full
    org_reconcile_s: float = 3600
    # a person's copy of their data: this many within the window, then 429 (issue 29)
    data_copy_limit: int = 5
    data_copy_window_s: float = 86400
    # how often retention erases and reduces what is past its term
    retention_interval_s: float = 3600


def membership_settings() -> MembershipSettings:
    return MembershipSettings()
