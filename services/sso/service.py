"""The single sign-on service: keeps Keycloak in step with the registry and membership."""

import logging
from typing import Any

import eventlet
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakConnectionError, KeycloakError
from nameko.events import EventDispatcher
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.common.caller import CallerProvider
from services.common.errors import Forbidden, NotFound, Unavailable
from services.common.rpc import event_handler, rpc
from services.sso import accounts, partners, realm
from services.sso.keycloak import admin_client
from services.sso.settings import sso_settings

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5.0


def keycloak_down() -> Unavailable:
    return Unavailable("identity_provider_unavailable",
                       "Сервер входа (Keycloak) недоступен, повторите позже")


class KeycloakProvider(DependencyProvider):
    """An admin client per worker; python-keycloak renews its own token."""

    def get_dependency(self, worker_ctx) -> KeycloakAdmin:
        return admin_client(sso_settings())


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
    keycloak = KeycloakProvider()
    registry = RpcProxy("registry")
    dispatch = EventDispatcher()

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

    @event_handler("registry", "chair_changed", requeue_on_error=True)
    def on_chair_changed(self, payload: dict[str, Any]) -> None:
        user_id = retry_later(f"chair of {payload['org_id']}", accounts.sync_chair,
                              self.keycloak, int(payload["org_id"]), payload.get("old"),
                              payload.get("new"))
        if user_id:
            self._invite([payload["new"]["email"]], "chair")

    def _invite(self, usernames: list[str], reason: str) -> None:
        """Accounts the platform made get their invitations: notify queues them and asks for
        them (`invite`) at a pace, retrying a mail server that refuses, so that neither a
        bulk load nor a bouncing address holds this service's events."""
        if usernames and sso_settings().invite_new_accounts:
            self.dispatch("accounts_created", {"usernames": [u.lower() for u in usernames],
                                               "reason": reason})

    @event_handler("registry", "staff_changed", requeue_on_error=True)
    def on_staff_changed(self, payload: dict[str, Any]) -> None:
        retry_later(f"staff of {payload['org_id']}", accounts.sync_staff, self.keycloak,
                    int(payload["org_id"]), payload["level"], payload.get("old") or [],
                    payload.get("new") or [])

    @event_handler("registry", "orgs_imported", requeue_on_error=True)
    def on_orgs_imported(self, payload: dict[str, Any]) -> None:
        """Chairs named in a loaded file get their accounts, in the background."""
        if not sso_settings().accounts_on_import:
            return
        result = retry_later(f"chairs of import {payload.get('import_id')}",
                             self._provision_chairs, payload["org_ids"])
        log.info("import %s: chair accounts %s", payload.get("import_id"), result)

    @rpc
    def provision_chairs(self, org_ids: list[int]) -> dict[str, int]:
        """Accounts for the chairs of these organizations, in batches."""
        self._operator_only("Учётные записи председателей")
        return self._provision_chairs(org_ids)

    def _provision_chairs(self, org_ids: list[int]) -> dict[str, int]:
        totals = {"created": 0, "updated": 0, "without_email": 0}
        for start in range(0, len(org_ids), 2000):
            chairs = self.registry.chairs(org_ids[start:start + 2000])
            result = keycloak_call(accounts.provision_chairs, self.keycloak, chairs)
            for key in totals:
                totals[key] += result[key]
            # tens of thousands of invitations are not sent here, one admin call each
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
        self._invite([payload["email"]], "member")
        self.dispatch("member_account_created",
                      {"member_id": payload["member_id"], "subject": subject})

    @event_handler("membership", "member_removed", requeue_on_error=True)
    def on_member_removed(self, payload: dict[str, Any]) -> None:
        """Partners stop seeing an active member at the account's next token refresh."""
        retry_later(f"member {payload['member_id']} removed", accounts.set_member_active,
                    self.keycloak, str(payload["member_id"]), False)

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
        # gateways refuse the account's tokens at once, not only when they expire
        self.dispatch("user_disabled", {"subject": subject})
        return subject

    # ---- partner programmes ----

    @rpc
    def register_partner(self, code: str, name: str, redirect_uris: list[str]) -> dict:
        self._operator_only("Подключение партнёров")
        return keycloak_call(partners.register, self.keycloak, code, name, redirect_uris)
