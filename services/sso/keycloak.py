"""The connection to Keycloak's admin API (python-keycloak), one place to build it."""

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

from services.sso.settings import SsoSettings


def admin_client(conf: SsoSettings, realm: str | None = None) -> KeycloakAdmin:
    connection = KeycloakOpenIDConnection(
        server_url=conf.keycloak_url, username=conf.keycloak_admin_user,
        password=conf.keycloak_admin_password, realm_name=realm or conf.keycloak_realm,
        user_realm_name="master", client_id="admin-cli", verify=True, timeout=30)
    return KeycloakAdmin(connection=connection)


WELL_KNOWN_ADMIN = ("admin", "admin")  # what a Keycloak started by hand, or by an older deploy, has


def secure_master_admin(conf: SsoSettings) -> str:
    """Make the master realm's administrator the configured one: a Keycloak whose master admin
    is still the well-known admin/admin gets the configured login instead, and loses that one.
    Returns what was found: "ours" or "replaced"."""
    from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

    try:
        admin_client(conf, "master").get_realm("master")
        return "ours"
    except (KeycloakAuthenticationError, KeycloakPostError) as exc:
        if getattr(exc, "response_code", 401) not in (400, 401):
            raise  # not a refused login (invalid_grant): said as it is
    well_known = conf.model_copy(update={"keycloak_admin_user": WELL_KNOWN_ADMIN[0],
                                         "keycloak_admin_password": WELL_KNOWN_ADMIN[1]})
    old = admin_client(well_known, "master")  # raises if neither login works: said as it is
    user_id = old.create_user({
        "username": conf.keycloak_admin_user, "enabled": True,
        "credentials": [{"type": "password", "value": conf.keycloak_admin_password,
                         "temporary": False}]}, exist_ok=True)
    old.set_user_password(user_id, conf.keycloak_admin_password, temporary=False)
    old.assign_realm_roles(user_id, [old.get_realm_role("admin")])
    ours = admin_client(conf, "master")
    ours.delete_user(ours.get_user_id(WELL_KNOWN_ADMIN[0]))
    return "replaced"
