"""The load test's simulated people, for locust (run by tests/bench/load.py in its own process:
locust brings gevent, which must not meet the services' eventlet).

Who they are comes from the JSON file named by LOAD_USERS_FILE (written by load.prepare_users
and run_load); LOAD_THINK_S is "min,max" seconds between a person's actions ("0,0": closed loop).
Each person signs in once with Keycloak (password grant, client reestr-cli) and renews the token
with the refresh token before it expires; Keycloak's calls are not in the gateway's figures.

The mix (weights of people and, within each, of actions) is documented in load.py.
"""

import base64
import contextlib
import hashlib
import itertools
import json
import os
import random
import time
from datetime import date, timedelta

import requests
from cryptography.fernet import Fernet
from locust import between, constant, task
from locust.contrib.fasthttp import FastHttpUser

from services.common.identifiers import snils_check_digits

DATA = json.loads(open(os.environ["LOAD_USERS_FILE"], encoding="utf-8").read())  # noqa: SIM115
THINK = tuple(float(x) for x in os.environ.get("LOAD_THINK_S", "1,3").split(","))
WAIT = constant(0) if THINK[1] <= 0 else between(*THINK)
FERNET = Fernet(base64.urlsafe_b64encode(hashlib.sha256(DATA["portal_secret"].encode()).digest()))
SURNAMES = ("Смирнова", "Кузнецова", "Попова", "Васильева", "Соколова", "Михайлова", "Новикова",
            "Федорова", "Морозова", "Волкова", "Алексеева", "Лебедева", "Семенова", "Егорова")
