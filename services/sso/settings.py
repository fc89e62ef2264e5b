"""Single sign-on settings, from the environment with local defaults."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class SsoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    keycloak_url: str = "http://127.0.0.1:8080"
    keycloak_realm: str = "reestr"
    keycloak_admin_user: str = "admin"
    keycloak_admin_password: str = "admin"
    # where the portal lives: its sign-in redirects must come back here
    portal_url: str = "http://127.0.0.1:8000"
    access_token_lifespan_s: int = 300
    # accounts for the chairs named in a loaded file, right after the load; a national load
    # may rather be followed by `provision_chairs` at a quiet hour
    accounts_on_import: bool = True
    # how often Keycloak's events are read for accounts disabled or signed out in its console
    revocation_poll_s: float = 2.0

    @property
    def issuer(self) -> str:
        return f"{self.keycloak_url}/realms/{self.keycloak_realm}"


def sso_settings() -> SsoSettings:
    return SsoSettings()
