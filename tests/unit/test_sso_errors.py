"""Keycloak being away reaches callers as a clear, retryable error (no Keycloak needed)."""

import pytest
from keycloak.exceptions import KeycloakConnectionError

from services.common.errors import Unavailable
from services.sso.keycloak import admin_client
from services.sso.service import keycloak_call
from services.sso.settings import SsoSettings


def test_connection_error_becomes_503():
    def down():
        raise KeycloakConnectionError("refused")

    with pytest.raises(Unavailable) as exc:
        keycloak_call(down)
    assert exc.value.status == 503
    assert exc.value.code == "identity_provider_unavailable"
    assert "недоступен" in exc.value.message


def test_admin_calls_to_a_stopped_keycloak():
    conf = SsoSettings(keycloak_url="http://127.0.0.1:9")  # nothing listens there
    admin = admin_client(conf)
    with pytest.raises(Unavailable):
        keycloak_call(admin.get_realm, conf.keycloak_realm)
