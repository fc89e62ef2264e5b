"""The library's pages in the portal: a regional staff member publishes with a file from a
phone-sized form, a chair finds it in the menu, searches it, opens it and downloads it."""

import re

import pytest
import requests

from tests.conftest import GATEWAY_ADDRESS
from tests.library import files
from tests.support.portal import csrf_of, portal_cookies

BASE = f"http://{GATEWAY_ADDRESS}"




@pytest.fixture
def regional(keycloak):
    return portal_cookies(keycloak, "regional")


@pytest.fixture
def chair(keycloak):
    return portal_cookies(keycloak, "chair")


def test_publish_find_open_and_download_in_the_portal(api, tree, regional, chair):
    form = requests.get(f"{BASE}/portal/library/new", cookies=regional, timeout=30)
    assert form.status_code == 200 and 'name="viewport"' in form.text
    data = {"csrf": csrf_of(form.text), "kind": "document", "title": "Памятка о взносах",
            "description": "Для председателей ППО", "topics": "взносы, учёт",
            "audiences": ["chairs"], "effective_on": "2024-09-01"}
    r = requests.post(f"{BASE}/portal/library/new", data=data, cookies=regional,
                      files={"file": ("pamyatka.pdf", files.pdf("Ставка членских взносов"))},
                      allow_redirects=False, timeout=60)
    assert r.status_code == 303, r.text
    location = r.headers["Location"]
    assert re.fullmatch(r"/portal/library/\d+", location)
    page = requests.get(BASE + location, cookies=regional, timeout=30)
    assert "Памятка о взносах" in page.text and "Действующая редакция" in page.text
    assert "Добавить редакцию" in page.text
    # the chair: the menu leads to the library, the search finds the word in another form
    home = requests.get(f"{BASE}/portal/library", params={"q": "взнос"}, cookies=chair,
                        timeout=30)
    assert 'href="/portal/library"' in home.text
    assert "Памятка о взносах" in home.text and "«" in home.text
    seen = requests.get(BASE + location, cookies=chair, timeout=30)
    assert seen.status_code == 200 and "Добавить редакцию" not in seen.text
    file = requests.get(BASE + location + "/file", cookies=chair, timeout=30)
    assert file.status_code == 200 and file.content.startswith(b"%PDF")
    # a regional staff member's refused audience is told next to the form, nothing made
    data.update(csrf=csrf_of(form.text), region_id="3", title="Чужой регион")
    r = requests.post(f"{BASE}/portal/library/new", data=data, cookies=regional,
                      allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "только для своего региона" in r.text
    assert api.get("/api/v1/library/materials", params={"q": "Чужой"}).json()["total"] == 0


def test_a_webinar_recording_belongs_to_its_event(api, tree, regional, chair):
    """A recording published with its event's number: the event's page lists it, the
    material's page links back, the API finds it by event; an event the publisher cannot see
    (another region's) is refused as unknown, and nothing is made."""
    from tests.events.helpers import seminar

    event = api.as_user("chair").post(f"/api/v1/organizations/{tree['primary']}/events",
                                      json=seminar(title="Вебинар о коллективном договоре"))
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    other = api.as_user("chair2").post(f"/api/v1/organizations/{tree['primary2']}/events",
                                       json=seminar(title="Чужой вебинар"))
    assert other.status_code == 201, other.text
    form = requests.get(f"{BASE}/portal/library/new", cookies=regional, timeout=30)
    data = {"csrf": csrf_of(form.text), "kind": "video", "title": "Запись вебинара",
            "description": "Коллективный договор", "topics": "вебинар",
            "audiences": ["chairs"], "effective_on": "2026-11-01", "event_id": str(event_id)}
    r = requests.post(f"{BASE}/portal/library/new", data=data, cookies=regional,
                      files={"file": ("webinar.mp4", files.mp4(200_000))},
                      allow_redirects=False, timeout=60)
    assert r.status_code == 303, r.text
    material = r.headers["Location"]
    page = requests.get(BASE + material, cookies=chair, timeout=30)
    assert f'href="/portal/events/{event_id}"' in page.text
    assert "Вебинар о коллективном договоре" in page.text
    event_page = requests.get(f"{BASE}/portal/events/{event_id}", cookies=chair, timeout=30)
    assert "Записи и материалы" in event_page.text and f'href="{material}"' in event_page.text
    found = api.as_user("chair").get("/api/v1/library/materials",
                                     params={"event_id": event_id}).json()
    assert [i["title"] for i in found["items"]] == ["Запись вебинара"]
    assert found["items"][0]["event_title"] == "Вебинар о коллективном договоре"
    # another region's event: not found for the regional staff member, nothing published
    r = api.as_user("regional").post("/api/v1/library/materials", json={
        "kind": "video", "title": "Не туда", "audiences": ["chairs"],
        "event_id": other.json()["id"]})
    assert r.status_code == 422, r.text
    assert [d["code"] for d in r.json()["error"]["details"]] == ["event_unknown"]
    assert api.get("/api/v1/library/materials", params={"q": "Не туда"}).json()["total"] == 0
