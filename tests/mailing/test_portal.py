"""The mailing pages over plain HTTP for a chair: the list, the editor with the counts, a
draft saved and its page; the member-only account page refused to nobody signed in."""

import re

import pytest

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import register
from tests.support.portal import portal_session

BASE = f"http://{GATEWAY_ADDRESS}"


@pytest.fixture
def chair_http(keycloak):
    return portal_session(keycloak, "chair")


def test_chair_writes_to_own_members_in_the_portal(api, synced_tree, chair_http):
    register(api, 5, 1, email_consent=True)
    register(api, 5, 2, email=None)
    page = chair_http.get(f"{BASE}/portal/mailing/new", timeout=30)
    assert page.status_code == 200 and "Посчитать адресатов" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    form = {"csrf": csrf, "subject": "Собрание", "body": "Собрание в **пятницу**",
            "purpose": "union_news", "roots": "5", "members": "1"}
    counted = chair_http.post(f"{BASE}/portal/mailing/new", data={**form, "action": "count"},
                              timeout=60)
    assert counted.status_code == 200, counted.text[:500]
    assert re.search(r"С согласием \(получат письмо\)</dt><dd>1<", counted.text)
    assert re.search(r"Без e-mail</dt><dd>1<", counted.text)
    beyond = chair_http.post(f"{BASE}/portal/mailing/new",
                             data={**form, "roots": "9", "action": "save"}, timeout=30)
    assert beyond.status_code == 403 and "своей организации" in beyond.text
    saved = chair_http.post(f"{BASE}/portal/mailing/new", data={**form, "action": "save"},
                            allow_redirects=False, timeout=30)
    assert saved.status_code == 303, saved.text[:500]
    one = chair_http.get(BASE + saved.headers["Location"], timeout=30)
    assert one.status_code == 200 and "<strong>пятницу</strong>" in one.text
    assert "Запустить" in one.text
    listing = chair_http.get(f"{BASE}/portal/mailing", timeout=30)
    assert listing.status_code == 200 and "Собрание" in listing.text
