"""The rest of the notifications, from the facts' own events: a member told their card was made
and delivered (once each, and not if switched off), the chair's weekly digest of cards waiting
to be handed out, a reporting date near while the report is not submitted (once per date and
distance), and a long import's outcome to whoever started it."""

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.test_cards import bucket, members, run_vendor  # noqa: F401 (a fixture)
from tests.factories import members_csv
from tests.notify.test_applications import _name_chair
from tests.support.waiting import wait_until


def _sent_kinds(engine, recipient: str) -> list[tuple[str, str]]:
    with engine.connect() as c:
        return sorted(c.execute(text("SELECT kind, status FROM notify.message "
                                     "WHERE recipient = :r"), {"r": recipient}).tuples())


def test_card_made_and_delivered_are_told(api, synced_tree, engine, bucket, mailbox):  # noqa: F811
    members(api, 5, 2)  # m1@example.ru, m2@example.ru
    with engine.begin() as c:  # the second switched card notices off in the personal account
        c.execute(text("INSERT INTO notify.opt_out (email, kind) VALUES ('m2@example.ru', "
                       "'card_ready')"))
    api.as_user("chair").post("/api/v1/organizations/5/card-requests")
    assert len(api.post("/api/v1/card-batches").json()) == 1
    run_vendor("--reject-share", "0", "--repeat")  # produced, delivered, each file twice
    api.post("/api/v1/card-batches/responses")
    mails = mailbox.wait_for("m1@example.ru", count=2, timeout=40)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == ["Ваша карта члена Профсоюза доставлена в организацию",
                        "Ваша карта члена Профсоюза изготовлена"]
    delivered = next(m for m in mails if "доставлена" in m["Subject"])
    assert "Получите её у председателя" in delivered["Text"]
    assert "ППО МБОУ «СОШ № 1» г. Кунгура" in delivered["HTML"]
    assert "потому что вы состоите в Профсоюзе" in delivered["Text"]
    assert wait_until(lambda: _sent_kinds(engine, "m2@example.ru") == [
        ("card_ready", "skipped"), ("card_ready", "skipped")], timeout=20)
    assert len(mailbox.to("m1@example.ru")) == 2 and mailbox.to("m2@example.ru") == []


def test_cards_waiting_weekly_digest(api, synced_tree, engine, bucket, mailbox, rpc):  # noqa: F811
    from services.cards import cards

    _name_chair(api, 5, "cards.chair@example.org")
    ids = members(api, 5, 3)
    api.as_user("chair").post("/api/v1/organizations/5/card-requests")
    with engine.begin() as c:  # as the vendor left them three weeks ago
        c.execute(text("UPDATE cards.card SET status = 'delivered', "
                       "status_on = now() - interval '21 days' WHERE member_id = ANY(:m)"),
                  {"m": ids})
    with engine.begin() as conn, Session(bind=conn) as s:  # the cards service's hourly sweep
        assert cards.remind(s, timedelta(days=14)) == 1
        s.flush()

    def items():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM notify.digest_item "
                                  "WHERE digest = 'cards_waiting'")).scalar()
    assert wait_until(lambda: items() == 1, timeout=20)
    assert rpc.notify.send_cards_digests() == 1
    assert rpc.notify.send_cards_digests() == 0
    mail = mailbox.wait_for_subject("cards.chair@example.org", "выдачи")
    assert mail["Subject"] == "3 карты ждут выдачи членам Профсоюза"
    assert "ППО МБОУ «СОШ № 1» г. Кунгура: 3 карты" in mail["Text"]
    assert "не чаще раза в неделю" in mail["Text"]


def test_reporting_date_near(api, tree, rpc, mailbox, engine):
    _name_chair(api, 5, "report.chair@example.org")
    assert rpc.notify.send_report_reminders("2026-09-24") >= 1  # 1 October in 7 days
    assert rpc.notify.send_report_reminders("2026-09-24") == 0  # once
    assert rpc.notify.send_report_reminders("2026-09-20") == 0  # no date 7 or 1 days away
    mail = mailbox.wait_for_subject("report.chair@example.org", "отчётной даты")
    assert mail["Subject"].startswith("7 дней до отчётной даты: «")
    assert "на 1 октября 2026" in mail["Text"] and "осталось 7 дней" in mail["Text"]
    assert rpc.notify.send_report_reminders("2026-09-30") >= 1
    assert wait_until(lambda: any(m["Subject"].startswith("1 день до отчётной даты")
                                  for m in mailbox.to("report.chair@example.org")))
    # a submitted report is not reminded of
    report = api.as_user("chair").post("/api/v1/organizations/5/reports",
                                       json={"family": "stat", "day": "2026-04-01"}).json()
    with engine.begin() as c:  # filled in and submitted (tests/api/test_reports does it)
        c.execute(text("UPDATE reports.report SET status = 'submitted' WHERE id = :i"),
                  {"i": report["id"]})
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM notify.message "
                                "WHERE recipient = 'report.chair@example.org' "
                                "AND kind = 'report_due'")).scalar()
    rpc.notify.send_report_reminders("2026-03-31")
    with engine.connect() as c:
        after = c.execute(text("SELECT count(*) FROM notify.message "
                               "WHERE recipient = 'report.chair@example.org' "
                               "AND kind = 'report_due'")).scalar()
    assert after == before


def test_long_import_is_told_to_who_started_it(api, synced_tree, mailbox, monkeypatch):
    monkeypatch.setenv("LONG_IMPORT_S", "0")  # every import counts as long here
    name = f"list-{uuid.uuid4().hex[:6]}.csv"
    r = api.as_user("chair").post("/api/v1/organizations/5/members/import",
                                  files={"file": (name, members_csv([1, 2, 3]))})
    assert r.status_code in (200, 201, 202), r.text
    mail = mailbox.wait_for_subject("chair@test.reestr", name, timeout=40)
    assert mail["Subject"] == f"Загрузка «{name}» завершена: 3 записи"
    assert "Отклонено: 0 строк" in mail["Text"]
    assert "потому что вы начали эту загрузку" in mail["Text"]
