"""The connection to Keycloak's admin API (python-keycloak), one place to build it."""

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

from services.sso.settings import SsoSettings


def admin_client(conf: SsoSettings, realm: str | None = None) -> KeycloakAdmin:
    connection = KeycloakOpenIDConnection(
        server_url=conf.keycloak_url, username=conf.keycloak_admin_user,
        password=conf.keycloak_admin_password, realm_name=realm or conf.keycloak_realm,
        user_realm_name="master", client_id="admin-cli", verify=True, timeout=30)
    return KeycloakAdmin(connection=connection)
