"""Gateway settings, from the environment (prefix GATEWAY_).

Rate limits are written as the `limits` library parses them: "10/minute", "5 per 15 minutes",
several joined with ";" ("10/minute;30/hour"), each counted in a sliding window.
"""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # the public join form: per client address, and per person applied for (SNILS or name and
    # date of birth), so that nobody tries the register person by person
    rate_join_address: str = "10/minute;60/hour"
    rate_join_target: str = "5/hour"
    # the portal's sign-in start and its return from Keycloak (the password itself is typed on
    # Keycloak's page, whose brute-force protection counts per account)
    rate_signin_address: str = "30/minute;300/hour"
    # a chair transferring a member in by id and date of birth: per address and per member
    rate_transfer_address: str = "20/minute;100/hour"
    rate_transfer_target: str = "5/15 minutes;20/day"
    # registering a person answers "already registered elsewhere" for existing people
    rate_register_address: str = "60/minute;1000/hour"
    rate_register_target: str = "10/hour"
    # other public look-ups whose answer differs for existing records (an application's
    # status by its id)
    rate_lookup_address: str = "60/minute;600/hour"
    # how many proxies in front of the gateway append to X-Forwarded-For (0: none, the TCP
    # peer is the client); the client is the address that many hops from the right
    trusted_proxies: int = 0
    # the largest file the library takes through the gateway (its service's own limits by kind
    # of material are lower for documents)
    library_max_upload_mb: int = 4096


@lru_cache(maxsize=1)
def gateway_settings() -> GatewaySettings:
    return GatewaySettings()
