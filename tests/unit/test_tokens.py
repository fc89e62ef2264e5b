"""The gateway's token checks, with keys made here (pure unit tests of the checking logic;
the same checks against the real Keycloak are in tests/api/test_sso.py)."""

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from gateway.tokens import KeysUnavailable, TokenRejected, TokenVerifier

ISSUER = "http://127.0.0.1:1/realms/unit"
AUDIENCE = "reestr-api"
PRIVATE = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same id, another key: a forgery


@pytest.fixture
def verifier():
    v = TokenVerifier(ISSUER, AUDIENCE)
    public = RSAKey.import_key(PRIVATE.as_dict(private=False))
    v.realm_keys.keys = {"k1": public}
    v.realm_keys.fetched_at = time.monotonic()  # as if just fetched: no network here
    return v


def token(key=PRIVATE, alg="RS256", kid="k1", **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "u1", "iat": now,
            "exp": now + 300, "typ": "Bearer", "realm_access": {"roles": ["chair"]}} | claims
    return jwt.encode({"alg": alg, "kid": kid}, body, key)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def rejected(verifier, tok) -> str:
    with pytest.raises(TokenRejected) as exc:
        verifier.verify(tok)
    return exc.value.code


def test_valid_token(verifier):
    assert verifier.verify(token())["sub"] == "u1"


# times as offsets from the moment the test runs, not from when the suite was collected (a
# long suite reaches this module well over ten minutes later)
RELATIVE = ("exp", "nbf")


@pytest.mark.parametrize("claims, code", [
    ({"exp": -60}, "token_expired"),
    ({"nbf": 600}, "token_not_yet_valid"),
    ({"aud": "someone-else"}, "token_audience"),
    ({"iss": "http://evil/realms/unit"}, "token_issuer"),
    ({"typ": "ID"}, "token_type"),
    ({"typ": "Refresh"}, "token_type"),
    ({"exp": None}, "token_invalid"),
])
def test_claims_checked(verifier, claims, code):
    now = int(time.time())
    made = {k: now + v if k in RELATIVE and v is not None else v for k, v in claims.items()}
    assert rejected(verifier, token(**made)) == code


def test_forged_signature(verifier):
    assert rejected(verifier, token(key=OTHER)) == "token_invalid"


def test_unknown_key(verifier):
    assert rejected(verifier, token(kid="k2")) == "token_key_unknown"


def test_none_and_symmetric_algorithms(verifier):
    unsigned = b64({"alg": "none", "kid": "k1"}) + "." + b64({"sub": "u1", "typ": "Bearer"}) + "."
    assert rejected(verifier, unsigned) == "token_algorithm"
    hs = jwt.encode({"alg": "HS256", "kid": "k1"}, {"sub": "u1", "typ": "Bearer"},
                    OctKey.import_key("secret-secret-secret-secret-32b!"))
    assert rejected(verifier, hs) == "token_algorithm"


def test_garbage(verifier):
    assert rejected(verifier, "not.a.token") == "token_invalid"
    assert rejected(verifier, "") == "token_invalid"


def test_disabled_subject(verifier):
    verifier.deny("u1")
    assert rejected(verifier, token()) == "account_disabled"


def test_keys_unreachable():
    v = TokenVerifier("http://127.0.0.1:9/realms/none", AUDIENCE)  # nothing listens there
    with pytest.raises(KeysUnavailable):
        v.verify(token())


def test_revoked_subject_refuses_only_tokens_issued_until_then(verifier):
    now = int(time.time())
    old = token(iat=now - 10)
    verifier.revocations.add("subject", "u1", now - 5, now + 300, "account_disabled")
    assert rejected(verifier, old) == "account_disabled"
    assert verifier.verify(token(iat=now))["sub"] == "u1"  # signed in again (re-enabled)
    assert verifier.verify(token(sub="u2", iat=now - 10))["sub"] == "u2"


def test_revoked_session_and_realm(verifier):
    now = int(time.time())
    verifier.revocations.add_all({"revoked": [
        {"kind": "session", "key": "s1", "before": now, "until": now + 300,
         "reason": "signed_out"},
        {"kind": "bogus"}]})  # not understood: skipped, not fatal
    assert rejected(verifier, token(sid="s1", iat=now + 1)) == "signed_out"
    assert verifier.verify(token(sid="s2"))["sub"] == "u1"
    verifier.revocations.add("subject", "*", now, now + 300, "signed_out")
    assert rejected(verifier, token(sub="anyone", iat=now - 1)) == "signed_out"


def test_revocations_lapse_when_their_tokens_have_expired(verifier):
    now = int(time.time())
    verifier.revocations.add("subject", "u1", now, now - 1, "account_disabled")
    assert verifier.verify(token(iat=now - 10))["sub"] == "u1"
    verifier.revocations._purged_at = 0.0
    verifier.revocations.add("session", "other", now, now + 300, "signed_out")
    assert len(verifier.revocations) == 1  # the lapsed one is forgotten


def test_later_revocation_of_a_subject_widens_it(verifier):
    now = int(time.time())
    verifier.revocations.add("subject", "u1", now - 100, now + 100, "account_disabled")
    verifier.revocations.add("subject", "u1", now - 50, now + 200, "signed_out")
    assert rejected(verifier, token(iat=now - 60)) == "signed_out"
    verifier.deny("u1")  # the platform's own disable: everything issued until now
    assert rejected(verifier, token(iat=now)) == "account_disabled"
