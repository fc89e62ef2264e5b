"""Batches against real PostgreSQL and the real object store: a batch is written exactly once
even when the writer dies half-way, and the vendor sees one complete batch."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from services.cards import batches, cards, vendor_files
from services.cards.storage import Bucket
from services.cards.vendor_sim import batches_to_answer


class DiesAfterFirstFile(Bucket):
    """The service killed after the batch file reached the bucket, before its manifest."""

    def put(self, key: str, body: bytes) -> str:
        super().put(key, body)
        raise RuntimeError("killed")


def holders(n: int) -> list[dict]:
    return [{"member_id": i, "surname": "Петрова", "first_name": f"Анна{i}", "patronymic": None,
             "org_id": 5, "org_path": "1.2.4.5", "region_id": 2, "org_registry_number": "59-П-1",
             "org_name": "ППО школы"} for i in range(1, n + 1)]


@pytest.fixture
def bucket():
    b = Bucket()
    b.ensure()
    for key in list(b.keys("")):
        if not key.endswith("/"):
            b.client.delete_object(Bucket=b.name, Key=key)
    return b


def test_a_batch_is_written_exactly_once(session, bucket):
    # all in one transaction, which the running service's timer cannot see: it would write
    # the batch itself (rightly) and spoil the look at the state in between
    cards.request(session, "chair", holders(300), "plastic", "77")
    (batch_id,) = batches.collect(session, "operator")
    prefix = session.execute(text("SELECT object_prefix FROM cards.batch WHERE id = :b"),
                             {"b": batch_id}).scalar_one()

    with pytest.raises(RuntimeError), session.begin_nested():
        batches.write(session, DiesAfterFirstFile(), batch_id)
    first = bucket.get(vendor_files.outbound(prefix, "cards.csv"))
    assert not bucket.exists(vendor_files.outbound(prefix, "manifest.json"))
    assert batches.pending(session) == [batch_id]
    assert batches_to_answer(bucket) == []  # the vendor waits for the manifest

    sent = batches.write(session, bucket, batch_id)  # what the timer does after a restart
    assert sent["status"] == "sent" and batches.pending(session) == []
    assert bucket.get(vendor_files.outbound(prefix, "cards.csv")) == first  # byte for byte
    assert batches_to_answer(bucket) == [prefix]
    again = batches.write(session, bucket, batch_id)  # a late second run changes nothing
    assert again["sha256"] == sent["sha256"]
    assert session.execute(text("SELECT count(*) FROM cards.card WHERE batch_id = :b AND "
                                "status = 'batched'"), {"b": batch_id}).scalar() == 300
    assert batches.collect(session, "operator") == []  # no card goes into a second batch


def test_chairs_are_reminded_of_cards_not_handed_out(session):
    cards.request(session, "chair", holders(3), "plastic", "77")
    session.execute(text("UPDATE cards.card SET status = 'delivered', "
                         "status_on = now() - interval '20 days' WHERE member_id <= 2"))
    assert cards.remind(session, timedelta(days=14)) == 1  # one organization, two cards
    event = session.execute(text("SELECT payload FROM cards.outbox WHERE event_type = "
                                 "'cards_waiting'")).scalar_one()
    assert event == {"org_id": 5, "cards": 2}
    assert cards.remind(session, timedelta(days=14)) == 0  # not again the same day
