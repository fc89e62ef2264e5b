"""The JSON API through the gateway, over HTTP, with the services running for real."""

from sqlalchemy import text

from tests.factories import build_tree, company_inn, org
from tests.integration.test_bulk_load import GOOD, to_csv, to_xlsx
from tests.support.waiting import wait_until


def create_via(api):
    def create(data):
        r = api.post("/api/v1/organizations", json=data)
        assert r.status_code == 201, r.text
        return r.json()
    return create


def test_healthz_reports_dependencies(api):
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"gateway": "ok", "database": "ok", "registry": "ok",
                                  "membership": "ok", "rabbitmq": "ok", "sso": "ok",
                                  "keycloak": "ok", "cards": "ok", "object_store": "ok",
                                  "reports": "ok", "notify": "ok", "mail_server": "ok",
                                  "library": "ok", "events": "ok"}


def test_openapi_lists_every_route(api):
    doc = api.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/organizations", "/api/v1/organizations/{org_id}/subtree",
                 "/api/v1/organizations/{org_id}/ancestors", "/api/v1/organizations/import",
                 "/api/v1/organizations/{org_id}/exclude", "/api/v1/stats/organizations",
                 "/api/v1/members", "/api/v1/organizations/{org_id}/members/import",
                 "/api/v1/join/applications", "/api/v1/applications/{app_id}/accept",
                 "/api/v1/members/{member_id}/card-requests", "/api/v1/card-batches",
                 "/api/v1/me/member-card", "/api/v1/organizations/{org_id}/reports",
                 "/api/v1/reports/{report_id}", "/api/v1/quality/summary"):
        assert path in doc["paths"], path
    create = doc["paths"]["/api/v1/organizations"]["post"]["requestBody"]
    assert "inn" in create["content"]["application/json"]["schema"]["properties"]


def test_tree_through_the_api(api):
    ids = build_tree(create_via(api))
    sub = api.get(f"/api/v1/organizations/{ids['region']}/subtree").json()
    assert sub["total"] == 6
    chain = api.get(f"/api/v1/organizations/{ids['subdivision']}/ancestors").json()
    assert [o["id"] for o in chain][0] == ids["central"]
    found = api.get("/api/v1/organizations", params={"q": company_inn(11)}).json()
    assert [o["id"] for o in found] == [ids["primary"]]
    counts = api.get("/api/v1/stats/organizations").json()
    assert sum(c["count"] for c in counts) == len(ids)
    passport = api.get(f"/api/v1/organizations/{ids['primary']}").json()
    assert passport["education"]["inn"] == company_inn(11)
    assert [a["id"] for a in passport["ancestors"]][-1] == ids["territorial"]


def test_edit_history_and_as_of(api):
    ids = build_tree(create_via(api))
    r = api.patch(f"/api/v1/organizations/{ids['primary']}",
                  json={"chair": {"surname": "Петрова", "first_name": "Анна",
                                  "email": "petrova@school1.ru", "email_consent": True}})
    assert r.status_code == 200, r.text
    assert r.json()["chair"]["email"] == "petrova@school1.ru"
    history = api.get(f"/api/v1/organizations/{ids['primary']}/history").json()
    assert history[0]["changed_by"] == "admin@test.reestr"
    assert "chair" in history[0]["diff"]
    r = api.get(f"/api/v1/organizations/{ids['primary']}/passport", params={"as_of": "2000-01-01"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "org_not_in_registry_on_date"


def test_bad_input_gets_code_and_russian_message(api):
    ids = build_tree(create_via(api))
    good = company_inn(40)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    r = api.post("/api/v1/organizations", json=org(
        "primary", "X-1", parent_id=ids["territorial"],
        education={"name": "Школа", "type": "school", "inn": bad}))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    assert err["details"][0]["field"] == "education.inn"
    assert "контрольная цифра" in err["details"][0]["message"]
    r = api.post("/api/v1/organizations", json=org("primary", "X-2", parent_id=ids["primary"]))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "primary_without_rights")
    r = api.post("/api/v1/organizations", json=org("primary", "59-П-1",
                                                    parent_id=ids["territorial"]))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "registry_number_taken")
    r = api.post("/api/v1/organizations", json=org("primary", "X-3", parent_id=123456))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "org_not_found")
    r = api.post("/api/v1/organizations", data="{not json",
                 headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "json_malformed")
    r = api.post(f"/api/v1/organizations/{ids['region']}/move", json={"parent_id": ids["primary"]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "tree_cycle")
    r = api.post(f"/api/v1/organizations/{ids['territorial']}/exclude",
                 json={"excluded_on": "2025-01-01", "reason": "liquidated"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "org_has_children")
    assert "переведите" in r.json()["error"]["message"]
    r = api.get("/api/v1/organizations/999999/subtree")
    assert r.status_code == 404
    r = api.get("/api/v1/organizations", params={"q": "a", "limit": "many"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "query_int")


def test_import_upload_multipart_and_raw(api):
    r = api.post("/api/v1/organizations/import", files={"file": ("tree.xlsx", to_xlsx(GOOD))})
    assert r.status_code == 200, r.text
    assert r.json()["rows_loaded"] == 7
    bad = [dict(GOOD[2], registry_number="59-Т-2", parent_registry_number="nowhere")]
    r = api.post("/api/v1/organizations/import", data=to_csv(bad),
                 params={"filename": "bad.csv"})
    assert r.status_code == 422
    report = r.json()
    assert report["rows_loaded"] == 0
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "parent_unknown")]
    r = api.post("/api/v1/organizations/import", data=b"\x00\x01garbage",
                 params={"filename": "x.csv"})
    assert r.status_code == 422 and r.json()["error"]["code"] in ("file_format", "file_header")


def test_a_big_load_gathers_the_statistics_of_its_indexes(api, engine, monkeypatch):
    """The name index's expression has no statistics until ANALYZE (a national region's search
    planned without them: 300 ms instead of 10); a big load has them gathered after it."""
    from services.registry import load_indexes

    monkeypatch.setattr(load_indexes, "BIG_LOAD", 3)  # the seven rows count as big

    def gathered() -> bool:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'registry' "
                "AND tablename = 'organization_name_key_trgm'")).scalar_one() > 0
    with engine.begin() as conn:  # the index made again has no statistics
        made = conn.execute(text("SELECT pg_get_indexdef("
                                 "'registry.organization_name_key_trgm'::regclass)")).scalar()
        conn.execute(text("DROP INDEX registry.organization_name_key_trgm"))
        conn.execute(text(made))
    assert not gathered()
    r = api.post("/api/v1/organizations/import", data=to_csv(GOOD),
                 params={"filename": "tree.csv"})
    assert r.status_code == 200, r.text
    assert wait_until(gathered, 10)


