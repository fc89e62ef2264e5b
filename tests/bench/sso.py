"""`make bench-sso`: the figures of issue 3, beside the naive approach, in one run.

- token_check_ms: the gateway's local check of a real Keycloak access token, keys cached, and
  token_check_naive_ms: asking Keycloak's introspection endpoint instead, per request;
- chair_login_s: a chair signing in through Keycloak's login page (authorization code with
  PKCE, as the portal does) up to the first answered API call through the gateway;
- chair_accounts_s: accounts and roles for the ~2,000 chairs of a loaded file (chair_accounts),
  provisioned by the sso service from the load's event, and chair_accounts_naive_2000_s: one
  admin call per account and role, on a sample, scaled to 2,000.
The last line printed is one JSON object.
"""

import base64
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench")

import requests

from gateway.tokens import TokenVerifier
from reestr.demo import orgs
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.sso import realm
from services.sso.keycloak import admin_client
from services.sso.settings import sso_settings
from tests.bench.common import (
    BENCH_AMQP,
    PASSWORD,
    SCHEMAS,
    SERVICES,
    fresh_database,
    fresh_realm,
    make_user,
    print_figures,
    running_services,
)
from tests.support import oidc


def main() -> None:
    conf = sso_settings()
    admin = fresh_realm(conf)
    figures: dict[str, float] = {}

    # --- the token check ---
    make_user(admin, "operator@bench.reestr", "central_admin")
    grant = requests.post(f"{conf.issuer}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "reestr-cli",
        "username": "operator@bench.reestr", "password": PASSWORD}).json()
    token = grant["access_token"]
    verifier = TokenVerifier(conf.issuer, realm.API_CLIENT)
    verifier.verify(token)  # keys fetched and cached
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        verifier.verify(token)
    figures["token_check_ms"] = round((time.perf_counter() - started) * 1000 / n, 4)
    api_client = admin.get_client_id(realm.API_CLIENT)
    secret = admin.get_client_secrets(api_client)["value"]
    samples = []
    for _ in range(50):
        t = time.perf_counter()
        requests.post(f"{conf.issuer}/protocol/openid-connect/token/introspect",
                      data={"token": token}, auth=(realm.API_CLIENT, secret)).raise_for_status()
        samples.append((time.perf_counter() - t) * 1000)
    figures["token_check_naive_ms"] = round(statistics.median(samples), 2)

    # --- a registry with about 2,000 chairs that have an e-mail ---
    rows = orgs.generate_orgs(2300)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orgs.csv"
        orgs.write_csv(rows, path)
        content = base64.b64encode(path.read_bytes()).decode()
    url = fresh_database("reestr_bench_sso", SCHEMAS)
    with running_services(url, SERVICES) as base, \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=900) as rpc:
        # the load's event makes the sso service provision every chair named in the file:
        # timed from the load's answer until the last account holds its chair role
        report = rpc.registry.import_organizations(content, "orgs.csv", False)
        started = time.perf_counter()
        assert report["rows_loaded"] == len(rows), report["errors"][:3]
        org_ids = [o["id"] for o in rpc.registry.subtree(1)["items"]]
        chairs = [c for c in rpc.registry.chairs(org_ids) if c["chair"].get("email")]
        expected = len({c["chair"]["email"].lower() for c in chairs})
        while admin.get_realm_role_members("chair", {"first": expected - 1, "max": 1}) == []:
            if time.perf_counter() - started > 600:
                raise RuntimeError("chair accounts not provisioned in 10 minutes")
            time.sleep(0.5)
        figures["chair_accounts_s"] = round(time.perf_counter() - started, 2)
        figures["chair_accounts"] = expected
        ids = [c["org_id"] for c in chairs]

        # naive: one create and one role call per chair, on a sample of 100, scaled
        naive_admin = admin_client(conf)
        role = naive_admin.get_realm_role("chair")
        started = time.perf_counter()
        for i in range(100):
            user_id = naive_admin.create_user({"username": f"naive{i}@bench.reestr",
                                               "email": f"naive{i}@bench.reestr",
                                               "enabled": True, "firstName": "Н",
                                               "lastName": "Наивный",
                                               "attributes": {"org_ids": [str(ids[i])]}})
            naive_admin.assign_realm_roles(user_id, [role])
        figures["chair_accounts_naive_2000_s"] = round(
            (time.perf_counter() - started) * 20, 1)

        # --- a chair signs in through the login page and makes a first call ---
        chair = chairs[0]
        rpc.sso.set_password(chair["chair"]["email"], PASSWORD, False)
        logins = []
        for _ in range(6):
            started = time.perf_counter()
            tokens = oidc.code_flow(conf.issuer, realm.PORTAL_CLIENT,
                                    f"{conf.portal_url}/callback", chair["chair"]["email"],
                                    PASSWORD)
            r = requests.get(f"{base}/api/v1/organizations/{chair['org_id']}",
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
            r.raise_for_status()
            logins.append(time.perf_counter() - started)
        figures["chair_login_s"] = round(max(logins[1:]), 3)  # the first one warms Keycloak
        figures["chair_login_first_s"] = round(logins[0], 3)

    print_figures(figures, {"token_check_ms": 0.2, "chair_login_s": 1, "chair_accounts_s": 60})


if __name__ == "__main__":
    main()
