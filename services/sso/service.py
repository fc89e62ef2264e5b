"""The single sign-on service: keeps Keycloak in step with the registry and membership."""

import logging
import re
import time
from typing import Any

import eventlet
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakConnectionError, KeycloakError
from nameko.events import EventDispatcher
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.common.caller import CallerProvider
from services.common.errors import Forbidden, NotFound, Unavailable
from services.common.observability import Observed
from services.common.rpc import event_handler, rpc
from services.sso import accounts, partners, realm, revocations
from services.sso.keycloak import admin_client
from services.sso.naming import CHAIR_OR_STAFF, Regions
from services.sso.settings import sso_settings

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5.0
USERNAME = re.compile(r"[^\x00-\x20\x7f-\x9f]{1,255}")


def keycloak_down() -> Unavailable:
    return Unavailable("identity_provider_unavailable",
                       "Сервер входа (Keycloak) недоступен, повторите позже")


class KeycloakProvider(DependencyProvider):
    """An admin client per worker; python-keycloak renews its own token."""

    def get_dependency(self, worker_ctx) -> KeycloakAdmin:
        return admin_client(sso_settings())


class RevocationFeedProvider(DependencyProvider):
    """One feed per service instance, shared by its workers (the timer runs one at a time)."""

    def setup(self) -> None:
        self.feed = revocations.Feed(lifespan_s=sso_settings().access_token_lifespan_s)
        self.feed.start()
        self.ready = False  # the event store is switched on at the first poll
        # its own long-lived admin client: a new one each tick would sign in to Keycloak's
        # master realm (a session there) every few seconds
        self.admin = admin_client(sso_settings())

    def get_dependency(self, worker_ctx) -> "RevocationFeedProvider":
        return self


def keycloak_call(fn, *args: Any) -> Any:
    """Keycloak unreachable, or failing on its side (stopping, 5xx), is a retryable 503."""
    try:
        return fn(*args)
    except (KeycloakConnectionError, requests.ConnectionError, requests.Timeout):
        raise keycloak_down() from None
    except KeycloakError as exc:
        if exc.response_code is None or exc.response_code >= 500:
            log.warning("keycloak failing: %s", exc)
            raise keycloak_down() from None
        log.warning("keycloak refused: %s", exc)
        raise


