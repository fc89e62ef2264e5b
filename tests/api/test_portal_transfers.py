"""Transfers between two chairs through the portal's pages (plain HTTP, a real Keycloak sign-in):
the receiving chair meets «оформите перевод» with a link, finds the person by name and date of
birth, asks; the sending chair approves; both see the state; a wrong date of birth finds nobody;
a decline carries its reason; a region's period lets a request nobody decided go through.
And the undos of the same day: a removal, a transfer, a card handed out."""

import re
from datetime import date

import requests
from sqlalchemy import text

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import card, register
from tests.support.portal import csrf_of
from tests.support.waiting import wait_until

BASE = f"http://{GATEWAY_ADDRESS}"


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def post(http: requests.Session, path: str, data: dict, csrf_from: str = "/portal/transfers"
         ) -> requests.Response:
    page = http.get(BASE + csrf_from, timeout=30)
    return http.post(BASE + path, data={"csrf": csrf_of(page.text), **data},
                     allow_redirects=False, timeout=60)


def test_transfer_requested_by_one_chair_and_approved_by_the_other(api, synced_tree, engine,
                                                                   signed_in):
    ids = synced_tree
    person = card(7)
    member = register(api, ids["primary2"], 7, user="chair2")
    receiving, sending = signed_in("chair"), signed_in("chair2")

    # registering the person again says «оформите перевод» and links to the request
    page = receiving.get(f"{BASE}/portal/org/{ids['primary']}/members/new", timeout=30)
    form = {k: person[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date",
                                   "snils", "joined_on", "category", "pd_consent_on",
                                   "pd_consent_form")}
    refused = receiving.post(f"{BASE}/portal/org/{ids['primary']}/members/new",
                             data={"csrf": csrf_of(page.text), **form}, timeout=30)
    assert refused.status_code == 422 and "оформите перевод" in refused.text
    link = re.search(r'href="(/portal/transfers/new\?[^"]+)"', refused.text).group(1)
    assert "birth_date=" in link

    # a wrong date of birth finds nobody; the right one finds the person and where they are
    wrong = receiving.get(BASE + "/portal/transfers/new", params={
        "to": ids["primary"], "surname": person["surname"], "first_name": "мария",
        "birth_date": "1999-01-01"}, timeout=30)
    assert wrong.status_code == 200 and "Никто не найден" in wrong.text
    found = receiving.get(BASE + link.replace("&amp;", "&"), timeout=30)
    assert found.status_code == 200
    assert "ППО школы № 5 Екатеринбурга" in found.text and "Запросить перевод" in found.text

    asked = receiving.post(BASE + "/portal/transfers/request", data={
        "csrf": csrf_of(found.text), "member_id": member, "to": ids["primary"],
        "birth_date": person["birth_date"], "on": date.today().isoformat()},
        allow_redirects=False, timeout=60)
    assert asked.status_code == 303, asked.text
    request_url = BASE + asked.headers["Location"]
    state = receiving.get(request_url, timeout=30)
    assert "ждёт решения" in state.text and "Одобрить" not in state.text
    assert "Отозвать запрос" in state.text
    # the one who asked cannot approve it
    request_id = int(request_url.rsplit("/", 1)[1])
    forged = post(receiving, f"/portal/transfers/{request_id}/decide", {"approve": "1"})
    assert forged.status_code == 403
    assert scalar(engine, "SELECT org_id FROM membership.member WHERE id = :id",
                  id=member) == ids["primary2"]

    # the sending chair sees it among theirs and approves it on its page
    listing = sending.get(BASE + "/portal/transfers", timeout=30)
    assert person["surname"] in listing.text and "ждёт решения" in listing.text
    assert "Одобрить перевод" in sending.get(request_url, timeout=30).text
    done = post(sending, f"/portal/transfers/{request_id}/decide", {"approve": "1"})
    assert done.status_code == 303
    assert scalar(engine, "SELECT org_id FROM membership.member WHERE id = :id",
                  id=member) == ids["primary"]
    assert scalar(engine, "SELECT change_kind FROM membership.member_version WHERE "
                  "member_id = :id ORDER BY version DESC LIMIT 1", id=member) == "transferred"
    # both see the state; the woman is «переведена»
    assert "переведена" in receiving.get(request_url, timeout=30).text
    assert "переведена" in sending.get(BASE + "/portal/transfers", timeout=30).text
    # the card is the receiving chair's now, its history names both organizations by name
    card_page = receiving.get(f"{BASE}/portal/members/{member}", timeout=30)
    assert card_page.status_code == 200
    assert "перевод в другую организацию" in card_page.text
    assert "ППО школы № 5 Екатеринбурга (рег. № 66-П-1) → ППО МБОУ «СОШ № 1»" in \
        card_page.text.replace("&#34;", '"').replace("&laquo;", "«")


