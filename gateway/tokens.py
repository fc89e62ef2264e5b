"""Checking Keycloak access tokens locally, against the realm's published keys.

Accepted: RS256 signatures by a key of the realm's JWKS (fetched once and cached; an unknown key
id triggers one refetch, which is how a key rotation is picked up without a restart), the realm
as issuer, the API among the audiences, not expired and already valid, and of type Bearer (ID
and refresh tokens are refused even though Keycloak signs them too).
"""

import logging
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
LEEWAY_S = 5
REFETCH_S = 2.0


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
                                cache_keys=True, max_cached_keys=16, lifespan=3600, timeout=5,
                                cooldown_duration=REFETCH_S)
        self.denied_subjects: set[str] = set()
        self._lock = threading.Lock()

    def deny(self, subject: str) -> None:
        with self._lock:
            self.denied_subjects.add(subject)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected("token_malformed", "Токен доступа повреждён") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected("token_algorithm", "Токен подписан недопустимым алгоритмом")
        try:
            key = self.jwks.get_signing_key(header.get("kid") or "")
        except PyJWKClientConnectionError:
            raise KeysUnavailable() from None
        except PyJWKClientError:
            raise TokenRejected("token_key_unknown", "Токен подписан неизвестным ключом") from None
        try:
            claims = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience,
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
        except jwt.InvalidTokenError:
            raise TokenRejected("token_invalid", "Токен доступа недействителен") from None
        if claims.get("typ") != "Bearer":
            raise TokenRejected("token_type", "Нужен токен доступа (access token)")
        if claims["sub"] in self.denied_subjects:
            raise TokenRejected("account_disabled", "Учётная запись заблокирована")
        return claims
