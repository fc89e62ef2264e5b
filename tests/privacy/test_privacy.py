"""Personal data over its whole life (issue 29) through the real gateway and services: a
person's copy against everything the test put in, withdrawal end to end, retention over records
of every kind around their term, past reports unchanged, and the refusals."""

import base64
import io
import json
import secrets
import uuid
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from services.membership.retention import quarter_ceil
from tests.factories import card
from tests.support.waiting import wait_until

CHAIR_ORG = 5  # ППО МБОУ «СОШ № 1» (the chair's)


@pytest.fixture
def bucket():
    """The test run's bucket of card files, emptied (the real object store)."""
    from services.cards.storage import Bucket

    b = Bucket()
    b.ensure()
    for key in list(b.keys("")):
        if not key.endswith("/"):
            b.client.delete_object(Bucket=b.name, Key=key)
    return b


def token_subject(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def register(api, n: int, **fields) -> dict:
    r = api.as_user("chair").post(f"/api/v1/organizations/{CHAIR_ORG}/members",
                                  json=card(n, **fields))
    assert r.status_code == 201, r.text
    return r.json()


def fresh_ids(engine) -> None:
    """Member ids no earlier test used: the audit log outlives the emptied tables (its rows
    name ids that restart with them), and a copy says who read the card by its id."""
    q(engine, "SELECT setval('membership.member_id_seq', :v)",
      v=1_000_000 + secrets.randbelow(10**12))


def q(engine, sql: str, **params):
    with engine.begin() as c:
        return c.execute(text(sql), params)


@pytest.fixture
def member_account(keycloak):
    """The test member's Keycloak account carrying a member's id (as sso makes it), and
    restored after: `link(member_id)`, then `active()` reads the claim partners see."""
    from services.sso.accounts import _update
    from services.sso.keycloak import admin_client

    admin = admin_client(keycloak)
    uid = admin.get_user_id("member@test.reestr")
    before = admin.get_user(uid)

    def link(member_id: int) -> None:
        attrs = {**(before.get("attributes") or {}), "member_id": [str(member_id)],
                 "member_active": ["true"]}
        _update(admin, admin.get_user(uid), attributes=attrs)

    def active() -> str:
        return (admin.get_user(uid).get("attributes") or {}).get("member_active", [""])[0]
    link.active = active  # type: ignore[attr-defined]
    yield link
    _update(admin, admin.get_user(uid), attributes=before.get("attributes") or {})


def test_my_copy_holds_everything_put_in_then_withdrawal(api, synced_tree, engine, tokens,
                                                          rpc, member_account):
    fresh_ids(engine)
    put = card(1, email_consent=True)
    mid = register(api, 1, email_consent=True)["id"]
    assert api.as_user("chair").patch(f"/api/v1/members/{mid}",
                                      json={"phone": "+7 900 000-00-01"}).status_code == 200
    assert api.as_user("regional").get(f"/api/v1/members/{mid}").status_code == 200
    q(engine, "UPDATE membership.member SET account_subject = :s WHERE id = :id",
      s=token_subject(tokens("member")), id=mid)
    member_account(mid)

    r = api.as_user("member").get("/api/v1/me/data")
    assert r.status_code == 200, r.text
    d = r.json()
    c = d["card"]
    for key in ("surname", "first_name", "patronymic", "snils", "email", "birth_date",
                "joined_on"):
        assert c[key] == put[key], key
    assert c["phone"] == "+79000000001"
    assert [o["org_name"] for o in d["organizations"]] == ["ППО МБОУ «СОШ № 1» г. Кунгура"]
    pd = next(x for x in d["consents"] if x["kind"] == "personal_data")
    assert pd["given_on"] == "2024-01-10" and "обработку моих персональных данных" in pd["text"]
    assert [v["change_kind"] for v in d["changes"]] == ["edited"]
    assert d["changes"][0]["diff"]["phone"] == ["+79123456789", "+79000000001"]
    # who read it: by role and organization, never by name
    roles = {x["role"]: x for x in d["readers"]}
    assert "Председатель" in roles["chair"]["role_title"]
    assert roles["chair"]["organizations"] == "ППО МБОУ «СОШ № 1» г. Кунгура"
    assert "просмотр карточки" in roles["regional_staff"]["actions"]
    assert "chair@test.reestr" not in r.text and "regional@test.reestr" not in r.text
    assert d["cards"] == [] and d["requests"] == []

    pdf = api.as_user("member").get("/api/v1/me/data", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # each copy is recorded; repeated copies are throttled (5 a day)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM membership.data_request WHERE "
                                 "member_id = :id AND kind = 'copy'"), {"id": mid}).scalar() == 2
    codes = [api.as_user("member").get("/api/v1/me/data").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Повторите позже" in api.as_user("member").get("/api/v1/me/data").json()[
        "error"]["message"]

    # withdrawal: dated, recorded, removed with the reason, e-mail off at once
    assert rpc.membership.mail_contacts([mid])
    w = api.as_user("member").post("/api/v1/me/consent-withdrawal")
    assert w.status_code == 200, w.text
    got = w.json()
    today = date.today()
    assert got["removal_reason"] == "consent_withdrawn" and got["removed_on"] == str(today)
    assert got["pd_consent_withdrawn_on"] == str(today) and got["email_consent"] is False
    assert got["reduce_on"] == str(today + timedelta(days=30))
    assert rpc.membership.mail_contacts([mid]) == []
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind, channel, asked_on FROM membership.data_request "
                                  "WHERE member_id = :id AND kind = 'withdrawal'"),
                             {"id": mid}).all()
        assert kinds == [("withdrawal", "account", today)]
        events = conn.execute(text("SELECT event_type FROM membership.outbox "
                                   "WHERE payload->>'member_id' = :id"), {"id": str(mid)}
                              ).scalars().all()
    assert "member_removed" in events
    # the partners' claim goes: sso sets member_active false on the account
    assert wait_until(lambda: member_account.active() == "false", timeout=30)
    assert api.as_user("member").post("/api/v1/me/consent-withdrawal").status_code == 409


