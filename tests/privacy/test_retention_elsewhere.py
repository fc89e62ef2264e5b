"""Retention beyond membership's own tables (issue 29), through the real services: a reduced
member's Keycloak account and what notify keeps of their address go, every service's audit log
loses its rows past the term (and only through the owner's function), and a removed member an
unsubmitted report counts waits for it, saying why."""

import json
import secrets
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from tests.privacy.test_privacy import CHAIR_ORG, fresh_ids, q, register
from tests.support.waiting import wait_until

AUDITED = ("registry", "membership", "cards", "notify", "library", "events")  # reports: none
TERM = 1825


@pytest.fixture
def rules(api):
    for kind, days, action in (("removed_member", TERM, "reduce"),
                               ("audit_entry", 1095, "erase")):
        assert api.as_user("admin").put(f"/api/v1/privacy/retention-rules/{kind}", json={
            "keep_days": days, "action": action}).status_code == 200


def remove(api, member_id: int, on: date) -> None:
    r = api.as_user("chair").post(f"/api/v1/members/{member_id}/remove",
                                  json={"removed_on": str(on), "reason": "own_will"})
    assert r.status_code == 200, r.text


def notify_rows(engine, email: str) -> dict[str, int]:
    """What notify keeps of an address, table by table."""
    with engine.connect() as conn:
        found = {"message": conn.execute(text(
            "SELECT count(*) FROM notify.message WHERE lower(recipient) = :e"), {"e": email}
        ).scalar_one()}
        for table in ("consent", "opt_out", "sign_in", "address"):
            found[table] = conn.execute(text(
                f"SELECT count(*) FROM notify.{table} WHERE lower(email) = :e"), {"e": email}
            ).scalar_one()
    return found


def put_notify_rows(engine, email: str) -> None:
    """A message sent to the address with its attempt, a consent, an opt-out, a sign-in and a
    bounce state, as notify writes them."""
    message = q(engine, """
        INSERT INTO notify.message (event_id, recipient, kind, context, status)
        VALUES (:ev, :e, 'card_ready', CAST(:ctx AS jsonb), 'sent') RETURNING id""",
                ev=str(uuid.uuid4()), e=email,
                ctx=json.dumps({"first_name": "Мария", "email": email})).scalar_one()
    q(engine, "INSERT INTO notify.attempt (message_id, outcome, smtp_code, detail) VALUES "
              "(:m, 'sent', 250, :d)", m=message, d=f"250 OK <{email}>")
    q(engine, "INSERT INTO notify.consent (email, purpose, granted, text_version, channel, "
              "source) VALUES (:e, 'union_news', true, 'v1', 'account', 'test')", e=email)
    q(engine, "INSERT INTO notify.opt_out (email, kind) VALUES (:e, 'card_ready')", e=email)
    q(engine, "INSERT INTO notify.sign_in (email, first_at, last_at) VALUES (:e, now(), now())",
      e=email)
    q(engine, "INSERT INTO notify.address (email, state) VALUES (:e, 'bouncing')", e=email)


def put_audit_rows(engine, mark: str) -> None:
    """In every service's log: a row past the term (1,100 days old) and one inside it (1,000),
    written as the database's owner could (`at` is the server's clock otherwise)."""
    for service in AUDITED:
        for age in (1100, 1000):
            q(engine, f"""INSERT INTO {service}.audit_log (at, actor, action, record_type,
                          record_id) VALUES (now() - make_interval(days => :age), 'test',
                          'read', 'retention_test', :id)""", age=age, id=f"{mark}-{age}")


def audit_ages(engine, mark: str) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {s: sorted(conn.execute(text(
            f"SELECT record_id FROM {s}.audit_log WHERE record_type = 'retention_test' "
            "AND record_id LIKE :m"), {"m": f"{mark}-%"}).scalars()) for s in AUDITED}


