"""Accounts of chairs, staff and members, kept in step with the registry and membership.

A person's account is found by their e-mail (the username). The organizations they act for are
the `org_ids` attribute, and their kind of rights a realm role: when a passport names a new chair,
the new chair gains the organization and the role, the old one loses them (and the role itself
once they act for no organization), and the old one's sessions end.
"""

from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakPostError, KeycloakPutError

from services.common.roles import AIS_RESPONSIBLE, CHAIR, MEMBER, REGIONAL_STAFF
from services.sso.realm import PORTAL_CLIENT
from services.sso.settings import SsoSettings

BATCH = 500


class NoEmail(ValueError):
    """A person without an e-mail cannot sign in: reported by data-quality checks."""


def _username(person: dict[str, Any]) -> str:
    email = (person.get("email") or "").strip().lower()
    if not email:
        raise NoEmail(person.get("surname", ""))
    return email


def find_user(admin: KeycloakAdmin, username: str) -> dict[str, Any] | None:
    found = admin.get_users({"username": username, "exact": True})
    return found[0] if found else None


def _user_payload(person: dict[str, Any], attributes: dict[str, list[str]]) -> dict[str, Any]:
    return {"username": _username(person), "email": _username(person), "enabled": True,
            "emailVerified": False, "firstName": person.get("first_name") or "",
            "lastName": person.get("surname") or "", "attributes": attributes}


def _set_org(admin: KeycloakAdmin, user: dict[str, Any], org_id: int, present: bool) -> list[str]:
    """Add or drop an organization from the user's org_ids; returns what is left."""
    user = admin.get_user(user["id"])
    attributes = user.get("attributes") or {}
    orgs = set(attributes.get("org_ids", []))
    orgs = orgs | {str(org_id)} if present else orgs - {str(org_id)}
    attributes["org_ids"] = sorted(orgs, key=int)
    _update(admin, user, attributes=attributes)
    return attributes["org_ids"]


def _update(admin: KeycloakAdmin, user: dict[str, Any], **changes: Any) -> None:
    """PUT the whole representation: with a user profile, a partial one drops fields."""
    admin.update_user(user["id"], {**user, **changes})


def grant(admin: KeycloakAdmin, person: dict[str, Any], org_id: int, role: str) -> str:
    """Give the person an account (if they have none), the organization and the role."""
    username = _username(person)
    user = find_user(admin, username)
    if user is None:
        user_id = admin.create_user(_user_payload(person, {"org_ids": [str(org_id)]}),
                                    exist_ok=True)
        user = {"id": user_id}
    else:
        _set_org(admin, user, org_id, present=True)
    admin.assign_realm_roles(user["id"], [admin.get_realm_role(role)])
    return user["id"]


def grant_global(admin: KeycloakAdmin, person: dict[str, Any], role: str) -> str:
    """An account with a role over the whole registry (Central Council staff, auditors)."""
    user = find_user(admin, _username(person))
    user_id = user["id"] if user else admin.create_user(_user_payload(person, {}),
                                                        exist_ok=True)
    admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
    return user_id


def revoke(admin: KeycloakAdmin, person: dict[str, Any], org_id: int, role: str) -> None:
    """Take the organization away; the role too when no organization is left; end sessions."""
    try:
        user = find_user(admin, _username(person))
    except NoEmail:
        return
    if user is None:
        return
    if not _set_org(admin, user, org_id, present=False):
        admin.delete_realm_roles_of_user(user["id"], [admin.get_realm_role(role)])
    admin.user_logout(user["id"])


def sync_chair(admin: KeycloakAdmin, org_id: int, old: dict[str, Any] | None,
               new: dict[str, Any] | None) -> str | None:
    """Returns the new chair's account id (None when no one with an e-mail is named)."""
    same_person = bool(old and new and (old.get("email") or "").lower()
                       == (new.get("email") or "").lower() and old.get("email"))
    if old and not same_person:
        revoke(admin, old, org_id, CHAIR)
    if new and new.get("email"):
        return grant(admin, new, org_id, CHAIR)
    return None


def staff_role(level: str, position: str) -> str | None:
    """Staff of a regional organization get rights over the region; activists elsewhere
    keep their records in the passport but no account."""
    if level != "regional" or position == "committee_member":
        return None
    return AIS_RESPONSIBLE if position == "ais_responsible" else REGIONAL_STAFF


