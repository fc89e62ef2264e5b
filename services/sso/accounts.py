"""Accounts of chairs, staff and members, kept in step with the registry and membership.

A person's account is found by their e-mail (the username). The organizations they act for are
the `org_ids` attribute, and their kind of rights a realm role. When a passport names a chair or
staff member, services.sso.naming decides whether the account gets the organization and the role
or only a proposal of them; when it names someone else, the previous holder loses the
organization (and the role once they act for none), and only then do their sessions end.
"""

from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import (
    KeycloakDeleteError,
    KeycloakGetError,
    KeycloakPostError,
    KeycloakPutError,
)

from services.common.roles import AIS_RESPONSIBLE, CHAIR, MEMBER, REGIONAL_STAFF
from services.sso.naming import (
    GRANT,
    PENDING,
    PROPOSALS,
    Account,
    Regions,
    decide,
    parse_proposal,
    proposal,
)
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


def _update(admin: KeycloakAdmin, user: dict[str, Any], **changes: Any) -> None:
    """PUT the whole representation: with a user profile, a partial one drops fields."""
    admin.update_user(user["id"], {**user, **changes})


def _org_ids(user: dict[str, Any]) -> list[int]:
    return sorted({int(v) for v in (user.get("attributes") or {}).get("org_ids", [])
                   if str(v).isdigit()})


def _save(admin: KeycloakAdmin, user: dict[str, Any], org_ids: list[int],
          proposals: list[str]) -> None:
    attributes = dict(user.get("attributes") or {})
    attributes["org_ids"] = [str(o) for o in sorted(set(org_ids))]
    attributes[PROPOSALS] = sorted(set(proposals))
    attributes[PENDING] = ["true"] if proposals else []
    _update(admin, user, attributes=attributes)


def load_account(admin: KeycloakAdmin, user: dict[str, Any]) -> Account:
    """Effective realm roles and direct client roles: two admin calls."""
    roles = {r["name"] for r in admin.get_composite_realm_roles_of_user(user["id"])}
    mappings = admin.get_all_roles_of_user(user["id"])
    attributes = user.get("attributes") or {}
    region = (attributes.get("region") or [""])[0]
    return Account(id=user["id"], org_ids=_org_ids(user), roles=roles,
                   client_roles=bool(mappings.get("clientMappings")),
                   member_region=int(region) if str(region).isdigit() else None,
                   proposals=list(attributes.get(PROPOSALS) or []))


def grant(admin: KeycloakAdmin, person: dict[str, Any], org_ids: list[int], role: str,
          regions: Regions, user: dict[str, Any] | None = None) -> str:
    """A naming of `person` for these organizations: an account created with them, the
    organizations added, or a proposal recorded (services.sso.naming). Returns what was done:
    created, granted, proposed or unchanged."""
    org_ids = sorted({int(o) for o in org_ids})
    if user is None:
        user = find_user(admin, _username(person))
    if user is None:
        user_id = admin.create_user(_user_payload(person, {"org_ids": [str(o) for o in org_ids]}),
                                    exist_ok=True)
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
        return "created"
    account = load_account(admin, user)  # the search's answer is the full representation
    new = [o for o in org_ids if o not in account.org_ids or role not in account.roles]
    if not new:
        return "unchanged"
    known = regions.of([*account.org_ids, *new])
    granted = [o for o in new if decide(account, known[o], known) == GRANT]
    proposed = [proposal(role, o) for o in new if o not in granted]
    proposals = [p for p in account.proposals if p not in {proposal(role, o) for o in granted}]
    proposals += [p for p in proposed if p not in proposals]
    if granted or proposals != account.proposals:
        _save(admin, user, account.org_ids + granted, proposals)
    if granted and role not in account.roles:
        admin.assign_realm_roles(user["id"], [admin.get_realm_role(role)])
    return "granted" if granted else "proposed"


def revoke(admin: KeycloakAdmin, person: dict[str, Any], org_id: int, role: str) -> None:
    """The person is no longer named for the organization: a proposal of it is dropped; an
    organization they held is taken away (the role too when none is left) and, their rights
    having shrunk, their sessions end. An account that never held it is left alone."""
    try:
        user = find_user(admin, _username(person))
    except NoEmail:
        return
    if user is None:
        return
    orgs = _org_ids(user)
    proposals = list((user.get("attributes") or {}).get(PROPOSALS) or [])
    held = org_id in orgs
    if not held and proposal(role, org_id) not in proposals:
        return
    left = [o for o in orgs if o != org_id]
    _save(admin, user, left, [p for p in proposals if p != proposal(role, org_id)])
    if held:
        if not left:
            admin.delete_realm_roles_of_user(user["id"], [admin.get_realm_role(role)])
        admin.user_logout(user["id"])


def sync_chair(admin: KeycloakAdmin, org_id: int, old: dict[str, Any] | None,
               new: dict[str, Any] | None, regions: Regions) -> str | None:
    same_person = bool(old and new and (old.get("email") or "").lower()
                       == (new.get("email") or "").lower() and old.get("email"))
    if old and not same_person:
        revoke(admin, old, org_id, CHAIR)
    if new and new.get("email"):
        return grant(admin, new, [org_id], CHAIR, regions)
    return None