def test_paper_requests_scope_and_legal_hold(api, synced_tree, engine):
    mid = register(api, 2)["id"]
    # a request by someone not the person or their chair
    assert api.as_user("chair2").get(f"/api/v1/members/{mid}/data").status_code == 404
    assert api.as_user("member").get(f"/api/v1/members/{mid}/data").status_code == 403
    assert api.as_user("chair2").post(f"/api/v1/members/{mid}/consent-withdrawal",
                                      json={}).status_code == 404
    asked = str(date.today() - timedelta(days=3))
    r = api.as_user("chair").get(f"/api/v1/members/{mid}/data", params={"asked_on": asked})
    assert r.status_code == 200 and r.json()["requests"] == []
    later = api.as_user("chair").get(f"/api/v1/members/{mid}/data").json()
    assert later["requests"][0]["channel"] == "paper" and later["requests"][0]["asked_on"] == asked
    assert later["requests"][0]["answered_on"] == str(date.today())
    future = str(date.today() + timedelta(days=1))
    assert api.as_user("chair").get(f"/api/v1/members/{mid}/data",
                                    params={"asked_on": future}).status_code == 422

    # a legal hold: only the Central Council places it; withdrawal under it is refused
    hold = {"reason": "Дело № 2-123/2026, Кунгурский городской суд"}
    assert api.as_user("chair").post(f"/api/v1/members/{mid}/legal-hold",
                                     json=hold).status_code == 403
    assert api.as_user("admin").post(f"/api/v1/members/{mid}/legal-hold",
                                     json=hold).status_code == 200
    r = api.as_user("chair").post(f"/api/v1/members/{mid}/consent-withdrawal", json={})
    assert r.status_code == 409 and "удерживается" in r.json()["error"]["message"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT removed_on FROM membership.member WHERE id = :id"),
                            {"id": mid}).scalar() is None
    assert api.as_user("admin").delete(f"/api/v1/members/{mid}/legal-hold").status_code == 204
    r = api.as_user("chair").post(f"/api/v1/members/{mid}/consent-withdrawal",
                                  json={"asked_on": asked})
    assert r.status_code == 200 and r.json()["removal_reason"] == "consent_withdrawn"
    # a chair cannot pick the reason by hand
    other = register(api, 3)["id"]
    assert api.as_user("chair").post(f"/api/v1/members/{other}/remove", json={
        "removed_on": str(date.today()), "reason": "consent_withdrawn"}).status_code == 422


