"""The events journey on a phone-sized Chromium against the real services and Keycloak: the
region creates a seminar in the portal, the chair registers members (several at once, the last
one to the waiting list), a member cancels in «Мероприятия» and the waiting one is offered the
place, and at the door check-ins are made with no connection, kept over a reload (the service
worker's copy of the page) and synced once online, with no duplicate."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD
from tests.e2e.conftest import base, browser, new_page, screens, sign_in  # noqa: F401
from tests.e2e.remote_browser import aborting
from tests.events.helpers import give_cards, link_account, members
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("keycloak")


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def phone(new_page, base, user: str):  # noqa: F811
    page = new_page(phone=True)
    page.goto(base + "/portal/login")
    sign_in(page, f"{user}@test.reestr", PASSWORD)
    return page


def test_seminar_on_the_phone(api, synced_tree, engine, tokens, new_page, base,  # noqa: F811
                              screens):  # noqa: F811
    ours = members(api, 5, 3, first=300)
    give_cards(engine, ours)

    # the region creates the seminar
    page = phone(new_page, base, "regional")
    page.goto(base + "/portal/events/new?org_id=2")
    page.fill("input[name=title]", "Семинар по охране труда")
    page.select_option("select[name=kind]", "seminar")
    starts = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00")
    page.fill("input[name=starts_at]", starts)
    page.fill("input[name=capacity]", "2")
    page.fill("textarea[name=questions]", "Нужна ли гостиница?")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Мероприятие создано")
    event_id = int(page.url.rstrip("/").split("/")[-1])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screens.shot(page, "1-created")

    # the chair finds their members and registers all three at once
    chair = phone(new_page, base, "chair")
    chair.goto(f"{base}/portal/events")
    chair.click("text=Семинар по охране труда")
    chair.fill("input[name=q]", "Иванова")
    chair.click("form.search button")
    boxes = chair.locator("input[name=member_id]")
    assert boxes.count() == 3
    for i in range(3):
        boxes.nth(i).check()
    chair.click("text=Зарегистрировать отмеченных")
    chair.wait_for_selector("text=Зарегистрировано: 2, в листе ожидания: 1")
    assert chair.evaluate("document.documentElement.scrollWidth") <= 390
    screens.shot(chair, "2-registered")
    waiting = scalar(engine, "SELECT member_id FROM events.registration WHERE status = 'waiting'")
    first = scalar(engine, "SELECT member_id FROM events.registration WHERE status = "
                           "'registered' ORDER BY id LIMIT 1")

    # a member cancels in the personal account: the one waiting is offered the place
    link_account(engine, tokens, first)
    member = phone(new_page, base, "member")
    member.goto(f"{base}/portal/account/events")
    member.wait_for_selector("text=Зарегистрирован")
    member.click("text=Отменить регистрацию")
    member.wait_for_selector("text=Регистрация отменена")
    screens.shot(member, "3-cancelled")
    assert scalar(engine, "SELECT status FROM events.registration WHERE member_id = :m",
                  m=waiting) == "offered"

    # the door: the page kept by the service worker, check-ins made offline
    page.goto(f"{base}/portal/events/{event_id}/door")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now through the worker, which keeps a copy
    page.wait_for_selector("#door-list tr")
    context = page.context
    context.set_offline(True)
    # Chromium's offline emulation does not stop a service worker's own fetches, and a page
    # reloaded offline may start with navigator.onLine still true: the door's endpoint is cut
    # as well, as a phone without signal would be
    context.route("**/checkins", aborting("internetdisconnected"))
    page.locator("#door-list tr button").first.click()
    page.wait_for_selector("text=Ждут отправки: 1")
    page.reload()  # no connection: the worker's copy, the queue still on the phone
    page.wait_for_selector("text=Ждут отправки: 1")
    # the same person once more (by the list): already in, nothing queued
    page.locator("#door-list tr").first.locator("td").nth(1).wait_for()
    assert page.locator("#door-list tr.removed").count() == 1
    screens.shot(page, "4-offline")
    assert scalar(engine, "SELECT count(*) FROM events.checkin") == 0
    context.unroute("**/checkins")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert wait_until(lambda: scalar(engine, "SELECT count(*) FROM events.checkin") == 1)
    page.wait_for_selector("#door-queue", state="hidden")
    page.reload()
    page.wait_for_selector("text=Пришли 1 из 1")
    assert scalar(engine, "SELECT count(*) FROM events.registration WHERE checked_in_at IS "
                          "NOT NULL") == 1
    screens.shot(page, "5-synced")


def test_meeting_on_the_phone(api, synced_tree, engine, new_page, base, screens):  # noqa: F811
    chair_api = api.as_user("chair")
    body = chair_api.post("/api/v1/organizations/5/bodies", json={"kind": "profcom"}).json()
    chair_api.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2024-01-01", "people": [{"full_name": f"Членова {c}"} for c in "АБВГ"]})
    meeting = chair_api.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-11-20", "agenda": [{"title": "О плане работы"}]}).json()

    page = phone(new_page, base, "chair")
    page.goto(f"{base}/portal/org/5/events")
    page.click("text=Заседание 20.11.2026")
    boxes = page.locator("input[name=present]")
    for i in range(3):
        boxes.nth(i).check()
    page.click("text=Сохранить явку")
    page.wait_for_selector("text=Присутствуют 3 из 4: кворум есть")
    page.fill("textarea[name=decided]", "Утвердить план")
    page.fill("input[name=votes_for]", "5")  # more than those present: refused
    page.click("text=Записать")
    page.wait_for_selector("text=больше, чем присутствующих")
    page.fill("input[name=votes_for]", "3")
    page.click("text=Записать")
    page.wait_for_selector("text=Вопрос записан")
    page.click("text=Сформировать протокол")
    page.wait_for_selector("text=Протокол № 1 сформирован")
    page.click("main button.secondary")  # «Подписать»
    page.wait_for_selector("text=Протокол подписан")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screens.shot(page, "meeting")
    assert scalar(engine, "SELECT signed_at IS NOT NULL FROM events.protocol "
                          "WHERE meeting_id = :m", m=meeting["id"])
