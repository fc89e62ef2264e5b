"""The signed-in session of the portal, kept in the browser as encrypted cookies.

The gateway holds no session state of its own (any instance serves any request): the access and
refresh tokens sit in HttpOnly cookies sealed with Fernet (cryptography), the access token is
checked on every request exactly as the JSON API checks a bearer token, and an expired one is
renewed with the refresh token. A form posted into a session that cannot be renewed is kept as
a sealed draft for an hour, and typed back into the same form after sign-in by the same person:
the draft names the account whose (expired) session cookies came with the post, and only a
session of that account reads it back. A cross-site post carries no session cookie (they are
SameSite=Lax), so it plants no draft.
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from werkzeug.wrappers import Request, Response

from gateway.identity import caller_from_claims, verifier
from gateway.portal import oidc
from gateway.portal.settings import portal_settings
from gateway.tokens import TokenRejected
from services.common.caller import Caller
from services.sso.settings import sso_settings

ACCESS, REFRESH, LOGIN, DRAFT, FLASH = "rs_at", "rs_rt", "rs_login", "rs_draft", "rs_flash"
LOGIN_TTL_S = 900
MAX_DRAFT_BYTES = 2500  # a cookie holds 4 KB; a larger form is not kept
SESSION_MAX_AGE_S = 12 * 3600  # the cookie's life; Keycloak's own session ends earlier


class Box:
    """Seals small JSON values into cookie text and opens them again (Fernet: AES + HMAC)."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self.fernet = Fernet(key)

    def seal(self, value: Any) -> str:
        return self.fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, text: str | None, ttl: int | None = None) -> Any:
        if not text:
            return None
        try:
            return json.loads(self.fernet.decrypt(text.encode(), ttl=ttl))
        except (InvalidToken, ValueError):
            return None


_box: Box | None = None


def box() -> Box:
    global _box
    if _box is None:
        _box = Box(portal_settings().secret)
    return _box


@dataclass
class PortalSession:
    caller: Caller | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    draft: dict[str, str] | None = None
    flash: str | None = None
    flash_bad: bool = False  # a refusal, shown as one (not in the green box)
    to_set: dict[str, tuple[str, int]] = field(default_factory=dict)
    to_delete: set[str] = field(default_factory=set)

    @property
    def signed_in(self) -> bool:
        return self.caller is not None

    @property
    def csrf(self) -> str:
        """Bound to the Keycloak session: a form from another session does not pass. Keyed by
        a secret of its own (PORTAL_CSRF_SECRET): neither the cookies' key nor anything a
        token carries gives it."""
        seed = f"{self.claims.get('sub') or ''}|{self.claims.get('sid') or ''}"
        return hmac.new(portal_settings().csrf_secret.encode(), seed.encode(),
                        hashlib.sha256).hexdigest()[:32]

    @property
    def name(self) -> str:
        full = " ".join(x for x in (self.claims.get("given_name"), self.claims.get("family_name"))
                        if x)
        return full or (self.caller.user if self.caller else "")

    def keep_tokens(self, tokens: dict[str, Any]) -> None:
        self.to_set[ACCESS] = (box().seal(tokens["access_token"]), SESSION_MAX_AGE_S)
        self.to_set[REFRESH] = (box().seal(tokens["refresh_token"]), SESSION_MAX_AGE_S)

    def forget(self) -> None:
        self.to_delete.update((ACCESS, REFRESH))
        self.caller, self.claims = None, {}

    def set_flash(self, message: str, bad: bool = False) -> None:
        self.to_set[FLASH] = (box().seal({"m": message, "bad": bad} if bad else message), 120)

    def keep_draft(self, path: str, form: dict[str, str], owner: str) -> None:
        """Keep a form for `owner` (the account whose expired session posted it)."""
        sealed = box().seal({"path": path, "fields": form, "owner": owner})
        if len(sealed) <= MAX_DRAFT_BYTES:
            self.to_set[DRAFT] = (sealed, portal_settings().draft_ttl_s)

    def apply(self, response: Response) -> Response:
        secure = sso_settings().portal_url.startswith("https://")
        for name in self.to_delete - set(self.to_set):
            response.delete_cookie(name, path="/", httponly=True, samesite="Lax", secure=secure)
        for name, (value, max_age) in self.to_set.items():
            response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                                samesite="Lax", secure=secure)
        return response


def _verified(access_token: str | None) -> dict[str, Any] | None:
    if not access_token:
        return None
    try:
        return verifier().verify(access_token)
    except TokenRejected:
        return None


def load(request: Request) -> PortalSession:
    """The session the request's cookies carry, renewed with the refresh token when the access
    token has expired. Raises oidc.KeycloakAway when a renewal is needed and Keycloak is down,
    and gateway.tokens.KeysUnavailable when the realm's keys cannot be had."""
    session = PortalSession()
    cookies = request.cookies
    claims = _verified(box().open(cookies.get(ACCESS)))
    if claims is None:
        refresh_token = box().open(cookies.get(REFRESH))
        if refresh_token:
            try:
                tokens = oidc.refresh(refresh_token)
                claims = _verified(tokens.get("access_token"))
                if claims is not None:
                    session.keep_tokens(tokens)
            except oidc.SignInFailed:
                claims = None
        if claims is None and (cookies.get(ACCESS) or cookies.get(REFRESH)):
            session.forget()
    if claims is not None:
        session.claims = claims
        session.caller = caller_from_claims(claims, request.remote_addr or "")
    if FLASH in cookies:  # shown (and then deleted) by the next page that renders
        flash = box().open(cookies.get(FLASH))
        if isinstance(flash, dict):
            session.flash, session.flash_bad = str(flash.get("m") or ""), bool(flash.get("bad"))
        else:
            session.flash = flash
    if request.method == "GET" and DRAFT in cookies and session.signed_in:
        draft = box().open(cookies.get(DRAFT), ttl=portal_settings().draft_ttl_s)
        if isinstance(draft, dict) and draft.get("path") == request.path:
            if draft.get("owner") and draft.get("owner") == claims.get("sub"):
                session.draft = draft.get("fields") or {}
            session.to_delete.add(DRAFT)  # someone else's draft is dropped unread
    return session


def expired_owner(request: Request) -> str | None:
    """The account whose session cookies came with this request, even expired: the cookies
    are sealed with the portal's key, so their tokens are the ones Keycloak gave us (their
    signature was checked when they were kept). None when no such cookie came."""
    for name in (ACCESS, REFRESH):
        token = box().open(request.cookies.get(name))
        claims = _claims_unchecked(token) if isinstance(token, str) else None
        if claims and isinstance(claims.get("sub"), str) and claims["sub"]:
            return claims["sub"]
    return None


def _claims_unchecked(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


HOME = "/portal/home"
# characters a path and query keep as they are; anything else (Cyrillic, say) is %-encoded
_URL_SAFE = "/?=&%#:;,+@!$'()*~-._[]"


def safe_next(target: str | None) -> str:
    """Where to go back to after sign-in: a path of this site, or the portal's home.

    Refused: anything that is not a plain absolute path (`//host`, `/\\host`, `https:…`,
    `javascript:…`), and any control, space or separator character, which browsers drop or
    turn into a slash (`/\t/evil.example` is `//evil.example` to them) and which a Location
    header cannot carry."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return HOME
    if target.startswith("//") or "\\" in target:
        return HOME
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return HOME
    return quote(target, safe=_URL_SAFE)