def test_rules_are_the_councils_and_respect_the_law(api, synced_tree):
    rules = api.as_user("admin").get("/api/v1/privacy/retention-rules")
    assert rules.status_code == 200
    kinds = {r["kind"] for r in rules.json()}
    assert kinds == {"removed_member", "consent_withdrawn_member", "declined_application",
                     "expired_application", "import_report", "card_batch_file",
                     "audit_entry"}
    audit_low = api.as_user("admin").put("/api/v1/privacy/retention-rules/audit_entry",
                                         json={"keep_days": 364, "action": "erase"})
    assert audit_low.status_code == 422 and "365" in audit_low.json()["error"]["message"]
    url = "/api/v1/privacy/retention-rules/removed_member"
    assert api.as_user("chair").get("/api/v1/privacy/retention-rules").status_code == 403
    assert api.as_user("chair").put(url, json={"keep_days": 2000,
                                               "action": "reduce"}).status_code == 403
    low = api.as_user("admin").put(url, json={"keep_days": 100, "action": "reduce"})
    assert low.status_code == 422 and "1095" in low.json()["error"]["message"]
    high = api.as_user("admin").put("/api/v1/privacy/retention-rules/consent_withdrawn_member",
                                    json={"keep_days": 60, "action": "reduce"})
    assert high.status_code == 422 and "30" in high.json()["error"]["message"]
    wrong = api.as_user("admin").put(url, json={"keep_days": 2000, "action": "erase"})
    assert wrong.status_code == 422
    ok = api.as_user("admin").put(url, json={"keep_days": 2000, "action": "reduce"})
    assert ok.status_code == 200 and ok.json()["keep_days"] == 2000
    assert ok.json()["set_by"] == "admin@test.reestr"
    reg = api.as_user("auditor").get("/api/v1/privacy/processing-register")
    assert reg.status_code == 200, reg.text
    body = reg.json()
    assert body["undescribed"] == []
    assert {d["column"] for d in body["data"]} >= {"surname", "snils", "birth_date"}
    assert any(t["kind"] == "removed_member" and t["keep_days"] == 2000 for t in body["terms"])
    pdf = api.as_user("admin").get("/api/v1/privacy/processing-register",
                                   params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert api.as_user("chair").get("/api/v1/privacy/processing-register").status_code == 403


def _counts(rpc, days: list[date]) -> dict[str, str]:
    return {d.isoformat(): rpc.membership.counts_as_of(d.isoformat()) for d in days}


def test_retention_over_every_kind_around_the_term(api, synced_tree, engine, rpc, bucket):
    today = date.today()
    term = 1825
    for kind, days, action in (("removed_member", term, "reduce"),
                               ("consent_withdrawn_member", 30, "reduce"),
                               ("declined_application", 365, "erase"),
                               ("expired_application", 180, "erase"),
                               ("import_report", 365, "erase"),
                               ("card_batch_file", 730, "erase")):
        # the defaults, again: the rules table outlives the emptied ones
        assert api.as_user("admin").put(f"/api/v1/privacy/retention-rules/{kind}", json={
            "keep_days": days, "action": action}).status_code == 200
    # removed members: just past the term, just inside it; withdrawn just past 30 days;
    # past the term but held, or with an open application of the same person
    ids = {}
    for n, name in enumerate(("past", "inside", "withdrawn", "held", "applying", "producing",
                              "active"), start=10):
        ids[name] = register(api, n, birth_date=f"1990-0{n % 9 + 1}-1{n % 9}",
                             email_consent=True)["id"]
        assert api.as_user("chair").patch(f"/api/v1/members/{ids[name]}",
                                          json={"phone": f"+7 900 000-00-{n}"}
                                          ).status_code == 200
    removed_on = {"past": today - timedelta(days=term + 1),
                  "inside": today - timedelta(days=term - 1),
                  "withdrawn": today - timedelta(days=31),
                  "held": today - timedelta(days=term + 5),
                  "applying": today - timedelta(days=term + 5),
                  "producing": today - timedelta(days=term + 5)}
    for name, day in removed_on.items():
        reason = "own_will"
        r = api.as_user("chair").post(f"/api/v1/members/{ids[name]}/remove",
                                      json={"removed_on": str(day), "reason": reason})
        assert r.status_code == 200, r.text
    q(engine, "UPDATE membership.member SET removal_reason = 'consent_withdrawn' WHERE id = :id",
      id=ids["withdrawn"])
    assert api.as_user("admin").post(f"/api/v1/members/{ids['held']}/legal-hold",
                                     json={"reason": "запрос суда"}).status_code == 200
    key = q(engine, "SELECT person_key FROM membership.member WHERE id = :id",
            id=ids["applying"]).scalar()
    apps = {}
    for name, status, age in (("open", "submitted", 0), ("declined_old", "declined", 366),
                              ("declined_new", "declined", 364), ("expired_old", "expired", 181),
                              ("expired_new", "expired", 179)):
        apps[name] = str(uuid.uuid4())
        q(engine, """INSERT INTO membership.application (id, org_id, card, status, submitted_at,
                     decided_at, person_key) VALUES (:id, 5, CAST(:card AS jsonb), :st,
                     now() - make_interval(days => :age), CASE WHEN :st <> 'submitted' THEN
                     now() - make_interval(days => :age) END, :key)""",
          id=apps[name], card=json.dumps({"surname": "Заявителева"}), st=status, age=age,
          key=key if name == "open" else f"k-{name}")
    for name, age in (("old", 366), ("new", 364)):
        q(engine, """INSERT INTO membership.import_run (org_id, filename, sha256, status,
                     imported_by, started_at, finished_at, report) VALUES (5, :f, 'x', 'loaded',
                     'chair', now() - make_interval(days => :age),
                     now() - make_interval(days => :age), CAST(:r AS jsonb))""",
          f=f"члены_{name}.xlsx", age=age, r=json.dumps({"rows": [{"ФИО": "Иванова Мария"}]}))

    # a card handed out to «past» (its name goes with the card) and one still with the vendor
    for name, status, number in (("past", "issued", "5900000000000011"),
                                 ("producing", "batched", "5900000000000029")):
        q(engine, """INSERT INTO cards.card (number, member_id, org_id, org_path, region_id,
                     holder, org_number, org_name, kind, status, requested_by)
                     VALUES (:no, :m, 5, '1.2.4.5', 2, 'ИВАНОВА МАРИЯ', '59-П-1', 'ППО',
                     'plastic', :st, 'system')""", no=number, m=ids[name], st=status)

    # card batch files in the bucket: one sent past the term, one inside it
    for prefix, age in (("b-old", 731), ("b-new", 729)):
        q(engine, """INSERT INTO cards.batch (region_id, region_code, status, cards,
                     object_prefix, created_by, created_at, sent_at) VALUES (2, '59', 'sent', 1,
                     :p, 'system', now() - make_interval(days => :age),
                     now() - make_interval(days => :age))""", p=prefix, age=age)
        bucket.put(f"outbound/{prefix}/cards.csv", "ИВАНОВА МАРИЯ;...".encode())
        bucket.put(f"inbound/{prefix}/response.csv", "ИВАНОВА МАРИЯ;ok".encode())

    preview = api.as_user("admin").get("/api/v1/privacy/retention/preview")
    assert preview.status_code == 200, preview.text
    due = {k["kind"]: k for k in preview.json()["kinds"]}
    assert due["removed_member"]["due_now"] == 4  # past, held, applying, producing
    assert due["removed_member"]["postponed_now"] == {"legal_hold": 1, "open_application": 1,
                                                      "card_in_production": 1,
                                                      "unsubmitted_report": 0}
    assert due["removed_member"]["ahead"][0]["records"] == 1  # inside: in two days
    assert due["consent_withdrawn_member"]["due_now"] == 1
    assert due["declined_application"]["due_now"] == 1
    assert due["import_report"]["due_now"] == 1
    assert due["card_batch_file"]["due_now"] == 1
    assert api.as_user("chair").get("/api/v1/privacy/retention/preview").status_code == 403

    quarter_days = [date(y, m, 1) for y in range(today.year - 6, today.year + 1)
                    for m in (1, 4, 7, 10) if date(y, m, 1) <= today]
    before = _counts(rpc, quarter_days)
    personal = q(engine, "SELECT id, surname, snils, birth_date FROM membership.member").all()
    run = api.as_user("admin").post("/api/v1/privacy/retention/run")
    assert run.status_code == 200, run.text
    done = run.json()
    assert done["members"] == {"records": 2, "postponed": 3}
    assert done["declined_application"]["records"] == 1
    assert done["expired_application"]["records"] == 1
    assert done["import_report"]["records"] == 1
    assert done["card_batch_file"]["records"] == 1
    # the object store, checked directly
    assert sorted(k for k in bucket.keys("") if not k.endswith("/")) == [
        "inbound/b-new/response.csv", "outbound/b-new/cards.csv"]
    assert _counts(rpc, quarter_days) == before

    reduced = {ids["past"], ids["withdrawn"]}
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT * FROM membership.member"))}
        for mid in reduced:
            r = rows[mid]
            assert (r.surname, r.first_name, r.patronymic, r.snils, r.phone, r.email,
                    r.card_number, r.account_subject) == (None,) * 8
            assert r.email_consent is False and r.reduced_on == today
            assert r.person_key == f"erased:{mid}" and r.sex == "female"
            assert r.org_id == CHAIR_ORG and r.category == "working"
            old = next(p for p in personal if p.id == mid)
            assert r.birth_date == quarter_ceil(old.birth_date)
            versions = conn.execute(text("SELECT card::text || diff::text FROM "
                                         "membership.member_version WHERE member_id = :id"),
                                    {"id": mid}).scalars().all()
            assert versions
            for v in versions:
                assert old.surname not in v and old.snils not in v and "+79" not in v
        for name in ("inside", "held", "applying", "producing", "active"):
            assert rows[ids[name]].surname is not None and rows[ids[name]].reduced_on is None
        left = set(conn.execute(text("SELECT id::text FROM membership.application")).scalars())
        assert left == {apps["open"], apps["declined_new"], apps["expired_new"]}
        reports = conn.execute(text("SELECT filename, report IS NULL FROM membership.import_run "
                                    "ORDER BY id")).all()
        assert reports == [("", True), ("члены_new.xlsx", False)]
        dump = conn.execute(text("SELECT string_agg(t::text, ' ') FROM membership.member t"
                                 )).scalar()
    for mid in reduced:
        old = next(p for p in personal if p.id == mid)
        assert old.surname not in dump and old.snils not in dump
    # the name printed on the card goes too (cards hears members_reduced)
    def holders():
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT member_id, holder FROM cards.card")).all())
    assert wait_until(lambda: holders()[ids["past"]] == "")
    assert holders()[ids["producing"]] == "ИВАНОВА МАРИЯ"
    # nor in the exports
    export = api.as_user("chair").get("/api/v1/members/export.xlsx", params={"status": "all"})
    assert export.status_code == 200
    cells = " ".join(str(c) for row in load_workbook(io.BytesIO(export.content)).active
                     .iter_rows(values_only=True) for c in row)
    for mid in reduced:
        old = next(p for p in personal if p.id == mid)
        assert old.surname not in cells
    # what was erased: counts, never the data
    erased = api.as_user("admin").get("/api/v1/privacy/retention/erased").json()
    newest: dict[str, int] = {}  # newest first; the table outlives the emptied ones
    for e in erased:
        newest.setdefault(e["kind"], e["records"])
    assert newest == {
        "members": 2, "declined_application": 1, "expired_application": 1, "import_report": 1,
        "card_batch_file": 1}
    assert "Иванова" not in json.dumps(erased, ensure_ascii=False)
    # a second run finds nothing more; the reduced person's copy says only what is left
    assert api.as_user("admin").post("/api/v1/privacy/retention/run").json()["members"][
        "records"] == 0
    left = api.as_user("admin").get(f"/api/v1/members/{ids['past']}/data").json()["card"]
    assert left["surname"] is None and left["snils"] is None and left["org_id"] == CHAIR_ORG


@pytest.mark.parametrize("user", ["chair", "member", "regional", "auditor"])
def test_only_the_council_runs_retention(api, synced_tree, user):
    assert api.as_user(user).post("/api/v1/privacy/retention/run").status_code == 403
    assert api.as_user(user).get("/api/v1/privacy/retention/erased").status_code == 403