def staff_role(level: str, position: str) -> str | None:
    """Staff of a regional organization get rights over the region; activists elsewhere
    keep their records in the passport but no account."""
    if level != "regional" or position == "committee_member":
        return None
    return AIS_RESPONSIBLE if position == "ais_responsible" else REGIONAL_STAFF


def sync_staff(admin: KeycloakAdmin, org_id: int, level: str, old: list[dict[str, Any]],
               new: list[dict[str, Any]], regions: Regions) -> None:
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
                      "first_name": " ".join(parts[1:2])}, [org_id], role, regions)


def provision_chairs(admin: KeycloakAdmin, chairs: list[dict[str, Any]],
                     regions: Regions) -> dict[str, int]:
    """Accounts for many chairs at once: one partial import per batch, not a call per user.

    `chairs`: {org_id, region_id, chair} rows from the registry. New accounts come with the
    partial import; an existing one is read (one call; two more when a naming is new to it) and
    the naming rule applied, with the regions of all of a batch's organizations asked of the
    registry at once. Chairs without an e-mail are counted.
    """
    by_user: dict[str, dict[str, Any]] = {}
    skipped = 0
    regions.known.update({int(r["org_id"]): r.get("region_id") for r in chairs})
    for row in chairs:
        try:
            username = _username(row["chair"])
        except NoEmail:
            skipped += 1
            continue
        entry = by_user.setdefault(username, {"person": row["chair"], "orgs": []})
        entry["orgs"].append(int(row["org_id"]))
    totals: dict[str, Any] = {"created": 0, "updated": 0, "proposed": 0,
                              "without_email": skipped, "created_usernames": []}
    items = list(by_user.items())
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        users = [{**_user_payload(e["person"], {"org_ids": [str(o) for o in e["orgs"]]}),
                  "realmRoles": [CHAIR]} for _, e in batch]
        try:
            result = admin.partial_import_realm(admin.connection.realm_name, {
                "ifResourceExists": "SKIP", "users": users})["results"]
        except KeycloakPostError as exc:
            if exc.response_code != 409:
                raise
            # an account of this batch appeared meanwhile (a chair_changed event, say):
            # the batch goes one by one, which tolerates that
            result = [{"action": "SKIPPED", "resourceName": name} for name, _ in batch]
        existing = {}
        for item in result:
            if item.get("action") == "ADDED":
                totals["created"] += 1
                totals["created_usernames"].append(item["resourceName"])
            elif item.get("action") == "SKIPPED":
                user = find_user(admin, item["resourceName"])
                existing[item["resourceName"]] = user
        # the regions of the organizations these accounts already hold, in one call
        regions.of(o for user in existing.values() if user for o in _org_ids(user))
        for name, user in existing.items():
            entry = by_user[name]
            done = grant(admin, entry["person"], entry["orgs"], CHAIR, regions, user)
            # updated: existing accounts that hold the naming now; proposed: those that wait
            totals["proposed" if done == "proposed" else "updated"] += 1
    return totals


# ---- proposals: confirmed by the person or by an administrator ----

def _user_by_id(admin: KeycloakAdmin, user_id: str) -> dict[str, Any] | None:
    try:
        return admin.get_user(user_id)
    except KeycloakGetError as exc:
        if exc.response_code == 404:
            return None
        raise


def proposals_of(admin: KeycloakAdmin, user_id: str) -> list[dict[str, Any]]:
    user = _user_by_id(admin, user_id) or {}
    found = (parse_proposal(v) for v in (user.get("attributes") or {}).get(PROPOSALS) or [])
    return [{"role": role, "org_id": org} for role, org in (p for p in found if p)]


def pending(admin: KeycloakAdmin, first: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Accounts with a proposal waiting, for administrators."""
    users = admin.get_users({"q": f"{PENDING}:true", "first": first, "max": limit})
    return [{"username": u["username"], "subject": u["id"],
             "proposals": proposals_of(admin, u["id"])} for u in users]


def settle(admin: KeycloakAdmin, user_id: str, role: str, org_id: int, accept: bool) -> bool:
    """Accept (the organization and the role are added) or decline a waiting proposal;
    False when there is no such proposal (it was withdrawn by a later naming, say)."""
    user = _user_by_id(admin, user_id) or {}
    proposals = list((user.get("attributes") or {}).get(PROPOSALS) or [])
    if proposal(role, org_id) not in proposals:
        return False
    orgs = _org_ids(user)
    _save(admin, user, orgs + [org_id] if accept else orgs,
          [p for p in proposals if p != proposal(role, org_id)])
    if accept:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
    return True


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


def delete_accounts(admin: KeycloakAdmin, subjects: list[str]) -> int:
    """Members' accounts deleted (their cards were reduced by retention), sessions and all;
    how many were there. One already gone counts as done: a redelivered event changes
    nothing."""
    deleted = 0
    for subject in subjects:
        try:
            admin.delete_user(subject)
            deleted += 1
        except KeycloakDeleteError as exc:
            if exc.response_code != 404:
                raise
    return deleted


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