def test_reduced_member_leaves_no_account_no_address_and_old_logs_go(
        api, synced_tree, engine, keycloak, rules):
    from services.sso.keycloak import admin_client

    fresh_ids(engine)
    today = date.today()
    tag = secrets.token_hex(4)
    leaving_mail, shared_mail = f"leaving-{tag}@example.ru", f"family-{tag}@example.ru"
    leaving = register(api, 31, email=leaving_mail, email_consent=True)["id"]
    sharing = register(api, 32, email=shared_mail)["id"]  # reduced, but the address is shared
    staying = register(api, 33, email=shared_mail)["id"]  # on the register with that address
    admin = admin_client(keycloak)
    subject = admin.create_user({"username": f"leaving-{tag}", "email": leaving_mail,
                                 "enabled": True,
                                 "attributes": {"member_id": [str(leaving)]}})
    q(engine, "UPDATE membership.member SET account_subject = :s WHERE id = :id", s=subject,
      id=leaving)
    for email in (leaving_mail, shared_mail):
        put_notify_rows(engine, email)
    for member in (leaving, sharing):
        remove(api, member, today - timedelta(days=TERM + 1))
    put_audit_rows(engine, tag)

    preview = api.as_user("admin").get("/api/v1/privacy/retention/preview")
    assert preview.status_code == 200, preview.text
    due = {k["kind"]: k for k in preview.json()["kinds"]}
    assert due["audit_entry"]["due_now"] >= len(AUDITED)  # earlier tests' old rows: none
    run = api.as_user("admin").post("/api/v1/privacy/retention/run")
    assert run.status_code == 200, run.text
    done = run.json()
    assert done["members"]["records"] == 2
    assert done["audit_entry"]["records"] >= len(AUDITED)
    assert "services_not_reached" not in done["audit_entry"]

    # every log lost the row past the term and kept the one inside it
    assert audit_ages(engine, tag) == {s: [f"{tag}-1000"] for s in AUDITED}

    # the account is gone from Keycloak (sso hears members_reduced)
    def account_gone() -> bool:
        return not admin.get_users({"username": f"leaving-{tag}", "exact": True})
    assert wait_until(account_gone)

    # notify forgot the address; the message stays as a count, without it
    nothing = {"message": 0, "consent": 0, "opt_out": 0, "sign_in": 0, "address": 0}
    assert wait_until(lambda: notify_rows(engine, leaving_mail) == nothing), \
        notify_rows(engine, leaving_mail)
    with engine.connect() as conn:
        anonymised = conn.execute(text(
            "SELECT m.recipient, m.context::text, a.detail FROM notify.message m "
            "JOIN notify.attempt a ON a.message_id = m.id WHERE m.recipient = 'erased:' || m.id"
        )).all()
        dump = conn.execute(text("SELECT string_agg(t::text, ' ') FROM notify.message t")
                            ).scalar()
    assert anonymised and all(r.context == "{}" and r.detail is None for r in anonymised)
    assert leaving_mail not in (dump or "")
    # an address a member on the register still has is kept, with all its rows
    assert notify_rows(engine, shared_mail) == {"message": 1, "consent": 1, "opt_out": 1,
                                                "sign_in": 1, "address": 1}
    assert q(engine, "SELECT email FROM membership.member WHERE id = :id",
             id=staying).scalar() == shared_mail


def test_a_member_an_unsubmitted_report_counts_waits_for_it(api, synced_tree, engine, rules):
    fresh_ids(engine)
    today = date.today()
    removed_on = today - timedelta(days=TERM + 10)
    counted = register(api, 34)["id"]
    uncounted = register(api, 35)["id"]
    q(engine, "UPDATE membership.member SET registered_on = '2015-09-01' WHERE id IN (:a, :b)",
      a=counted, b=uncounted)
    remove(api, counted, removed_on)
    remove(api, uncounted, removed_on)
    path = q(engine, "SELECT path::text FROM membership.org WHERE id = :id",
             id=CHAIR_ORG).scalar_one()
    region_path = ".".join(path.split(".")[:2])
    # a region's report of a day the members were still on the register, not submitted, and
    # one of a day after their removal (it does not count them)
    for day, org_path in ((removed_on - timedelta(days=30), region_path),
                          (removed_on + timedelta(days=3), path)):
        q(engine, """INSERT INTO reports.report (day, family, form, form_year, org_id, path,
                     level, created_by, updated_by) VALUES (:day, 'retention_test', 'x', 2020,
                     :org, CAST(:path AS ltree), 'regional', 'test', 'test')""",
          day=day, org=int(org_path.split(".")[-1]), path=org_path)
    q(engine, "UPDATE membership.member SET registered_on = :d WHERE id = :id",
      d=removed_on - timedelta(days=10), id=uncounted)  # joined after the earlier report's day

    due = {k["kind"]: k for k in api.as_user("admin").get(
        "/api/v1/privacy/retention/preview").json()["kinds"]}
    assert due["removed_member"]["postponed_now"]["unsubmitted_report"] == 1
    done = api.as_user("admin").post("/api/v1/privacy/retention/run").json()
    assert done["members"] == {"records": 1, "postponed": 1}
    reduced = dict(q(engine, "SELECT id, reduced_on IS NOT NULL FROM membership.member "
                             "WHERE id IN (:a, :b)", a=counted, b=uncounted).all())
    assert reduced == {counted: False, uncounted: True}

    # submitted, the report no longer holds the card
    q(engine, "UPDATE reports.report SET status = 'submitted' WHERE family = 'retention_test'")
    done = api.as_user("admin").post("/api/v1/privacy/retention/run").json()
    assert done["members"] == {"records": 1, "postponed": 0}
    assert q(engine, "SELECT reduced_on FROM membership.member WHERE id = :id",
             id=counted).scalar() == today


def test_no_service_purges_a_year_of_its_log(rpc):
    """Even a principal acting for itself (the operator here) cannot purge under a year: the
    owner's function refuses, whatever the caller passes (people are refused before it, by
    the service: tests/security/test_bus.py)."""
    for name in AUDITED:
        with pytest.raises(Exception) as refused:
            getattr(rpc, name).purge_audit(364)
        assert "365" in str(refused.value), refused.value
