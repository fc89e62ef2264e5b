"""The gateway's token checks, with keys made here (pure unit tests of the checking logic;
the same checks against the real Keycloak are in tests/api/test_token_checks.py)."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK

from gateway.tokens import KeysUnavailable, TokenRejected, TokenVerifier

ISSUER = "http://127.0.0.1:1/realms/unit"
AUDIENCE = "reestr-api"


def keypair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private, private.public_key()


PRIVATE, PUBLIC = keypair()
OTHER_PRIVATE, _ = keypair()


class FixedKeys:
    """Stands for the JWKS client: one known key id."""

    def get_signing_key(self, kid):
        if kid != "k1":
            from jwt.exceptions import PyJWKClientError
            raise PyJWKClientError("unknown kid")
        return PyJWK.from_dict({**jwt.algorithms.RSAAlgorithm.to_jwk(PUBLIC, as_dict=True),
                                "kid": "k1", "alg": "RS256"})


@pytest.fixture
def verifier():
    v = TokenVerifier(ISSUER, AUDIENCE)
    v.jwks = FixedKeys()
    return v


def token(key=PRIVATE, alg="RS256", kid="k1", **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "u1", "iat": now,
            "exp": now + 300, "typ": "Bearer", "realm_access": {"roles": ["chair"]}} | claims
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def rejected(verifier, tok) -> str:
    with pytest.raises(TokenRejected) as exc:
        verifier.verify(tok)
    return exc.value.code


def test_valid_token(verifier):
    assert verifier.verify(token())["sub"] == "u1"


@pytest.mark.parametrize("claims, code", [
    ({"exp": int(time.time()) - 60}, "token_expired"),
    ({"nbf": int(time.time()) + 600}, "token_not_yet_valid"),
    ({"aud": "someone-else"}, "token_audience"),
    ({"iss": "http://evil/realms/unit"}, "token_issuer"),
    ({"typ": "ID"}, "token_type"),
    ({"typ": "Refresh"}, "token_type"),
])
def test_claims_checked(verifier, claims, code):
    assert rejected(verifier, token(**claims)) == code


def test_missing_expiry_refused(verifier):
    tok = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "iat": 1, "typ": "Bearer"},
                     PRIVATE, algorithm="RS256", headers={"kid": "k1"})
    assert rejected(verifier, tok) == "token_invalid"


def test_forged_signature(verifier):
    assert rejected(verifier, token(key=OTHER_PRIVATE)) == "token_invalid"


def test_unknown_key(verifier):
    assert rejected(verifier, token(kid="k2")) == "token_key_unknown"


def test_none_and_symmetric_algorithms(verifier):
    unsigned = jwt.encode({"sub": "u1", "typ": "Bearer"}, None, algorithm="none",
                          headers={"kid": "k1"})
    assert rejected(verifier, unsigned) == "token_algorithm"
    hs = jwt.encode({"sub": "u1", "typ": "Bearer"}, "secret-secret-secret-secret-32b!",
                    algorithm="HS256", headers={"kid": "k1"})
    assert rejected(verifier, hs) == "token_algorithm"


def test_garbage(verifier):
    assert rejected(verifier, "not.a.token") == "token_malformed"


def test_disabled_subject(verifier):
    verifier.deny("u1")
    assert rejected(verifier, token()) == "account_disabled"


def test_keys_unreachable():
    v = TokenVerifier("http://127.0.0.1:9/realms/none", AUDIENCE)  # nothing listens there
    with pytest.raises(KeysUnavailable):
        v.verify(token())
