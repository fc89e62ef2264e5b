"""Member cards through the gateway: requests, batches written to the real object store
(S3Proxy, through boto3), the simulated vendor run as a separate process, its responses applied,
handing out, the personal account's card, scope; against the real services.

Tree (tests.factories.build_tree): 5 ППО «СОШ № 1» (59-П-1) belongs to the chair, 9 ППО (66-П-1)
to chair2.
"""

import base64
import json
import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import text

from services.cards import numbers, vendor_files
from services.cards.storage import Bucket
from tests.factories import card
from tests.support.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def bucket():
    """The test bucket, emptied."""
    b = Bucket()
    b.ensure()
    for key in list(b.keys("")):
        if not key.endswith("/"):  # the store's folders go with their files
            b.client.delete_object(Bucket=b.name, Key=key)
    return b


def members(api, org_id: int, n: int, first: int = 1, user: str = "chair", **fields):
    out = []
    for i in range(first, first + n):
        r = api.as_user(user).post(f"/api/v1/organizations/{org_id}/members",
                                   json=card(i, **fields))
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def run_vendor(*args: str) -> None:
    """The simulated vendor, as its own process, answering what is in the bucket once."""
    done = subprocess.run([sys.executable, "-m", "services.cards.vendor_sim", "--once", *args],
                          cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def member_card_number(engine, member_id: int) -> str | None:
    with engine.connect() as c:
        return c.execute(text("SELECT card_number FROM membership.member WHERE id = :id"),
                         {"id": member_id}).scalar()


def test_request_numbers_and_scope(api, synced_tree, engine, bucket):
    ids = members(api, 5, 3)
    r = api.as_user("chair").post(f"/api/v1/members/{ids[0]}/card-requests")
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "requested" and numbers.is_valid(first["number"])
    assert first["number"].startswith("7759")  # the issuer prefix, then Пермская's code
    # a second press finds the card in force, it does not order another
    again = api.as_user("chair").post(f"/api/v1/members/{ids[0]}/card-requests")
    assert again.status_code == 200 and again.json()["number"] == first["number"]
    # the rest of the organization in one go
    bulk = api.as_user("chair").post("/api/v1/organizations/5/card-requests").json()
    assert bulk == {"requested": 2, "members_without_card": 2}
    # membership learns the numbers from the cards' events
    assert wait_until(lambda: all(member_card_number(engine, m) for m in ids))
    assert member_card_number(engine, ids[0]) == first["number"]
    listed = api.as_user("chair").get("/api/v1/cards", params={"org_id": 5}).json()
    assert listed["total"] == 3 and listed["by_status"] == {"requested": 3}
    # another organization's chair neither orders for these members nor sees their cards
    other = api.as_user("chair2")
    assert other.post(f"/api/v1/members/{ids[1]}/card-requests").status_code == 404
    assert other.get(f"/api/v1/cards/{first['id']}").status_code == 404
    assert other.get("/api/v1/cards").json()["total"] == 0
    assert other.post("/api/v1/organizations/5/card-requests").status_code == 404
    # nobody but the Central Council's operators runs batches
    assert api.as_user("chair").post("/api/v1/card-batches").status_code == 403


def test_counts_for_an_organization_page(api, synced_tree, engine, bucket):
    """The tile of an organization's page: cards by status in the caller's subtrees. A chair's
    count is read afresh each time; a region's (a hundred thousand cards nationally) is kept
    for a while."""
    from services.cards import tile_counts
    from services.common.caller import Caller
    from services.common.trust import ClusterProxy
    from tests.conftest import NAMEKO_CONFIG, USERS

    tile_counts.forget()  # the services run in this process: earlier tests' counts

    def counts(user: str, org_id: int | None = None) -> dict:
        roles, orgs = USERS[user]
        caller = Caller(user=user, roles=tuple(roles), org_ids=tuple(orgs))
        with ClusterProxy(NAMEKO_CONFIG, "gateway", caller, timeout=60) as rpc:
            return rpc.cards.card_counts(org_id)

    members(api, 5, 2)
    assert api.as_user("chair").post("/api/v1/organizations/5/card-requests").ok
    assert counts("chair") == {"requested": 2}
    assert counts("regional") == {"requested": 2}
    assert counts("chair2") == {}
    members(api, 5, 1, first=3)
    assert api.as_user("chair").post("/api/v1/organizations/5/card-requests").ok
    assert counts("chair") == {"requested": 3}          # at once
    assert counts("regional", 5) == {"requested": 3}    # one organization: at once
    assert counts("regional") == {"requested": 2}       # the region's tile: as kept


def test_batch_vendor_response_and_handing_out(api, synced_tree, engine, bucket):
    members(api, 5, 3)
    # a name too long for the card: the vendor rejects it
    long_name = members(api, 5, 1, first=4, patronymic="Константиновна-Вильгельмина-"
                                                        "Александровна-Маргарита")[0]
    api.as_user("chair").post("/api/v1/organizations/5/card-requests")
    batches = api.post("/api/v1/card-batches").json()
    assert len(batches) == 1 and batches[0]["status"] == "sent" and batches[0]["cards"] == 4
    prefix = batches[0]["object_prefix"]
    body = bucket.get(vendor_files.outbound(prefix, "cards.csv"))
    assert body.decode().count("\n") == 5 and "Иванова" in body.decode()
    assert bucket.exists(vendor_files.outbound(prefix, "manifest.json"))
    # a second collection finds nothing new to send
    assert api.post("/api/v1/card-batches").json() == []

    run_vendor("--reject-share", "0", "--repeat")
    api.post("/api/v1/card-batches/responses")  # now, or the service's timer does it

    def responses() -> list[tuple[str, int]]:
        with engine.connect() as c:
            return c.execute(text("SELECT status, changed FROM cards.response_file "
                                  "WHERE batch_id = :b"), {"b": batches[0]["id"]}).all()
    assert wait_until(lambda: len(responses()) == 4)
    assert {status for status, _ in responses()} == {"applied"}
    # produced (3) or refused (1), then delivered (3); each file's repetition changes nothing
    assert sorted(changed for _, changed in responses()) == [0, 0, 3, 4]
    counts = api.as_user("chair").get("/api/v1/cards", params={"org_id": 5}).json()["by_status"]
    assert counts == {"delivered": 3, "refused": 1}
    # the refused card's number leaves the member's record
    assert wait_until(lambda: member_card_number(engine, long_name) is None)
    assert api.post("/api/v1/card-batches/responses").json() == []  # nothing new

    card_id = next(c["id"] for c in api.as_user("chair").get(
        "/api/v1/cards", params={"status": "delivered"}).json()["items"])
    handed = api.as_user("chair").post(f"/api/v1/cards/{card_id}/status",
                                       json={"status": "issued"})
    assert handed.status_code == 200 and handed.json()["status_title"] == "Выдана"
    history = api.as_user("chair").get(f"/api/v1/cards/{card_id}").json()["history"]
    # who read and moved the card is in the auditors' one log
    log = api.as_user("auditor").get("/api/v1/audit", params={"record_id": str(card_id)}).json()
    assert {(r["service"], r["action"]) for r in log} >= {("cards", "move_issued"),
                                                           ("cards", "read")}
    assert [h["status"] for h in history] == ["requested", "batched", "produced", "delivered",
                                              "issued"]
    assert history[-1]["by"] == "chair@test.reestr" and history[2]["by"] == "vendor"
    # issued is issued: no going back to a refusal
    back = api.as_user("chair").post(f"/api/v1/cards/{card_id}/status",
                                     json={"status": "refused", "reason": "передумал"})
    assert back.status_code == 409 and "Выдана" in back.json()["error"]["message"]


def test_bad_responses_change_no_card(api, synced_tree, engine, bucket):
    members(api, 5, 2)
    api.as_user("chair").post("/api/v1/organizations/5/card-requests")
    (batch,) = api.post("/api/v1/card-batches").json()
    prefix = batch["object_prefix"]
    with engine.connect() as c:
        numbers_in_batch = c.execute(text("SELECT number FROM cards.card ORDER BY id")
                                     ).scalars().all()
    on = date.today()
    good = [(n, "produced", None, on) for n in numbers_in_batch]
    stranger = good[:1] + [(numbers.compose("77", "59", 99_999), "produced", None, on)]

    def put(name: str, rows, body: bytes | None = None) -> None:
        real = vendor_files.write_response(rows)
        bucket.put(vendor_files.inbound(prefix, name + ".csv"), body or real)
        bucket.put(vendor_files.inbound(prefix, name + ".manifest.json"),
                   vendor_files.response_manifest(batch["id"], name + ".csv", real, len(rows)))
    put("unknown-card", stranger)
    put("truncated", good, body=vendor_files.write_response(good)[:-20])
    bucket.put(vendor_files.inbound(prefix, "no-manifest-yet.csv"),
               vendor_files.write_response(good))
    result = {a["object_key"].rsplit("/", 1)[-1]: a
              for a in api.post("/api/v1/card-batches/responses").json()}
    assert set(result) == {"unknown-card.csv", "truncated.csv"}  # the third waits
    assert result["unknown-card.csv"]["status"] == "refused"
    assert "не из этой партии" in result["unknown-card.csv"]["problem"]
    assert "контрольная сумма" in result["truncated.csv"]["problem"]
    with engine.connect() as c:
        assert set(c.execute(text("SELECT status FROM cards.card")).scalars()) == {"batched"}
        assert c.execute(text("SELECT count(*) FROM cards.response_file WHERE status = "
                              "'refused' AND batch_id = :b"), {"b": batch["id"]}).scalar() == 2


def test_auto_requests_and_the_personal_account(api, synced_tree, engine, bucket, tokens):
    # Пермская orders a card for every new member by itself; the chair cannot decide that
    assert api.as_user("chair").put("/api/v1/regions/2/card-policy",
                                    json={"auto_request": True}).status_code == 403
    assert api.as_user("regional").put("/api/v1/regions/2/card-policy",
                                       json={"auto_request": True}).status_code == 200
    (mid,) = members(api, 5, 1)
    (other,) = members(api, 9, 1, first=2, user="chair2")  # Свердловская did not choose so
    assert wait_until(lambda: member_card_number(engine, mid) is not None)
    assert member_card_number(engine, other) is None

    # the member signed in sees their card and its virtual form
    subject = token_subject(tokens("member"))
    with engine.begin() as c:
        c.execute(text("UPDATE membership.member SET account_subject = :s WHERE id = :id"),
                  {"s": subject, "id": mid})
    mine = api.as_user("member").get("/api/v1/me/member-card")
    assert mine.status_code == 200, mine.text
    got = mine.json()
    assert got["card"]["number"] == member_card_number(engine, mid)
    assert got["card"]["status_title"] == "Заказана" and got["card"]["requested_by"] == "system"
    assert got["virtual_card"]["barcode"]["value"] == got["card"]["number"]
    assert got["virtual_card"]["organization"] == "ППО МБОУ «СОШ № 1» г. Кунгура"
    # a chair has no personal account card
    assert api.as_user("chair").get("/api/v1/me/member-card").status_code == 403


def token_subject(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