def test_subtree_travels_gzipped_to_those_who_accept_it(api):
    ids = build_tree(create_via(api))
    zipped = api.get(f"/api/v1/organizations/{ids['region']}/subtree",
                     headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    plain = api.get(f"/api/v1/organizations/{ids['region']}/subtree",
                    headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.json() == plain.json() and plain.json()["total"] == 6


def test_a_kept_subtree_follows_every_change(api):
    """The service keeps a subtree's answer while the tree does not change: an edit, a new
    organization or an exclusion shows in the very next answer."""
    ids = build_tree(create_via(api))
    url = f"/api/v1/organizations/{ids['region']}/subtree"
    assert api.get(url).json()["total"] == 6
    assert api.get(url).json()["total"] == 6  # the kept answer
    r = api.patch(f"/api/v1/organizations/{ids['primary']}", json={"name": "ППО новое имя"})
    assert r.status_code == 200, r.text
    names = {o["id"]: o["name"] for o in api.get(url).json()["items"]}
    assert names[ids["primary"]] == "ППО новое имя"
    api.post("/api/v1/organizations", json={"level": "primary", "registry_number": "59-П-9",
                                            "name": "ППО детского сада",
                                            "parent_id": ids["territorial"]})
    assert api.get(url).json()["total"] == 7
    # whoever may not see the subtree does not get the kept answer either
    assert api.as_user("chair2").get(url).status_code in (403, 404)


def test_healthz_tells_a_busy_service_from_one_away(rpc, bus_users):
    """A service whose workers are all taken leaves the health call in its queue: running,
    so "busy", not "unavailable" like one with no queue or no consumer."""
    import kombu

    from gateway.health import queue_depth, service_checks
    from tests.conftest import AMQP

    with kombu.Connection(AMQP) as conn:
        channel = conn.channel()
        exchange = kombu.Exchange("nameko-rpc", type="topic", durable=True)
        stuck = kombu.Queue("rpc-stuck", exchange, routing_key="stuck.*", auto_delete=True)
        idle = kombu.Queue("rpc-idle", exchange, routing_key="idle.*", auto_delete=True)
        idle(channel).declare()
        taken = []  # a consumer that takes one message and never answers
        consumer = kombu.Consumer(channel, [stuck], callbacks=[lambda b, m: taken.append(m)],
                                  prefetch_count=1)
        with consumer:
            checks = service_checks({"stuck": rpc["stuck"], "idle": rpc["idle"],
                                     "gone": rpc["gone"]},
                                    lambda s: queue_depth(bus_users["gateway"], s))
        idle(channel).delete()
    assert checks.pop("stuck").startswith("busy: ")
    assert checks == {"idle": "unavailable", "gone": "unavailable"}