NAMES = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Юлия")
PATRONYMICS = ("Ивановна", "Петровна", "Сергеевна", "Андреевна", "Николаевна", "Олеговна")
# a run's SNILS: its own block of 10,000 by the clock (10 s slots, repeating after 3 days)
_snils = itertools.count(DATA["snils_start"] + int(time.time()) // 10 % 29_000 * 10_000)
_picks: dict[str, itertools.count] = {}


def next_of(kind: str) -> dict:
    """People of a kind are taken in turn, so 50 simulated users are 50 different accounts."""
    counter = _picks.setdefault(kind, itertools.count())
    return DATA[kind][next(counter) % len(DATA[kind])]


def new_snils() -> str:
    base = f"{next(_snils):09d}"
    return base + snils_check_digits(base)


def person(rng: random.Random) -> dict:
    born = date(1965, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    return {"surname": rng.choice(SURNAMES), "first_name": rng.choice(NAMES),
            "patronymic": rng.choice(PATRONYMICS), "sex": "female",
            "birth_date": born.isoformat(), "phone": f"+7 912 {rng.randrange(10**7):07d}",
            "email": f"p{rng.randrange(10**9)}@load.bench", "category": "working",
            "job_category": "teacher"}


class Person(FastHttpUser):
    """Signed in through Keycloak; its token as the API's bearer and as the portal's cookie."""

    abstract = True
    wait_time = WAIT
    kind = ""

    def on_start(self) -> None:
        self.me = next_of(self.kind)
        self.rng = random.Random()
        self._tokens(grant={"grant_type": "password", "username": self.me["username"],
                            "password": DATA["password"]})

    def _tokens(self, grant: dict) -> None:
        r = requests.post(f"{DATA['issuer']}/protocol/openid-connect/token",
                          data={**grant, "client_id": "reestr-cli"}, timeout=60)
        r.raise_for_status()
        tokens = r.json()
        self.refresh_token = tokens["refresh_token"]
        self.renew_at = time.monotonic() + tokens["expires_in"] - 60
        self.auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        sealed = FERNET.encrypt(json.dumps(tokens["access_token"]).encode()).decode()
        self.cookie = {"Cookie": f"rs_at={sealed}"}

    def _fresh(self) -> None:
        if time.monotonic() > self.renew_at:
            self._tokens(grant={"grant_type": "refresh_token",
                                "refresh_token": self.refresh_token})

    def call(self, method: str, path: str, name: str, expect: int = 200,
             json_body: dict | None = None, portal: bool = False, public: bool = False):
        """One request; any status but `expect` is an error, named by status and code."""
        if not public:
            self._fresh()
        headers = {} if public else dict(self.cookie if portal else self.auth)
        if path.endswith("/subtree"):
            headers["Accept-Encoding"] = "gzip"
        with self.client.request(method, path, name=name, headers=headers, json=json_body,
                                 allow_redirects=False, catch_response=True) as r:
            if r.status_code != expect:
                code = ""
                with contextlib.suppress(Exception):  # not the API's error shape (a page)
                    code = r.json()["error"]["code"]
                r.failure(f"{r.status_code} {code}".strip())
                return None
            if portal:
                return True
            return r.json()


class Chair(Person):
    """A primary organization's chair: their organization, members, queue, cards, reports."""

    weight = 4
    kind = "chairs"

    def on_start(self) -> None:
        super().on_start()
        org, day = self.me["org_id"], DATA["report_day"]
        found = self.call("GET", f"/api/v1/organizations/{org}/reports?family=stat&day={day}",
                          "GET /organizations/{id}/reports")  # the draft: load.warm_up
        self.report_id = (found or {}).get("id")

    def member_id(self) -> int:
        return self.rng.choice(self.me["member_ids"])

    @task(4)
    def organization(self) -> None:
        self.call("GET", f"/api/v1/organizations/{self.me['org_id']}", "GET /organizations/{id}")

    @task(1)
    def passport(self) -> None:
        self.call("GET", f"/api/v1/organizations/{self.me['org_id']}/passport"
                         f"?as_of={date.today().isoformat()}",
                  "GET /organizations/{id}/passport")

    @task(4)
    def members_list(self) -> None:
        self.call("GET", f"/api/v1/members?within={self.me['org_id']}&limit=50",
                  "GET /members?within")

    @task(3)
    def members_by_surname(self) -> None:
        prefix = self.rng.choice(self.me["prefixes"])
        self.call("GET", f"/api/v1/members?within={self.me['org_id']}&surname={prefix}",
                  "GET /members?within&surname")

    @task(4)
    def member_card(self) -> None:
        self.call("GET", f"/api/v1/members/{self.member_id()}", "GET /members/{id}")

    @task(1)
    def register(self) -> None:
        card = {**person(self.rng), "snils": new_snils(), "joined_on": date.today().isoformat(),
                "pd_consent_on": date.today().isoformat(), "pd_consent_form": "paper"}
        made = self.call("POST", f"/api/v1/organizations/{self.me['org_id']}/members",
                         "POST /organizations/{id}/members", 201, card)
        if made:
            self.me["member_ids"].append(made["id"])
            self.call("POST", f"/api/v1/members/{made['id']}/card-requests?kind=plastic",
                      "POST /members/{id}/card-requests", 201)

    @task(1)
    def edit(self) -> None:
        self.call("PATCH", f"/api/v1/members/{self.member_id()}", "PATCH /members/{id}",
                  json_body={"phone": f"+7 912 {self.rng.randrange(10**7):07d}"})

    @task(2)
    def applications(self) -> None:
        self.call("GET", f"/api/v1/applications?within={self.me['org_id']}",
                  "GET /applications?within")

    @task(1)
    def cards_to_hand_out(self) -> None:
        self.call("GET", f"/api/v1/cards?org_id={self.me['org_id']}&status=delivered",
                  "GET /cards?org_id&status")

    @task(1)
    def report(self) -> None:
        if self.report_id:
            self.call("GET", f"/api/v1/reports/{self.report_id}", "GET /reports/{id}")

    @task(2)
    def portal_org(self) -> None:
        self.call("GET", f"/portal/org/{self.me['org_id']}", "portal /portal/org/{primary}",
                  portal=True)

    @task(2)
    def portal_members(self) -> None:
        self.call("GET", f"/portal/members?within={self.me['org_id']}",
                  "portal /portal/members?within", portal=True)

    @task(1)
    def portal_member(self) -> None:
        self.call("GET", f"/portal/members/{self.member_id()}", "portal /portal/members/{id}",
                  portal=True)

    @task(1)
    def portal_applications(self) -> None:
        self.call("GET", "/portal/applications", "portal /portal/applications", portal=True)


class RegionalStaff(Person):
    """Staff of a regional organization: the region's tree, searches, data quality, reports."""

    weight = 2
    kind = "staff"

    @task(1)
    def subtree(self) -> None:
        self.call("GET", f"/api/v1/organizations/{self.me['region_id']}/subtree",
                  "GET /organizations/{id}/subtree")

    @task(2)
    def children(self) -> None:
        self.call("GET", f"/api/v1/organizations/{self.me['region_id']}/children",
                  "GET /organizations/{id}/children")

    @task(3)
    def search(self) -> None:
        word = self.rng.choice(self.me["words"])
        self.call("GET", f"/api/v1/organizations?q={word}&within={self.me['region_id']}",
                  "GET /organizations?q&within")

    @task(2)
    def members_by_surname(self) -> None:
        prefix = self.rng.choice(self.me["prefixes"])
        self.call("GET", f"/api/v1/members?within={self.me['region_id']}&surname={prefix}",
                  "GET /members?within&surname")

    @task(2)
    def quality(self) -> None:
        self.call("GET", f"/api/v1/quality/orgs/{self.me['region_id']}",
                  "GET /quality/orgs/{id}")

    @task(1)
    def quality_summary(self) -> None:
        self.call("GET", "/api/v1/quality/summary", "GET /quality/summary")

    @task(1)
    def tracking(self) -> None:
        self.call("GET", f"/api/v1/reports/tracking?family=stat&day={DATA['report_day']}",
                  "GET /reports/tracking")

    @task(2)
    def portal_region(self) -> None:
        self.call("GET", f"/portal/org/{self.me['region_id']}", "portal /portal/org/{region}",
                  portal=True)

    @task(1)
    def portal_quality(self) -> None:
        self.call("GET", f"/portal/quality/org/{self.me['region_id']}",
                  "portal /portal/quality/org/{id}", portal=True)


class Member(Person):
    """A member in their personal account: who they are, their record card, their ЭПБ."""

    weight = 3
    kind = "members"

    @task(2)
    def me_(self) -> None:
        self.call("GET", "/api/v1/me", "GET /me")

    @task(3)
    def my_card(self) -> None:
        self.call("GET", "/api/v1/me/card", "GET /me/card")

    @task(3)
    def my_member_card(self) -> None:
        self.call("GET", "/api/v1/me/member-card", "GET /me/member-card")

    @task(2)
    def portal_account(self) -> None:
        self.call("GET", "/portal/account", "portal /portal/account", portal=True)


class Joiner(Person):
    """Someone joining online: no account; the public form, its choices, the application."""

    weight = 1
    kind = "join"

    def on_start(self) -> None:
        self.me = next_of(self.kind)
        self.rng = random.Random()
        self.app_id = None

    @task(1)
    def form(self) -> None:
        self.call("GET", "/join", "portal /join", portal=True, public=True)

    @task(3)
    def regions(self) -> None:
        self.call("GET", "/api/v1/join/regions", "GET /join/regions", public=True)

    @task(3)
    def organizations(self) -> None:
        self.call("GET", f"/api/v1/join/organizations?region_id={self.me['region_id']}"
                         f"&q={self.me['q']}", "GET /join/organizations", public=True)

    @task(1)
    def apply(self) -> None:
        body = {**person(self.rng), "org_id": self.rng.choice(self.me["org_ids"]),
                "pd_consent": True}
        made = self.call("POST", "/api/v1/join/applications", "POST /join/applications", 201,
                         body, public=True)
        if made:
            self.app_id = made["id"]

    @task(1)
    def status(self) -> None:
        if self.app_id:
            self.call("GET", f"/api/v1/join/applications/{self.app_id}",
                      "GET /join/applications/{id}", public=True)