def retry_later(what: str, fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except (KeycloakConnectionError, KeycloakError, Unavailable):
        log.warning("%s: not in Keycloak yet, will retry", what)
        eventlet.sleep(RETRY_AFTER_S)
        raise


class SsoService:
    name = "sso"

    caller = CallerProvider()
    observed = Observed()
    keycloak = KeycloakProvider()
    registry = RpcProxy("registry")
    notify = RpcProxy("notify")
    dispatch = EventDispatcher()
    revocation_feed = RevocationFeedProvider()

    def _operator_only(self, what: str) -> None:
        if not self.caller.is_global:
            raise Forbidden("forbidden", f"{what}: только для операторов платформы")

    @rpc
    def provision_realm(self) -> dict[str, str]:
        self._operator_only("Настройка единого входа")
        keycloak_call(realm.provision, self.keycloak, sso_settings())
        return {"realm": sso_settings().keycloak_realm, "status": "ok"}

    @rpc
    def health(self) -> dict[str, str]:
        try:
            self.keycloak.connection.raw_get(
                f"{sso_settings().keycloak_url}/realms/{sso_settings().keycloak_realm}")
        except KeycloakConnectionError:
            return {"keycloak": "unavailable"}
        return {"keycloak": "ok"}

    # ---- chairs and staff ----

    @rpc
    def sync_chair(self, org_id: int, old: dict | None, new: dict | None) -> None:
        self._operator_only("Учётные записи председателей")
        keycloak_call(accounts.sync_chair, self.keycloak, int(org_id), old, new)

    # Event handlers: a message is redelivered until Keycloak takes it (after a pause, so an
    # outage is not a busy loop); granting or revoking twice changes nothing.

    def _regions(self) -> Regions:
        """Regions of organizations, asked of the registry in one call per batch."""
        def lookup(org_ids: list[int]) -> dict[int, int | None]:
            try:
                rows = self.registry.org_index(ids=org_ids, limit=len(org_ids))
            except Exception as exc:  # retried after a pause (retry_later), not in a busy loop
                log.warning("registry not answering for regions: %s", exc)
                raise Unavailable("registry_unavailable",
                                  "Реестр организаций недоступен, повторите позже") from None
            return {int(r["id"]): r.get("region_id") for r in rows}
        return Regions(lookup)

    @event_handler("registry", "chair_changed", requeue_on_error=True)
    def on_chair_changed(self, payload: dict[str, Any]) -> None:
        done = retry_later(f"chair of {payload['org_id']}", accounts.sync_chair, self.keycloak,
                           int(payload["org_id"]), payload.get("old"), payload.get("new"),
                           self._regions())
        if done == "proposed":
            log.info("chair of %s named: an existing account, proposal recorded",
                     payload["org_id"])
        # the invitation is not asked for here: notify queues it from the same event (the
        # registry's outbox) and asks `invite` until this account is there

    def _invite(self, usernames: list[str], reason: str) -> None:
        """Accounts made outside any event (`provision_chairs`, an operator's call) get their
        invitations queued in notify before the call answers; an error fails the call, and
        running it again queues nothing twice (the accounts are found, not made)."""
        if usernames and sso_settings().invite_new_accounts:
            self.notify.queue_invitations([u.lower() for u in usernames], reason)

    @event_handler("registry", "staff_changed", requeue_on_error=True)
    def on_staff_changed(self, payload: dict[str, Any]) -> None:
        retry_later(f"staff of {payload['org_id']}", accounts.sync_staff, self.keycloak,
                    int(payload["org_id"]), payload["level"], payload.get("old") or [],
                    payload.get("new") or [], self._regions())

    @event_handler("registry", "orgs_imported", requeue_on_error=True)
    def on_orgs_imported(self, payload: dict[str, Any]) -> None:
        """Chairs named in a loaded file get their accounts, in the background."""
        if not sso_settings().accounts_on_import:
            return
        # notify queues the invitations from the same event
        result = retry_later(f"chairs of import {payload.get('import_id')}",
                             self._provision_chairs, payload["org_ids"], False)
        log.info("import %s: chair accounts %s", payload.get("import_id"), result)

    @rpc
    def provision_chairs(self, org_ids: list[int]) -> dict[str, int]:
        """Accounts for the chairs of these organizations, in batches."""
        self._operator_only("Учётные записи председателей")
        return self._provision_chairs(org_ids)

    def _provision_chairs(self, org_ids: list[int], invite: bool = True) -> dict[str, int]:
        totals = {"created": 0, "updated": 0, "proposed": 0, "without_email": 0}
        regions = self._regions()
        for start in range(0, len(org_ids), 2000):
            chairs = self.registry.chairs(org_ids[start:start + 2000])
            result = keycloak_call(accounts.provision_chairs, self.keycloak, chairs, regions)
            for key in totals:
                totals[key] += result[key]
            # tens of thousands of invitations are not sent here, one admin call each
            if invite:
                self._invite(result["created_usernames"], "chair")
        return totals

    @rpc
    def invite(self, usernames: list[str]) -> dict[str, str]:
        """Keycloak's invitation e-mail for each account that has no password yet."""
        self._operator_only("Приглашения")
        return keycloak_call(accounts.invite_many, self.keycloak, list(usernames)[:100],
                             sso_settings())

    # ---- members ----

    @event_handler("membership", "application_decided", requeue_on_error=True)
    def on_application_decided(self, payload: dict[str, Any]) -> None:
        """A person accepted online gets their personal account; membership learns whose it is.
        Idempotent: a second delivery finds the account and links it again."""
        if payload.get("decision") != "accepted" or not payload.get("email"):
            return
        member = {"member_id": payload["member_id"], "email": payload["email"],
                  "surname": payload.get("surname"), "first_name": payload.get("first_name"),
                  "region": payload.get("region_id"), "active": True}
        subject = retry_later(f"account of member {payload['member_id']}",
                              accounts.ensure_member, self.keycloak, member)
        # its invitation: notify, from the same event
        self.dispatch("member_account_created",
                      {"member_id": payload["member_id"], "subject": subject})

    @event_handler("membership", "member_removed", requeue_on_error=True)
    def on_member_removed(self, payload: dict[str, Any]) -> None:
        """Partners stop seeing an active member at the account's next token refresh."""
        retry_later(f"member {payload['member_id']} removed", accounts.set_member_active,
                    self.keycloak, str(payload["member_id"]), False)

    @event_handler("membership", "members_reduced", requeue_on_error=True)
    def on_members_reduced(self, payload: dict[str, Any]) -> None:
        """Retention reduced these members' cards: their personal accounts go (152-ФЗ: the
        account is personal data with no purpose left)."""
        subjects = [str(s) for s in payload.get("account_subjects") or []]
        if subjects:
            deleted = retry_later(f"accounts of {len(subjects)} reduced members",
                                  accounts.delete_accounts, self.keycloak, subjects)
            log.info("members reduced: %s accounts deleted", deleted)

    @rpc
    def ensure_member_account(self, member: dict[str, Any]) -> str:
        self._operator_only("Личные кабинеты")
        return keycloak_call(accounts.ensure_member, self.keycloak, member)

    @rpc
    def set_member_active(self, member_id: str, active: bool) -> bool:
        self._operator_only("Личные кабинеты")
        return keycloak_call(accounts.set_member_active, self.keycloak, str(member_id),
                             bool(active))

    # ---- accounts in general ----

    @rpc
    def set_password(self, username: str, password: str, temporary: bool = True) -> None:
        self._operator_only("Пароли")
        user = keycloak_call(accounts.find_user, self.keycloak, username.lower())
        if user is None:
            raise NotFound("user_not_found", f"Учётная запись {username} не найдена")
        keycloak_call(self.keycloak.set_user_password, user["id"], password, temporary)
        if not temporary:
            # an operator who hands a person a password by other means vouches for the
            # account: it signs in without waiting for the address to be confirmed
            keycloak_call(accounts.mark_verified, self.keycloak, user["id"])

    @rpc
    def disable_user(self, username: str) -> str:
        self._operator_only("Блокировка учётных записей")
        subject = keycloak_call(accounts.disable, self.keycloak, username)
        if subject is None:
            raise NotFound("user_not_found", f"Учётная запись {username} не найдена")
        # gateways refuse the account's tokens at once, not only when they expire (the
        # revocation feed would tell them within seconds too, from Keycloak's admin events)
        now = int(time.time())
        self.dispatch("user_disabled", {"subject": subject, "before": now,
                                        "until": now + self._token_horizon_s()})
        return subject

    # ---- revoked tokens: accounts disabled or signed out in Keycloak itself ----

    def _token_horizon_s(self) -> int:
        return self.revocation_feed.feed.lifespan_s + revocations.MARGIN_S

    @timer(interval=sso_settings().revocation_poll_s, eager=True)
    def poll_revocations(self) -> None:
        """Keycloak's admin and users' events, read every few seconds: what they revoke is
        published to every gateway. Keycloak away: the next tick reads on from the cursor."""
        feed = self.revocation_feed
        try:
            if not feed.ready:
                realm.ensure_event_store(feed.admin)
                lifespan = feed.admin.get_realm(sso_settings().keycloak_realm).get(
                    "accessTokenLifespan")
                feed.feed.lifespan_s = max(feed.feed.lifespan_s, int(lifespan or 0))
                feed.ready = True
            fresh, logins = revocations.poll(feed.admin, feed.feed)
        except (KeycloakConnectionError, KeycloakError, requests.RequestException) as exc:
            log.warning("revocation feed: Keycloak not answering (%s)", exc)
            return
        if logins:
            # for the account states (notify): a sign-in lost with a broker outage is seen
            # again at the account's next one, so this needs no outbox
            self.dispatch("accounts_signed_in", {"usernames": logins,
                                                 "at": int(time.time())})
        if fresh:
            log.info("revoked in Keycloak: %d sessions or accounts", len(fresh))
            self.dispatch("tokens_revoked", revocations.payload(fresh))

    @rpc
    def revocations(self) -> dict[str, Any]:
        """What is revoked now, for a gateway that has just started (or missed events)."""
        return revocations.payload(self.revocation_feed.feed.snapshot())

    # ---- namings waiting for the person or an administrator (services.sso.naming) ----

    @rpc
    def my_proposals(self) -> list[dict[str, Any]]:
        subject = self._own_subject()
        return keycloak_call(accounts.proposals_of, self.keycloak, subject)

    @rpc
    def settle_my_proposal(self, role: str, org_id: int, accept: bool) -> dict[str, Any]:
        """The person accepts (or declines) a naming of their own account."""
        subject = self._own_subject()
        return self._settle(subject, role, org_id, accept)

    @rpc
    def pending_proposals(self, first: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        self._operator_only("Предложенные назначения")
        return keycloak_call(accounts.pending, self.keycloak, int(first), min(int(limit), 500))

    @rpc
    def confirm_proposal(self, username: str, role: str, org_id: int,
                         accept: bool = True) -> dict[str, Any]:
        self._operator_only("Предложенные назначения")
        username = str(username).strip().lower()
        # usernames are e-mails: printable, no spaces; Keycloak refuses others outright
        user = keycloak_call(accounts.find_user, self.keycloak, username) if USERNAME.fullmatch(
            username) else None
        if user is None:
            raise NotFound("user_not_found", f"Учётная запись {username} не найдена")
        return self._settle(user["id"], role, org_id, accept)

    def _own_subject(self) -> str:
        if not self.caller.subject:
            raise Forbidden("forbidden", "Назначения: войдите под своей учётной записью")
        return self.caller.subject

    def _settle(self, subject: str, role: str, org_id: int, accept: bool) -> dict[str, Any]:
        if role not in CHAIR_OR_STAFF:
            raise NotFound("proposal_not_found", "Такого предложенного назначения нет")
        settled = keycloak_call(accounts.settle, self.keycloak, subject, role, int(org_id),
                                bool(accept))
        if not settled:
            raise NotFound("proposal_not_found", "Такого предложенного назначения нет")
        log.info("proposal %s:%s for %s %s", role, org_id, subject,
                 "accepted" if accept else "declined")
        return {"role": role, "org_id": int(org_id), "accepted": bool(accept)}

    # ---- partner programmes ----

    @rpc
    def register_partner(self, code: str, name: str, redirect_uris: list[str]) -> dict:
        self._operator_only("Подключение партнёров")
        return keycloak_call(partners.register, self.keycloak, code, name, redirect_uris)