def sync_staff(admin: KeycloakAdmin, org_id: int, level: str, old: list[dict[str, Any]],
               new: list[dict[str, Any]]) -> None:
    def roles(staff: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
        out = {}
        for person in staff or []:
            role = staff_role(level, person.get("position", ""))
            if role and person.get("email"):
                out[person["email"].lower()] = (role, person)
        return out

    before, after = roles(old), roles(new)
    for email, (role, person) in before.items():
        if after.get(email, (None,))[0] != role:
            revoke(admin, person, org_id, role)
    for email, (role, person) in after.items():
        parts = person.get("full_name", "").split()
        grant(admin, {"email": email, "surname": parts[0] if parts else "",
                      "first_name": " ".join(parts[1:2])}, org_id, role)


def provision_chairs(admin: KeycloakAdmin, chairs: list[dict[str, Any]]) -> dict[str, int]:
    """Accounts for many chairs at once: one partial import per batch, not a call per user.

    `chairs`: {org_id, chair} rows from the registry. Existing accounts are left as they are
    (their organizations are added one by one); chairs without an e-mail are counted.
    """
    by_user: dict[str, dict[str, Any]] = {}
    skipped = 0
    for row in chairs:
        try:
            username = _username(row["chair"])
        except NoEmail:
            skipped += 1
            continue
        entry = by_user.setdefault(username, {"person": row["chair"], "orgs": []})
        entry["orgs"].append(str(row["org_id"]))
    created = updated = 0
    made: list[str] = []
    items = list(by_user.items())
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        users = [{**_user_payload(e["person"], {"org_ids": e["orgs"]}), "realmRoles": [CHAIR]}
                 for _, e in batch]
        try:
            result = admin.partial_import_realm(admin.connection.realm_name, {
                "ifResourceExists": "SKIP", "users": users})["results"]
        except KeycloakPostError as exc:
            if exc.response_code != 409:
                raise
            # an account of this batch appeared meanwhile (a chair_changed event, say):
            # the batch goes one by one, which tolerates that
            result = [{"action": "SKIPPED", "resourceName": name} for name, _ in batch]
        for item in result:
            if item.get("action") == "ADDED":
                created += 1
                made.append(item["resourceName"])
            elif item.get("action") == "SKIPPED":
                entry = by_user[item["resourceName"]]
                for org_id in entry["orgs"]:
                    grant(admin, entry["person"], int(org_id), CHAIR)
                updated += 1
    return {"created": created, "updated": updated, "without_email": skipped,
            "created_usernames": made}


def ensure_member(admin: KeycloakAdmin, member: dict[str, Any]) -> str:
    """A member's personal account, linked to their record by `member_id`.

    `member`: member_id, email, surname, first_name, region, card_number, active.
    """
    attributes = {"member_id": [str(member["member_id"])],
                  "member_active": ["true" if member.get("active", True) else "false"],
                  "card_number": [member.get("card_number") or ""],
                  "region": [str(member.get("region") or "")]}
    user = find_user(admin, _username(member))
    if user is None:
        user_id = admin.create_user(_user_payload(member, attributes), exist_ok=True)
    else:
        user_id = user["id"]
        full = admin.get_user(user_id)
        _update(admin, full, attributes={**(full.get("attributes") or {}), **attributes})
    admin.assign_realm_roles(user_id, [admin.get_realm_role(MEMBER)])
    return user_id


def set_member_active(admin: KeycloakAdmin, member_id: str, active: bool) -> bool:
    """Partners read `member_active` from the token: it changes at the next refresh."""
    found = admin.get_users({"q": f"member_id:{member_id}"})
    for user in found:
        full = admin.get_user(user["id"])
        attributes = full.get("attributes") or {}
        attributes["member_active"] = ["true" if active else "false"]
        _update(admin, full, attributes=attributes)
    return bool(found)


INVITATION_ACTIONS = ["UPDATE_PASSWORD", "VERIFY_EMAIL"]


def invite(admin: KeycloakAdmin, user_id: str, conf: SsoSettings) -> bool:
    """Keycloak's e-mail with a link to set a password and confirm the address, to an account
    that has no password yet (one made by the platform); False when it has one. A redelivered
    event may send it once more, never more: after the person sets a password, no more."""
    if any(c.get("type") == "password" for c in admin.get_credentials(user_id)):
        return False
    admin.send_update_account(user_id, INVITATION_ACTIONS, client_id=PORTAL_CLIENT,
                              lifespan=int(conf.invitation_lifespan_d * 86400),
                              redirect_uri=conf.portal_url.rstrip("/") + "/")
    return True


def invite_many(admin: KeycloakAdmin, usernames: list[str], conf: SsoSettings
                ) -> dict[str, str]:
    """Invitations for accounts found by name: sent, has_password (nothing to do) or
    not_found. One Keycloak call or two each: notify paces them (a national load's 72,000)."""
    out = {}
    for username in usernames:
        user = find_user(admin, str(username).lower())
        if user is None:
            out[username] = "not_found"
            continue
        try:
            out[username] = "sent" if invite(admin, user["id"], conf) else "has_password"
        except KeycloakPutError as exc:
            # Keycloak could not hand the e-mail to the mail server (refused, away): this one
            # is tried again later, the others go on
            out[username] = f"mail_failed: {exc.response_code}"
    return out


def mark_verified(admin: KeycloakAdmin, user_id: str) -> None:
    _update(admin, admin.get_user(user_id), emailVerified=True)


def disable(admin: KeycloakAdmin, username: str) -> str | None:
    """Disable an account and end its sessions; returns its subject id for the gateways."""
    user = find_user(admin, username.lower())
    if user is None:
        return None
    _update(admin, admin.get_user(user["id"]), enabled=False)
    admin.user_logout(user["id"])
    return user["id"]
