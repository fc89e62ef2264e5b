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


def secure_master_admin(conf: SsoSettings, recovery: tuple[str, str] | None = None) -> str:
    """Make the master realm's administrator the configured one. When the configured login is
    refused, the first of `recovery` (a temporary admin made by `kc.sh bootstrap-admin`) and the
    well-known admin/admin that logs in sets the configured one up and is then deleted.
    Returns what was found: "ours" or "replaced"."""
    if _admin_login_ok(conf):
        return "ours"
    candidates = [c for c in (recovery, WELL_KNOWN_ADMIN) if c]
    for user, password in candidates:
        other = conf.model_copy(update={"keycloak_admin_user": user,
                                        "keycloak_admin_password": password})
        if not _admin_login_ok(other):
            continue
        old = admin_client(other, "master")
        user_id = old.create_user({
            "username": conf.keycloak_admin_user, "enabled": True,
            "credentials": [{"type": "password", "value": conf.keycloak_admin_password,
                             "temporary": False}]}, exist_ok=True)
        old.set_user_password(user_id, conf.keycloak_admin_password, temporary=False)
        old.assign_realm_roles(user_id, [old.get_realm_role("admin")])
        ours = admin_client(conf, "master")
        ours.delete_user(ours.get_user_id(user))
        return "replaced"
    raise RuntimeError(f"Keycloak at {conf.keycloak_url} refuses {conf.keycloak_admin_user}"
                       " and every recovery login")


def _admin_login_ok(conf: SsoSettings) -> bool:
    from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

    try:
        admin_client(conf, "master").get_realm("master")
        return True
    except (KeycloakAuthenticationError, KeycloakPostError) as exc:
        if getattr(exc, "response_code", 401) not in (400, 401):
            raise  # not a refused login (invalid_grant): said as it is
        return False
