"""Single sign-on settings, from the environment with local defaults."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class SsoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    keycloak_url: str = "http://127.0.0.1:8080"
    keycloak_realm: str = "reestr"
    # the sso service's alone (no usable default: given by the deploy)
    keycloak_admin_user: str = ""
    keycloak_admin_password: str = ""
    # where the portal lives: its sign-in redirects must come back here
    portal_url: str = "http://127.0.0.1:8000"
    access_token_lifespan_s: int = 300
    # accounts for the chairs named in a loaded file, right after the load; a national load
    # may rather be followed by `provision_chairs` at a quiet hour
    accounts_on_import: bool = True
    # Keycloak's own e-mails (invitations, password reset, verification) go through the same
    # mail server as notify's: the same variables
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = "Единый реестр Профсоюза <noreply@reestr.local>"
    # an invitation's link (set a password, confirm the address) works this many days
    invitation_lifespan_d: float = 7
    # accounts the platform makes one at a time get their invitation at once
    invite_new_accounts: bool = True
    # the address is confirmed before the first sign-in
    keycloak_verify_email: bool = True
    # how often Keycloak's events are read for accounts disabled or signed out in its console
    revocation_poll_s: float = 2.0

    @property
    def issuer(self) -> str:
        return f"{self.keycloak_url}/realms/{self.keycloak_realm}"


def sso_settings() -> SsoSettings:
    return SsoSettings()
