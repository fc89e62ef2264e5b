"""Checking Keycloak access tokens locally, against the realm's published keys.

Accepted: RS256 signatures by a key of the realm's JWKS (fetched once and cached; an unknown key
id triggers one refetch, which is how a key rotation is picked up without a restart), the realm
as issuer, the API among the audiences, not expired and already valid, and of type Bearer (ID
and refresh tokens are refused even though Keycloak signs them too).
"""

import binascii
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError
from jwt.utils import base64url_decode

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
LEEWAY_S = 5
REFETCH_S = 2.0
KEY_TTL_S = 300.0


class TokenRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class KeysUnavailable(Exception):
    """The realm's keys could not be fetched (Keycloak down and the key not cached)."""


@dataclass
class TokenVerifier:
    issuer: str
    audience: str

    def __post_init__(self) -> None:
        # an unknown key id refetches the keys at most every REFETCH_S: a rotated key is
        # picked up within seconds, and forged key ids cannot make us hammer Keycloak
        self.jwks = PyJWKClient(f"{self.issuer}/protocol/openid-connect/certs",
                                cache_keys=True, max_cached_keys=16, lifespan=KEY_TTL_S, timeout=5,
                                cooldown_duration=REFETCH_S)
        self._keys: dict[str, tuple[Any, float]] = {}  # kid -> (public key, when fetched)
        self.denied_subjects: set[str] = set()
        self._lock = threading.Lock()

    def deny(self, subject: str) -> None:
        with self._lock:
            self.denied_subjects.add(subject)

    def _key(self, kid: str) -> Any:
        """The public key for `kid`, kept for KEY_TTL_S: a key Keycloak withdraws stops being
        trusted within minutes, and while Keycloak is down the kept keys still work."""
        key, fetched = self._keys.get(kid, (None, 0.0))
        if key is None or time.monotonic() - fetched > KEY_TTL_S:
            try:
                key = self.jwks.get_signing_key(kid).key
            except PyJWKClientConnectionError:
                if key is None:
                    raise KeysUnavailable() from None
                return key  # Keycloak is away: keep trusting what it published
            except PyJWKClientError:
                self._keys.pop(kid, None)
                raise TokenRejected("token_key_unknown",
                                    "Токен подписан неизвестным ключом") from None
            self._keys[kid] = (key, time.monotonic())
        return key

    def verify(self, token: str) -> dict[str, Any]:
        # Only the header is read here, to choose the key; PyJWT then checks the whole token.
        # (jwt.get_unverified_header would parse and validate every segment a second time,
        # which was half the cost of a check.)
        try:
            header = json.loads(base64url_decode(token.split(".", 1)[0].encode("ascii")))
        except (ValueError, UnicodeError, TypeError, binascii.Error):
            raise TokenRejected("token_malformed", "Токен доступа повреждён") from None
        if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
            raise TokenRejected("token_algorithm", "Токен подписан недопустимым алгоритмом")
        key = self._key(str(header.get("kid") or ""))
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token_expired", "Срок действия токена истёк: войдите снова"
                                ) from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token_not_yet_valid", "Токен ещё не действителен") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("token_audience", "Токен выдан не для этого API") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token_issuer", "Токен выдан чужим сервером входа") from None
        except jwt.InvalidTokenError:  # a bad signature, a missing claim, a malformed body
            raise TokenRejected("token_invalid", "Токен доступа недействителен") from None
        if claims.get("typ") != "Bearer":
            raise TokenRejected("token_type", "Нужен токен доступа (access token)")
        if claims["sub"] in self.denied_subjects:
            raise TokenRejected("account_disabled", "Учётная запись заблокирована")
        return claims
