"""The portal's side of Keycloak: the authorization-code flow with PKCE, refresh and sign-out.

The browser signs in on Keycloak's own page; the gateway exchanges the code for tokens
server-side and keeps them in encrypted cookies (session.py), so no token is ever visible to
scripts in the page.
"""

import base64
import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from services.sso.clients import PORTAL_CLIENT
from services.sso.settings import sso_settings

CALLBACK_PATH = "/portal/callback"
TIMEOUT_S = 10


class SignInFailed(Exception):
    """Keycloak refused the code or the refresh token (expired, revoked, reused)."""


class KeycloakAway(Exception):
    """Keycloak did not answer."""


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    verifier: str


def _endpoint(name: str) -> str:
    return f"{sso_settings().issuer}/protocol/openid-connect/{name}"


def redirect_uri() -> str:
    return sso_settings().portal_url.rstrip("/") + CALLBACK_PATH


def start_login() -> LoginStart:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    url = _endpoint("auth") + "?" + urlencode({
        "client_id": PORTAL_CLIENT, "redirect_uri": redirect_uri(), "response_type": "code",
        "scope": "openid", "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256", "ui_locales": "ru"})
    return LoginStart(url, state, verifier)


def _token_request(data: dict[str, str]) -> dict:
    try:
        answer = requests.post(_endpoint("token"), data={"client_id": PORTAL_CLIENT, **data},
                               timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise KeycloakAway(str(exc)) from None
    if answer.status_code >= 500:
        raise KeycloakAway(f"token endpoint: {answer.status_code}")
    if answer.status_code != 200:
        raise SignInFailed(answer.text[:200])
    return answer.json()


def exchange_code(code: str, verifier: str) -> dict:
    return _token_request({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": redirect_uri(), "code_verifier": verifier})


def refresh(refresh_token: str) -> dict:
    return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})


def end_session(refresh_token: str) -> None:
    """Ends the Keycloak session itself, so the next sign-in asks for the password again."""
    # on failure the cookies go anyway; the Keycloak session ends at its idle timeout
    with contextlib.suppress(requests.RequestException):
        requests.post(_endpoint("logout"), data={"client_id": PORTAL_CLIENT,
                                                 "refresh_token": refresh_token},
                      timeout=TIMEOUT_S)
