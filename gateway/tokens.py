"""Checking Keycloak access tokens locally, against the realm's published keys (joserfc).

Accepted: RS256 signatures by a key of the realm's JWKS, the realm as issuer, the API among the
audiences, not expired and already valid, and of type Bearer (ID and refresh tokens are refused
even though Keycloak signs them too). The keys are fetched once and kept for KEY_TTL_S; an
unknown key id refetches them (at most every REFETCH_S), which is how a key rotation is picked up
without a restart, while forged key ids cannot make the gateway hammer Keycloak.

Revoked tokens: an account disabled, deleted or signed out (through the platform or in Keycloak's
own console; the sso service watches Keycloak's events) is refused before its tokens expire. An
entry names a subject (or "*", the whole realm) and refuses the tokens issued up to a second
(`iat`), or names a session (`sid`); it lapses once every token it could refuse has expired, so
an account enabled again, or signed in again, works with its new tokens.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingAlgorithmError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet, RSAKey

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
LEEWAY_S = 5
REFETCH_S = 2.0
KEY_TTL_S = 300.0

CLAIM_ERRORS = {
    "nbf": ("token_not_yet_valid", "Токен ещё не действителен"),
    "iat": ("token_not_yet_valid", "Токен ещё не действителен"),
    "aud": ("token_audience", "Токен выдан не для этого API"),
    "iss": ("token_issuer", "Токен выдан чужим сервером входа"),
    "typ": ("token_type", "Нужен токен доступа (access token)"),
}


class TokenRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Revoked:
    before: int   # tokens issued at or before this second (Keycloak's iat) are refused
    until: float  # epoch second after which every such token has expired anyway
    reason: str   # REVOCATION_REASONS key


REVOCATION_REASONS = {
    "account_disabled": "Учётная запись заблокирована",
    "signed_out": "Сеанс завершён: войдите снова",
}
ALL_SUBJECTS = "*"


class Revocations:
    """What a gateway refuses besides expired tokens: by subject and by session, each entry
    forgotten at its `until` (kept small however many people sign out in a day)."""

    def __init__(self) -> None:
        self._subjects: dict[str, Revoked] = {}
        self._sessions: dict[str, Revoked] = {}
        self._lock = threading.Lock()
        self._purged_at = 0.0

    def add(self, kind: str, key: str, before: int, until: float, reason: str) -> None:
        if reason not in REVOCATION_REASONS:
            reason = "signed_out"
        entry = Revoked(int(before), float(until), reason)
        table = self._sessions if kind == "session" else self._subjects
        with self._lock:
            old = table.get(key)
            if old is not None:  # the later event's reason, the wider reach
                entry = Revoked(max(old.before, entry.before), max(old.until, entry.until),
                                entry.reason if entry.before >= old.before else old.reason)
            table[key] = entry
        self._purge()

    def add_all(self, payload: dict[str, Any]) -> None:
        """A `tokens_revoked` event or the sso service's snapshot."""
        for item in payload.get("revoked") or ():
            try:
                self.add(str(item["kind"]), str(item["key"]), int(item["before"]),
                         float(item["until"]), str(item.get("reason", "signed_out")))
            except (KeyError, TypeError, ValueError):
                log.warning("revocation not understood: %r", item)

    def refusal(self, claims: dict[str, Any]) -> str | None:
        """The reason these claims are refused, or None."""
        now = time.time()
        iat = claims.get("iat")
        issued = int(iat) if isinstance(iat, int | float) else 0
        for entry in (self._subjects.get(str(claims.get("sub"))),
                      self._subjects.get(ALL_SUBJECTS)):
            if entry is not None and now < entry.until and issued <= entry.before:
                return entry.reason
        sid = claims.get("sid")
        entry = self._sessions.get(str(sid)) if sid else None
        if entry is not None and now < entry.until:
            return entry.reason
        return None

    def __len__(self) -> int:
        return len(self._subjects) + len(self._sessions)

    def _purge(self) -> None:
        now = time.time()
        if now - self._purged_at < 10:
            return
        with self._lock:
            self._purged_at = now
            for table in (self._subjects, self._sessions):
                for key in [k for k, v in table.items() if v.until <= now]:
                    del table[key]


