"""The realm, its clients and roles, provisioned from code; running it again changes nothing.

Clients:
- `reestr-portal`: the web portal, authorization code with PKCE (S256), public;
- `reestr-cli`: the operator's command line and scripted sign-ins, password grant, public;
- `reestr-api`: the API itself, no sign-in of its own: it is the audience the others' access
  tokens are issued for;
- partner programmes: added one by one by `partners.register`.
Tokens of the first two carry the API audience, the realm roles and `org_ids`, the
organizations a user acts for: a user attribute only administrators can edit.
"""

from email.utils import parseaddr
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError

from services.common.roles import ROLES
from services.sso.settings import SsoSettings

API_CLIENT = "reestr-api"
PORTAL_CLIENT = "reestr-portal"
CLI_CLIENT = "reestr-cli"


def attribute_mapper(attribute: str, claim: str | None = None, multivalued: bool = False,
                     id_token: bool = False, json_type: str = "String") -> dict[str, Any]:
    return {
        "name": claim or attribute, "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {"user.attribute": attribute, "claim.name": claim or attribute,
                   "jsonType.label": json_type, "multivalued": str(multivalued).lower(),
                   "access.token.claim": "true", "id.token.claim": str(id_token).lower(),
                   "userinfo.token.claim": str(id_token).lower(),
                   "introspection.token.claim": "true"},
    }


AUDIENCE_MAPPER = {
    "name": "api-audience", "protocol": "openid-connect",
    "protocolMapper": "oidc-audience-mapper",
    "config": {"included.client.audience": API_CLIENT, "access.token.claim": "true",
               "id.token.claim": "false", "introspection.token.claim": "true"},
}
FIRST_PARTY_MAPPERS = [AUDIENCE_MAPPER, attribute_mapper("org_ids", multivalued=True)]


def clients(conf: SsoSettings) -> list[dict[str, Any]]:
    portal = conf.portal_url.rstrip("/")
    return [
        {"clientId": API_CLIENT, "name": "Единый реестр: API", "publicClient": False,
         "bearerOnly": False, "standardFlowEnabled": False, "directAccessGrantsEnabled": False,
         "serviceAccountsEnabled": False, "implicitFlowEnabled": False},
        {"clientId": PORTAL_CLIENT, "name": "Единый реестр: портал", "publicClient": True,
         "standardFlowEnabled": True, "directAccessGrantsEnabled": False,
         "implicitFlowEnabled": False, "redirectUris": [f"{portal}/*"],
         "webOrigins": [portal], "attributes": {"pkce.code.challenge.method": "S256",
                                                "post.logout.redirect.uris": f"{portal}/*"},
         "protocolMappers": FIRST_PARTY_MAPPERS},
        {"clientId": CLI_CLIENT, "name": "Единый реестр: командная строка",
         "publicClient": True, "standardFlowEnabled": False,
         "directAccessGrantsEnabled": True, "implicitFlowEnabled": False,
         "protocolMappers": FIRST_PARTY_MAPPERS},
    ]


def smtp_server(conf: SsoSettings) -> dict[str, str]:
    """Keycloak's mail settings, from the variables notify reads too."""
    name, address = parseaddr(conf.mail_from)
    server = {"host": conf.smtp_host, "port": str(conf.smtp_port), "from": address,
              "fromDisplayName": name, "starttls": str(conf.smtp_starttls).lower(),
              "ssl": "false", "auth": str(bool(conf.smtp_user)).lower()}
    if conf.smtp_user:
        server |= {"user": conf.smtp_user, "password": conf.smtp_password}
    return server


def realm_settings(conf: SsoSettings) -> dict[str, Any]:
    """What is put back at every provisioning: sign-in in Russian, «Забыли пароль?», the
    address confirmed, Keycloak's e-mails through the platform's mail server."""
    return {"displayName": "Единый реестр Профсоюза", "internationalizationEnabled": True,
            "supportedLocales": ["ru", "en"], "defaultLocale": "ru",
            "registrationAllowed": False, "resetPasswordAllowed": True,
            "verifyEmail": conf.keycloak_verify_email, "loginWithEmailAllowed": True,
            "smtpServer": smtp_server(conf)}


def provision(admin: KeycloakAdmin, conf: SsoSettings) -> None:
    """Create what is missing and put back what drifted (`admin` works in the realm)."""
    realm = conf.keycloak_realm
    try:
        admin.get_realm(realm)
    except KeycloakGetError:
        admin.create_realm({
            "realm": realm, "enabled": True, "displayName": "Единый реестр Профсоюза",
            "internationalizationEnabled": True, "supportedLocales": ["ru", "en"],
            "defaultLocale": "ru", "registrationAllowed": False,
            "accessTokenLifespan": conf.access_token_lifespan_s,
            "revokeRefreshToken": False, "bruteForceProtected": True,
        }, skip_exists=True)
    admin.update_realm(realm, realm_settings(conf))
    # org_ids and the member attributes are the platform's: users must not edit them
    profile = admin.get_realm_users_profile()
    if profile.get("unmanagedAttributePolicy") != "ADMIN_EDIT":
        admin.update_realm_users_profile({**profile, "unmanagedAttributePolicy": "ADMIN_EDIT"})
    for name, description in ROLES.items():
        admin.create_realm_role({"name": name, "description": description}, skip_exists=True)
    for client in clients(conf):
        internal_id = admin.get_client_id(client["clientId"])
        if internal_id is None:
            admin.create_client(client, skip_exists=True)
        else:  # keep redirect addresses and flags as the code says
            admin.update_client(internal_id, {k: v for k, v in client.items()
                                              if k != "protocolMappers"})
