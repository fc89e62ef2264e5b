"""Applicants and chairs told by e-mail, through the real Mailpit: the application arrived (with
its number), the decisions, the chairs' daily digest (one message for many applications), and a
chair who switched the digest off."""

from sqlalchemy import text

from tests.api.test_join import application
from tests.support.waiting import wait_until


def _submit(api, n: int, **fields) -> str:
    r = api.as_user(None).post("/api/v1/join/applications", json=application(n, **fields))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _body(msg: dict) -> str:
    return msg["Text"]


def test_applicant_told_on_submission_with_number(api, synced_tree, mailbox):
    app_id = _submit(api, 1)
    number = app_id.split("-")[0].upper()
    [msg] = mailbox.wait_for("joiner1@example.ru")
    assert msg["Subject"] == f"Заявление о вступлении в Профсоюз № {number} получено"
    assert f"Номер заявления: {number}" in _body(msg)
    assert f"/join/applications/{app_id}" in _body(msg)
    assert "потому что подали заявление" in _body(msg)  # why the person receives it
    assert number in msg["HTML"] and "<strong>" in msg["HTML"]


def test_decisions_are_told(api, synced_tree, mailbox):
    accepted, declined = _submit(api, 1), _submit(api, 2)
    chair = api.as_user("chair")
    assert chair.post(f"/api/v1/applications/{accepted}/accept").status_code == 200
    r = chair.post(f"/api/v1/applications/{declined}/decline",
                   json={"reason": "Вы не работаете в нашей школе"})
    assert r.status_code == 200, r.text
    yes = mailbox.wait_for_subject("joiner1@example.ru", "приняты")
    assert "личный кабинет" in _body(yes).lower() and "приглашение" in _body(yes)
    # the invitation itself comes from Keycloak: a link to set a password
    invitation = mailbox.wait_for_subject("joiner1@example.ru", "учетной записи", timeout=30)
    assert "login-actions/action-token" in _body(invitation)
    no = mailbox.wait_for_subject("joiner2@example.ru", "Решение по заявлению")
    assert "Причина: Вы не работаете в нашей школе" in _body(no)
    assert len(mailbox.to("joiner2@example.ru")) == 2  # received, declined: no invitation


def _name_chair(api, org_id: int, email: str) -> None:
    r = api.patch(f"/api/v1/organizations/{org_id}", json={"chair": {
        "surname": "Председателева", "first_name": "Анна", "email": email}})
    assert r.status_code == 200, r.text


def test_digest_sends_one_message_for_many(api, synced_tree, mailbox, rpc, engine):
    _name_chair(api, 5, "chair5@example.org")
    ids = [_submit(api, n) for n in range(1, 6)]

    def gathered():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM notify.digest_item")).scalar() == 5
    assert wait_until(gathered), "the applications did not reach notify"
    assert rpc.notify.send_digests() == 1
    assert rpc.notify.send_digests() == 0  # nothing new; and not twice a day anyway
    # (the chair's invitation from Keycloak goes to the same address)
    assert wait_until(lambda: len(_digests(mailbox)) == 1)
    [msg] = [mailbox.message(m["ID"]) for m in _digests(mailbox)]
    assert msg["Subject"] == "5 заявлений ждут вашего решения"
    for app_id in ids:
        assert app_id.split("-")[0].upper() in _body(msg)
    assert "Поступили 5 заявлений" in _body(msg)
    assert "Отключить" in _body(msg)
    # a sixth waits for tomorrow's digest
    _submit(api, 6)
    assert wait_until(lambda: len(mailbox.to("joiner6@example.ru")) == 1)
    assert rpc.notify.send_digests() == 0
    rpc.notify.send_now()
    assert len(_digests(mailbox)) == 1


def _digests(mailbox) -> list[dict]:
    return [m for m in mailbox.to("chair5@example.org") if "решения" in m["Subject"]]


def test_switching_the_digest_off_stops_it(api, synced_tree, mailbox, rpc, engine):
    from services.notify import preferences

    _name_chair(api, 5, "chair5@example.org")
    with engine.begin() as c:
        from sqlalchemy.orm import Session

        with Session(bind=c) as s:
            preferences.set_many(s, "Chair5@example.org", {"applications_waiting": False})
    _submit(api, 1)
    assert wait_until(lambda: len(mailbox.to("joiner1@example.ru")) == 1)
    rpc.notify.send_digests()
    log = rpc.notify.delivery_log(recipient="chair5@example.org")
    assert [(m["kind"], m["status"], m["error"]) for m in log
            if m["kind"] != "invitation"] == [("applications_waiting", "skipped", "opted_out")]
    rpc.notify.send_now()
    assert _digests(mailbox) == []


def test_status_page_and_chairs_queue_show_the_number(api, synced_tree, mailbox):
    import requests

    from tests.conftest import GATEWAY_ADDRESS

    app_id = _submit(api, 1)
    number = app_id.split("-")[0].upper()
    page = requests.get(f"http://{GATEWAY_ADDRESS}/join/applications/{app_id}", timeout=30)
    assert page.status_code == 200 and number in page.text
    assert "Сохраните адрес этой страницы" not in page.text
    [msg] = mailbox.wait_for("joiner1@example.ru")
    assert f"/join/applications/{app_id}" in msg["Text"]
