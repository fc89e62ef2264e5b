"""Portal settings, from the environment (prefix PORTAL_).

The two secrets have no default: a gateway without them refuses to start (`require_secrets`,
run when the gateway's container starts). `deploy/up.sh` generates them; tests set them.
"""

from functools import lru_cache

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 32
# published in earlier versions of this repository: a cookie sealed with it is anyone's
KNOWN_SECRETS = frozenset({"local-development-secret-change-me"})


class MissingSecret(RuntimeError):
    """The portal's secrets are not set (or are too short, reused or published)."""


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    # seals the portal's cookies (tokens, drafts, flash); every gateway instance needs the same
    secret: str
    # keys the forms' CSRF tokens: a secret of its own, so that neither a cookie's key nor a
    # token's claims give a token
    csrf_secret: str
    # how long a form typed into an expired session is kept for after sign-in
    draft_ttl_s: int = 3600
    page_size: int = 50

    @model_validator(mode="after")
    def _usable(self) -> "PortalSettings":
        for name, value in (("PORTAL_SECRET", self.secret),
                            ("PORTAL_CSRF_SECRET", self.csrf_secret)):
            if len(value) < MIN_SECRET_CHARS or value in KNOWN_SECRETS:
                raise ValueError(f"{name} must be a random value of at least "
                                 f"{MIN_SECRET_CHARS} characters")
        if self.secret == self.csrf_secret:
            raise ValueError("PORTAL_SECRET and PORTAL_CSRF_SECRET must differ")
        return self


@lru_cache(maxsize=1)
def portal_settings() -> PortalSettings:
    try:
        return PortalSettings()
    except ValidationError as exc:
        problems = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") if e["type"] != "missing"
            else f"PORTAL_{str(e['loc'][0]).upper()} is not set" for e in exc.errors())
        raise MissingSecret(
            f"The portal's secrets are not usable: {problems}. Generate them (deploy/up.sh "
            "does: python -c 'import secrets; print(secrets.token_urlsafe(32))') and give the "
            "same values to every gateway instance.") from None


def require_secrets() -> None:
    """Raises MissingSecret when the secrets are missing or unusable."""
    portal_settings()
