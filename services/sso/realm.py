"""The realm, its clients and roles, provisioned from code; running it again changes nothing.

Clients:
- `reestr-portal`: the web portal, authorization code with PKCE (S256), public;
- `reestr-cli`: the operator's command line and scripted sign-ins, password grant, public;
- `reestr-api`: the API itself, no sign-in of its own: it is the audience the others' access
  tokens are issued for;
- partner programmes: added one by one by `partners.register`.
Tokens of the first two carry the API audience, the realm roles and `org_ids`, the
organizations a user acts for: a user attribute only administrators can edit.

Brute-force protection locks an account for minutes, never for good: the username is a chair's
e-mail, which anyone can type, so a permanent lockout would let anyone shut a chair out. Keycloak
stores its admin and users' events (services.sso.revocations reads them to tell the gateways
about accounts disabled or signed out in Keycloak's own console).
"""

from email.utils import parseaddr
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError

from services.common.roles import ROLES
from services.sso.clients import API_CLIENT, CLI_CLIENT, PORTAL_CLIENT
from services.sso.settings import SsoSettings


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
         # Keycloak's own pages (a used or expired invitation link) link back here, to the
         # sign-in page whose «Забыли пароль?» sends a new link
         "baseUrl": f"{portal}/portal/login", "webOrigins": [portal],
         "attributes": {"pkce.code.challenge.method": "S256",
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
# put back on every provisioning: temporary lockouts only (Keycloak 26's realm fields)
BRUTE_FORCE: dict[str, Any] = {
    "bruteForceProtected": True,
    "permanentLockout": False,
    "maxTemporaryLockouts": 0,          # 0: temporary lockouts without end, never permanent
    "bruteForceStrategy": "MULTIPLE",   # the wait grows with each round of failures...
    "failureFactor": 10,                # ...of ten failures in a row
    "waitIncrementSeconds": 60,
    "maxFailureWaitSeconds": 900,       # ...up to fifteen minutes at most
    "maxDeltaTimeSeconds": 43_200,      # failures are forgotten after twelve hours
    "quickLoginCheckMilliSeconds": 1000,
    "minimumQuickLoginWaitSeconds": 60,
}
# the event types the revocation feed needs stored (others the realm's administrator chose stay)
STORED_EVENT_TYPES = ("LOGOUT", "LOGIN")  # LOGIN: the account states (who signed in)
EVENTS_EXPIRATION_S = 7 * 86_400


def event_store_changes(current: dict[str, Any]) -> dict[str, Any]:
    """What to change in a realm representation so that users' events (LOGOUT) and admin
    events with their representations are stored, with an expiry when none is set. An empty
    list of event types is Keycloak's default set, which has LOGOUT: left as it is."""
    wanted: dict[str, Any] = {k: True for k in ("eventsEnabled", "adminEventsEnabled",
                                                "adminEventsDetailsEnabled")
                              if current.get(k) is not True}
    types = list(current.get("enabledEventTypes") or [])
    if types and any(t not in types for t in STORED_EVENT_TYPES):
        wanted["enabledEventTypes"] = types + [t for t in STORED_EVENT_TYPES if t not in types]
    if not current.get("eventsExpiration"):
        wanted["eventsExpiration"] = EVENTS_EXPIRATION_S
    attributes = current.get("attributes") or {}
    if not attributes.get("adminEventsExpiration"):
        wanted["attributes"] = {**attributes, "adminEventsExpiration": str(EVENTS_EXPIRATION_S)}
    return wanted


def ensure_event_store(admin: KeycloakAdmin) -> None:
    realm = admin.connection.realm_name
    changes = event_store_changes(admin.get_realm(realm))
    if changes:
        admin.update_realm(realm, changes)


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
            "revokeRefreshToken": False, **BRUTE_FORCE,
        }, skip_exists=True)
    admin.update_realm(realm, realm_settings(conf))
    current = admin.get_realm(realm)
    if any(current.get(k) != v for k, v in BRUTE_FORCE.items()):
        admin.update_realm(realm, BRUTE_FORCE)
    ensure_event_store(admin)
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
