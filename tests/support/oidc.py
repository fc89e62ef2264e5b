"""Signing in through Keycloak's real login page, as a browser would (authorization code with
PKCE): used by tests and by the single sign-on benchmark."""

import base64
import hashlib
import html
import json
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import requests


def code_flow(issuer: str, client_id: str, redirect_uri: str, username: str, password: str,
              client_secret: str | None = None) -> dict:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    state = secrets.token_urlsafe(12)
    browser = requests.Session()
    page = browser.get(f"{issuer}/protocol/openid-connect/auth?" + urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "openid", "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256"}), timeout=30)
    page.raise_for_status()
    action = re.search(r'<form[^>]+id="kc-form-login"[^>]+action="([^"]+)"', page.text)
    if action is None:
        raise RuntimeError("no login form: " + page.text[:300])
    # Keycloak marks its cookies Secure; browsers still send them to http://127.0.0.1 (a
    # trustworthy origin), requests does not: send them by hand
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    answer = requests.post(html.unescape(action.group(1)), headers={"Cookie": cookies},
                           data={"username": username, "password": password},
                           allow_redirects=False, timeout=30)
    location = answer.headers.get("Location", "")
    query = parse_qs(urlparse(location).query)
    if "code" not in query or query.get("state") != [state]:
        raise RuntimeError(f"sign-in refused ({answer.status_code}): "
                           f"{location or answer.text[:300]}")
    data = {"grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier}
    if client_secret:
        data["client_secret"] = client_secret
    tokens = requests.post(f"{issuer}/protocol/openid-connect/token", data=data, timeout=30)
    tokens.raise_for_status()
    return tokens.json()


def refresh(issuer: str, client_id: str, refresh_token: str,
            client_secret: str | None = None) -> dict:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if client_secret:
        data["client_secret"] = client_secret
    r = requests.post(f"{issuer}/protocol/openid-connect/token", data=data, timeout=30)
    r.raise_for_status()
    return r.json()


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims(token: str) -> dict:
    """The payload of a JWT, unverified: for looking at what a partner receives."""
    return _segment(token, 1)


def header(token: str) -> dict:
    return _segment(token, 0)
