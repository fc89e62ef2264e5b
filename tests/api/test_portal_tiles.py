"""The numbers of an organization's page against the API: each tile (members, applications
waiting, cards waiting to be handed out) and each row of «Организации в структуре» says what
the API says for the same subtree, for a region, a territorial organization and a primary one."""

import re

from sqlalchemy import text

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import card, register

BASE = f"http://{GATEWAY_ADDRESS}"


def number(text_: str) -> int:
    return int(re.sub(r"\D", "", text_))


def tiles(page: str) -> dict[str, int]:
    """The tiles by what they link to: members, applications, cards, passport."""
    out = {}
    for href, value in re.findall(r'<a class="tile[^"]*" href="([^"]+)"><b>([^<]+)</b>', page):
        out[href.split("?")[0].rsplit("/", 1)[-1]] = number(value)
    return out


def structure(page: str) -> dict[int, int]:
    """«Организации в структуре»: members per organization beneath."""
    return {int(org): number(n) for org, n in re.findall(
        r'<tr><td><a href="/portal/org/(\d+)">.*?<td class="num">([^<]+)</td></tr>', page)}


def test_every_tile_says_what_the_api_says(api, synced_tree, engine, signed_in):
    ids = synced_tree
    for n in range(1, 4):
        register(api, ids["primary"], n)
    register(api, ids["subdivision"], 4)
    for n in range(5, 7):
        register(api, ids["under_rights"], n, user="admin")
    public = api.as_user(None)
    c = card(20)
    assert public.post("/api/v1/join/applications", json={
        **{k: c[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date")},
        "org_id": ids["primary"], "email": "tile@example.ru", "pd_consent": True,
        "category": "student"}).status_code == 201
    made = api.as_user("chair").post(f"/api/v1/organizations/{ids['primary']}/card-requests",
                                     json={"kind": "plastic"})
    assert made.status_code in (200, 201), made.text
    with engine.begin() as c_:  # two of them arrived at the organization
        c_.execute(text("UPDATE cards.card SET status = 'delivered' WHERE id IN "
                        "(SELECT id FROM cards.card ORDER BY id LIMIT 2)"))
    from services.cards import tile_counts
    tile_counts.forget()

    regional = signed_in("regional")
    as_regional = api.as_user("regional")
    for org_id in (ids["region"], ids["territorial"], ids["primary"], ids["rights"]):
        page = regional.get(f"{BASE}/portal/org/{org_id}", timeout=30)
        assert page.status_code == 200
        shown = tiles(page.text)
        members = as_regional.get("/api/v1/members", params={"within": org_id}).json()
        assert shown["members"] == members["total"], org_id
        waiting = as_regional.get("/api/v1/applications", params={"within": org_id}).json()
        assert shown["applications"] == len(waiting), org_id
        subtree = [o["id"] for o in api.get(f"/api/v1/organizations/{org_id}/subtree").json()
                   ["items"]] if org_id != ids["primary"] else [ids["primary"],
                                                               ids["subdivision"]]
        delivered = sum(as_regional.get("/api/v1/cards", params={
            "org_id": o, "status": "delivered"}).json()["total"] for o in set(subtree) | {org_id})
        assert shown["cards"] == delivered, org_id
        for child, count in structure(page.text).items():
            total = as_regional.get("/api/v1/members", params={"within": child}).json()["total"]
            assert count == total, (org_id, child)
    # the territorial organization holds its primaries' members (not 0)
    region_page = regional.get(f"{BASE}/portal/org/{ids['region']}", timeout=30).text
    assert structure(region_page)[ids["territorial"]] == 4
    assert structure(region_page)[ids["rights"]] == 2
    assert tiles(region_page)["cards"] == 2