class KeysUnavailable(Exception):
    """The realm's keys could not be fetched (Keycloak down and the key not kept)."""


@dataclass
class RealmKeys:
    """The realm's public keys by key id, refetched on an unknown id or after KEY_TTL_S."""

    jwks_url: str
    keys: dict[str, RSAKey] = field(default_factory=dict)
    fetched_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _fetch(self) -> None:
        try:
            answer = requests.get(self.jwks_url, timeout=5)
            answer.raise_for_status()
            keyset = KeySet.import_key_set(answer.json())
        except (requests.RequestException, ValueError, JoseError) as exc:
            raise KeysUnavailable(str(exc)) from None
        self.keys = {k.kid: k for k in keyset.keys
                     if isinstance(k, RSAKey) and k.kid and k.get("use", "sig") == "sig"}
        self.fetched_at = time.monotonic()

    def get(self, kid: str) -> RSAKey:
        key = self.keys.get(kid)
        age = time.monotonic() - self.fetched_at
        if key is not None and age < KEY_TTL_S:
            return key
        with self.lock:
            if kid not in self.keys and age < REFETCH_S and self.fetched_at:
                raise TokenRejected("token_key_unknown", "Токен подписан неизвестным ключом")
            try:
                self._fetch()
            except KeysUnavailable:
                if key is not None:
                    return key  # Keycloak is away: keep trusting what it published
                raise
        if kid not in self.keys:
            raise TokenRejected("token_key_unknown", "Токен подписан неизвестным ключом")
        return self.keys[kid]


@dataclass
class TokenVerifier:
    issuer: str
    audience: str

    def __post_init__(self) -> None:
        self.realm_keys = RealmKeys(f"{self.issuer}/protocol/openid-connect/certs")
        self.claims = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S, iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience}, exp={"essential": True},
            iat={"essential": True}, sub={"essential": True},
            typ={"essential": True, "value": "Bearer"})
        self.revocations = Revocations()

    def deny(self, subject: str, before: int | None = None, until: float | None = None,
             reason: str = "account_disabled") -> None:
        """Refuse the subject's tokens issued up to `before` (default: now) until `until`
        (default: a day, longer than any access token lives)."""
        now = time.time()
        self.revocations.add("subject", subject, int(now if before is None else before),
                             now + 86_400 if until is None else until, reason)

    def _key_for(self, token: Any) -> RSAKey:
        return self.realm_keys.get(str(token.headers().get("kid") or ""))

    def verify(self, token: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, self._key_for, algorithms=ALGORITHMS)
            self.claims.validate(decoded.claims)
        except (UnsupportedAlgorithmError, MissingAlgorithmError):
            raise TokenRejected("token_algorithm",
                                "Токен подписан недопустимым алгоритмом") from None
        except BadSignatureError:
            raise TokenRejected("token_invalid", "Подпись токена не сходится") from None
        except ExpiredTokenError:
            raise TokenRejected("token_expired", "Срок действия токена истёк: войдите снова"
                                ) from None
        except InvalidClaimError as exc:
            code, message = CLAIM_ERRORS.get(exc.claim, ("token_invalid",
                                                         "Токен доступа недействителен"))
            raise TokenRejected(code, message) from None
        except (JoseError, ValueError, TypeError, KeyError):  # malformed or a claim missing
            raise TokenRejected("token_invalid", "Токен доступа недействителен") from None
        claims = decoded.claims
        reason = self.revocations.refusal(claims)
        if reason is not None:
            raise TokenRejected(reason, REVOCATION_REASONS[reason])
        return claims
