"""Naming people gives rights only to them: when a passport's naming may change an account.

A passport that names a chair or a staff member proposes the role for that organization to the
e-mail given. Who typed the e-mail (a chair, for a subdivision beneath them) must not be able to
hand rights to, or take them from, somebody else's account. So:

- no account with that e-mail yet: it is created with the role and the organization;
- an account that holds only roles the platform gives for organizations (chair, regional staff,
  AIS responsible, member) and only for organizations of the same region as the one named (a
  member: of that region) gets the organization and the role added;
- any other account (an auditor, an operator, the Central Council's staff, another region's staff
  or chair, a role or client role the platform does not hand out, or a naming at the top of the
  tree) is not changed: the naming waits as a proposal on the account, `naming_proposals`
  ("role:org_id", an attribute only administrators edit and no token carries), until the person
  accepts it after signing in, or an administrator confirms it;
- nobody's sessions end because of a naming; an account's sessions end only when its own rights
  shrink (it loses an organization it held: it is no longer chair there).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.common.roles import AIS_RESPONSIBLE, CHAIR, MEMBER, REGIONAL_STAFF

PLATFORM_ORG_ROLES = frozenset({CHAIR, REGIONAL_STAFF, AIS_RESPONSIBLE, MEMBER})
# the roles a passport can name someone for
CHAIR_OR_STAFF = frozenset({CHAIR, REGIONAL_STAFF, AIS_RESPONSIBLE})
# every account holds these through the realm's default role
KEYCLOAK_DEFAULT_ROLES = frozenset({"offline_access", "uma_authorization"})
PROPOSALS = "naming_proposals"
PENDING = "naming_pending"  # "true" while a proposal waits: administrators list them by it

GRANT, PROPOSE = "grant", "propose"


def proposal(role: str, org_id: int) -> str:
    return f"{role}:{int(org_id)}"


def parse_proposal(value: str) -> tuple[str, int] | None:
    role, _, org = value.partition(":")
    return (role, int(org)) if org.isdigit() and role else None


def is_default_role(name: str) -> bool:
    return name in KEYCLOAK_DEFAULT_ROLES or name.startswith("default-roles-")


@dataclass
class Account:
    """What the rule needs to know of an existing account."""

    id: str
    org_ids: list[int]
    roles: set[str]            # effective realm roles (through groups and composites too)
    client_roles: bool         # any client role mapped to it (realm-management, say)
    member_region: int | None  # a member's region (the `region` attribute)
    proposals: list[str] = field(default_factory=list)


def decide(account: Account, target_region: int | None,
           regions: dict[int, int | None]) -> str:
    """GRANT when the account may get an organization of `target_region` silently."""
    if account.client_roles or target_region is None:
        return PROPOSE
    if any(r not in PLATFORM_ORG_ROLES and not is_default_role(r) for r in account.roles):
        return PROPOSE
    if any(regions.get(org) != target_region for org in account.org_ids):
        return PROPOSE
    if MEMBER in account.roles and account.member_region != target_region:
        return PROPOSE
    return GRANT


class Regions:
    """Region of each organization (the regional organization's id), asked of the registry in
    one call for all that are not known yet."""

    def __init__(self, lookup: Callable[[list[int]], dict[int, int | None]],
                 known: dict[int, int | None] | None = None) -> None:
        self.lookup, self.known = lookup, dict(known or {})

    def of(self, org_ids: Iterable[int]) -> dict[int, int | None]:
        wanted = {int(i) for i in org_ids}
        missing = sorted(wanted - set(self.known))
        if missing:
            found = self.lookup(missing)
            self.known.update({i: found.get(i) for i in missing})
        return {i: self.known[i] for i in wanted}
