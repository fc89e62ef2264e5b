"""Partner programmes (PROFCARDS, the student discount programme) as Keycloak clients.

A partner signs a member in through Keycloak (authorization code) and learns only what it needs:
`member_active`, `card_number` and `region`, plus the subject id. No names, e-mail or roles:
the client gets none of the realm's default scopes but `basic`, and no role scope.
"""

import re
from typing import Any

from keycloak import KeycloakAdmin

from services.common.errors import ValidationFailed, field_error
from services.sso.realm import attribute_mapper

PARTNER_CLAIMS = ("member_active", "card_number", "region")
PREFIX = "partner-"


def client_id_for(code: str) -> str:
    if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", code):
        raise ValidationFailed(details=[field_error(
            "code", "partner_code", "Код партнёра: латинские буквы, цифры и дефис")])
    return PREFIX + code


def register(admin: KeycloakAdmin, code: str, name: str,
             redirect_uris: list[str]) -> dict[str, Any]:
    """Create or update the partner's client; returns its client id and secret."""
    client_id = client_id_for(code)
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
        raise ValidationFailed(details=[field_error(
            "name", "partner_name", "Название партнёра: текст до 200 знаков")])
    if not isinstance(redirect_uris, list) or not redirect_uris or not all(
            isinstance(u, str) and re.match(r"^https?://[^\s*]+", u) for u in redirect_uris):
        raise ValidationFailed(details=[field_error(
            "redirect_uris", "redirect_uris", "Нужны адреса возврата вида https://…")])
    body = {
        "clientId": client_id, "name": name, "publicClient": False,
        "clientAuthenticatorType": "client-secret", "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False, "implicitFlowEnabled": False,
        "serviceAccountsEnabled": False, "fullScopeAllowed": False,
        "redirectUris": redirect_uris, "attributes": {"pkce.code.challenge.method": "S256"},
        "defaultClientScopes": ["basic"], "optionalClientScopes": [],
    }
    internal_id = admin.get_client_id(client_id)
    if internal_id is None:
        body["protocolMappers"] = [attribute_mapper(c, id_token=True) for c in PARTNER_CLAIMS]
        internal_id = admin.create_client(body)
    else:
        admin.update_client(internal_id, body)
    # scopes given to every new client by the realm (profile, email, roles…) are taken away
    for scope in admin.get_client_default_client_scopes(internal_id):
        if scope["name"] != "basic":
            admin.delete_client_default_client_scope(internal_id, scope["id"])
    for scope in admin.get_client_optional_client_scopes(internal_id):
        admin.delete_client_optional_client_scope(internal_id, scope["id"])
    secret = admin.get_client_secrets(internal_id)["value"]
    return {"client_id": client_id, "client_secret": secret, "name": name,
            "redirect_uris": redirect_uris}
