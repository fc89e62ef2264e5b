"""One request followed across the services, and the metrics an operator scrapes (issue 28).

The services run for real (tests/conftest.py); a request through the gateway that registers a
member crosses the gateway, membership (the RPC) and cards (the `member_registered` event, which
the outbox publishes later): every log line of it carries the same request id, and so does the
error a user sees. The metrics are read over HTTP as Prometheus would and parsed with the
official client's parser."""

import logging
import re
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.common import observability
from tests.conftest import GATEWAY_ADDRESS
from tests.notify.private_mailpit import free_port
from tests.support.portal import portal_session
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _card(n: int) -> dict:
    return {"surname": "Следова", "first_name": "Ирина", "birth_date": "1990-05-0" + str(n),
            "sex": "female", "joined_on": "2024-09-01", "pd_consent_on": "2024-09-01",
            "pd_consent_form": "paper"}


def test_a_request_id_follows_the_request_into_every_service(api, synced_tree, caplog):
    caplog.set_level(logging.INFO)
    rid = "trace-test-" + observability.new_request_id()
    r = api.as_user("chair").post("/api/v1/organizations/5/members", json=_card(1),
                                  headers={"X-Request-ID": rid})
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-ID"] == rid

    def services_seen() -> set[str]:
        return {rec.service for rec in caplog.records if rec.request_id == rid}
    assert wait_until(lambda: {"gateway", "membership", "cards"} <= services_seen(),
                      timeout=20), services_seen()
    finished = [rec for rec in caplog.records
                if rec.request_id == rid and getattr(rec, "duration_ms", None) is not None]
    assert {rec.entrypoint for rec in finished} >= {"on_member_registered"}
    member_user = {rec.user_id for rec in finished if rec.service == "membership"}
    assert member_user and "" not in member_user  # the chair's account id, never a name
    assert not any("Следова" in str(rec.user_id) for rec in caplog.records)


def test_the_error_a_user_sees_names_the_request(api):
    r = api.as_user("chair").get("/api/v1/members/999999999", headers={"X-Request-ID": "x"})
    assert r.status_code == 404
    # a header that is not a well-formed id is replaced, never written into the logs as given
    made = r.headers["X-Request-ID"]
    assert made != "x" and re.fullmatch(r"[0-9a-f]{16}", made)
    assert r.json()["error"]["request_id"] == made


def test_metrics_are_served_apart_and_move(api, synced_tree):
    address = f"127.0.0.1:{free_port()}"
    observability.serve_metrics(address)

    def scrape() -> dict[tuple[str, tuple], float]:
        body = requests.get(f"http://{address}/metrics", timeout=10).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(body) for s in family.samples}

    def created(figures) -> float:
        return sum(v for (name, labels), v in figures.items()
                   if name == "reestr_entrypoint_seconds_count"
                   and dict(labels).get("entrypoint") == "register_member")

    before = scrape()
    for n in range(3):
        assert api.as_user("chair").post("/api/v1/organizations/5/members",
                                         json=_card(n + 2)).status_code == 201
    # a worker's figures are taken just after its answer has gone
    assert wait_until(lambda: created(scrape()) >= created(before) + 3, timeout=10)
    after = scrape()
    names = {name for name, _ in after}
    for wanted in ("reestr_outbox_waiting", "reestr_outbox_oldest_seconds", "reestr_db_up",
                   "reestr_db_pool_in_use", "reestr_mail_waiting",
                   "reestr_cards_batches_unanswered", "reestr_imports_running",
                   "reestr_quality_run_age_seconds"):
        assert wanted in names, wanted
    services = {dict(labels)["service"] for name, labels in after if name == "reestr_db_up"}
    assert {"registry", "membership", "cards", "reports", "notify"} <= services
    # never through the public gateway
    assert requests.get(f"http://{GATEWAY_ADDRESS}/metrics", timeout=10).status_code == 404

    # every alert rule names metrics that exist
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert exprs
    for expr in exprs:
        for metric in re.findall(r"\breestr_[a-z_]+", expr):
            base = re.sub(r"_(bucket|count|sum)$", "", metric)
            assert base in names or metric in names or f"{base}_count" in names, (metric, expr)



def test_the_operators_page_shows_the_figures_to_the_central_council_only(api, synced_tree,
                                                                          keycloak):
    base = f"http://{GATEWAY_ADDRESS}"
    page = portal_session(keycloak, "admin").get(f"{base}/portal/operations", timeout=30)
    assert page.status_code == 200, page.text[:500]
    for shown in ("Состояние платформы", "служба реестра: работает",
                  "служба уведомлений: работает",
                  "События в очереди на публикацию", "Письма в очереди",
                  "Архив журнала базы (резервные копии) отстаёт на"):
        assert shown in page.text, shown
    chair = portal_session(keycloak, "chair")
    assert "/portal/operations" not in chair.get(f"{base}/portal/org/5", timeout=30).text
    refused = chair.get(f"{base}/portal/operations", timeout=30)
    assert refused.status_code == 403 and "видят операторы" in refused.text
