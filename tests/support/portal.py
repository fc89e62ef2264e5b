"""The portal without a browser: a real Keycloak sign-in (authorization code with PKCE) whose
tokens are sealed into the portal's cookies, as its callback would, and the CSRF field of a form.
The browser tests cover the sign-in pages themselves."""

import re

import requests

from tests.conftest import GATEWAY_ADDRESS, PASSWORD
from tests.support.oidc import code_flow

BASE = f"http://{GATEWAY_ADDRESS}"


def portal_cookies(keycloak, user: str, password: str = PASSWORD) -> dict[str, str]:
    """The portal's session cookies of a test user (`chair` is chair@test.reestr; an address
    with an @ is taken as it is)."""
    from gateway.portal.session import box

    username = user if "@" in user else f"{user}@test.reestr"
    tokens = code_flow(keycloak.issuer, "reestr-portal", f"{BASE}/portal/callback", username,
                       password)
    return {"rs_at": box().seal(tokens["access_token"]),
            "rs_rt": box().seal(tokens["refresh_token"])}


def portal_session(keycloak, user: str, password: str = PASSWORD) -> requests.Session:
    http = requests.Session()
    http.cookies.update(portal_cookies(keycloak, user, password))
    return http


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