def test_a_declined_request_and_the_regions_period(api, synced_tree, engine, signed_in):
    ids = synced_tree
    first = register(api, ids["primary2"], 8, user="chair2")
    second = register(api, ids["primary2"], 9, user="chair2")
    receiving, sending = signed_in("chair"), signed_in("chair2")

    def ask(member: int, n: int) -> int:
        r = post(receiving, "/portal/transfers/request", {
            "member_id": member, "to": ids["primary"], "snils": card(n)["snils"]})
        assert r.status_code == 303, r.text
        return int(r.headers["Location"].rsplit("/", 1)[1])

    declined = ask(first, 8)
    no_reason = post(sending, f"/portal/transfers/{declined}/decide", {"approve": "0"})
    assert no_reason.status_code == 422 and "причину" in no_reason.text
    post(sending, f"/portal/transfers/{declined}/decide",
         {"approve": "0", "reason": "Работает у нас, документы не передавала"})
    page = receiving.get(f"{BASE}/portal/transfers/{declined}", timeout=30)
    assert "отклонён" in page.text and "документы не передавала" in page.text

    # the region of the sending organization lets requests through after a day
    waiting = ask(second, 9)
    with engine.begin() as c:
        c.execute(text("INSERT INTO membership.transfer_policy (region_id, auto_after_days, "
                       "set_by) VALUES (:r, 1, 'test')"), {"r": ids["region2"]})
    assert scalar(engine, "SELECT status FROM membership.transfer_request WHERE id = :id",
                  id=waiting) == "pending"  # a day has not passed
    with engine.begin() as c:
        c.execute(text("UPDATE membership.transfer_request SET requested_at = now() - "
                       "interval '2 days' WHERE id = :id"), {"id": waiting})
    assert wait_until(lambda: scalar(
        engine, "SELECT status FROM membership.transfer_request WHERE id = :id",
        id=waiting) == "done", timeout=20)
    assert scalar(engine, "SELECT org_id FROM membership.member WHERE id = :id",
                  id=second) == ids["primary"]


def test_regional_staff_set_the_period_on_the_page(api, synced_tree, engine, signed_in):
    regional = signed_in("regional")
    page = regional.get(BASE + "/portal/transfers", timeout=30)
    assert "Срок решения в регионе" in page.text
    r = post(regional, "/portal/transfers/policy",
             {"region_id": synced_tree["region"], "auto_after_days": "5"})
    assert r.status_code == 303
    assert scalar(engine, "SELECT auto_after_days FROM membership.transfer_policy WHERE "
                  "region_id = :r", r=synced_tree["region"]) == 5
    # a chair may not
    chair = signed_in("chair")
    r = post(chair, "/portal/transfers/policy",
             {"region_id": synced_tree["region"], "auto_after_days": "1"})
    assert scalar(engine, "SELECT auto_after_days FROM membership.transfer_policy WHERE "
                  "region_id = :r", r=synced_tree["region"]) == 5


def test_undo_the_same_day_by_whoever_did_it(api, synced_tree, engine, signed_in):
    ids = synced_tree
    member = register(api, ids["primary"], 11)
    chair, regional = signed_in("chair"), signed_in("regional")
    card_url = f"/portal/members/{member}"

    # a removal: undone by the chair who made it, not by someone else
    today = date.today().isoformat()
    post(chair, f"{card_url}/remove", {"removed_on": today, "reason": "own_will"}, card_url)
    assert scalar(engine, "SELECT removed_on FROM membership.member WHERE id = :id",
                  id=member) is not None
    page = chair.get(BASE + card_url, timeout=30)
    assert "Отменить снятие с учёта" in page.text
    assert "Отменить снятие" not in regional.get(BASE + card_url, timeout=30).text
    post(regional, f"{card_url}/undo-remove", {}, card_url)
    assert scalar(engine, "SELECT removed_on FROM membership.member WHERE id = :id",
                  id=member) is not None
    post(chair, f"{card_url}/undo-remove", {}, card_url)
    assert scalar(engine, "SELECT removed_on FROM membership.member WHERE id = :id",
                  id=member) is None
    history = chair.get(BASE + card_url, timeout=30).text
    assert "восстановлен(а) на учёте" in history and "снят(а) с учёта" in history
    assert "по собственному желанию" in history and "own_will" not in history

    # a transfer on the day of registration, undone the same day
    r = post(regional, f"{card_url}/transfer", {"to": "59-С-1", "on": today}, card_url)
    assert r.status_code == 303, r.text
    assert scalar(engine, "SELECT org_id FROM membership.member WHERE id = :id",
                  id=member) == ids["subdivision"]
    assert "Отменить перевод" in regional.get(BASE + card_url, timeout=30).text
    post(regional, f"{card_url}/undo-transfer", {}, card_url)
    assert scalar(engine, "SELECT org_id FROM membership.member WHERE id = :id",
                  id=member) == ids["primary"]
    assert scalar(engine, "SELECT count(*) FROM membership.placement WHERE member_id = :id",
                  id=member) == 0
    assert "перевод отменён" in chair.get(BASE + card_url, timeout=30).text
