"""`make bench-cards`: the figures of issue 8, beside the naive approach, in one run.

- batch_250k_write_s: 250,000 requested cards of one region collected into a batch (set-based
  UPDATE) and written to the vendor's bucket (PostgreSQL renders the file by COPY; boto3 puts it
  and its manifest into S3Proxy);
- response_250k_apply_s: the vendor's response for those 250,000 cards (produced, a few
  rejected), written by the simulated vendor, read back, checked against its manifest and
  applied (COPY into a temporary table, one UPDATE, the history rows in one INSERT);
- naive_per_card_s: one request per card through the bus (an RPC moving one card, as a
  client applying the response card by card would send), measured on a sample and scaled to
  250,000.
The last line printed is one JSON object.
"""

import os

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench")

import argparse
import random
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.cards import batches, cards, vendor_sim
from services.common.db import make_engine
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from tests.bench.common import (
    BENCH_AMQP,
    BENCH_BUCKET,
    SCHEMAS,
    SERVICES,
    empty_bucket,
    fresh_database,
    print_figures,
    running_services,
)

GOALS = {"batch_250k_write_s": 15, "response_250k_apply_s": 20}


def holders(n: int, rng: random.Random) -> list[dict]:
    surnames = ("Иванова", "Петрова", "Смирнова", "Кузнецова", "Попова", "Васильева")
    return [{"member_id": i, "surname": rng.choice(surnames), "first_name": "Анна",
             "patronymic": "Сергеевна", "org_id": 1000 + i % 5000,
             "org_path": f"1.2.{1000 + i % 5000}", "region_id": 2,
             "org_registry_number": f"59-П-{i % 5000:05d}",
             "org_name": f"ППО школы № {i % 5000}"} for i in range(1, n + 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=250_000)
    parser.add_argument("--naive-sample", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(8)

    url = fresh_database("reestr_bench_cards", SCHEMAS)
    engine = make_engine(url, pool_size=2)
    bucket = empty_bucket(BENCH_BUCKET)
    figures: dict[str, float] = {}

    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        made = cards.request(s, "bench", holders(args.cards, rng), "plastic", "77")
    figures["request_250k_s"] = round(time.perf_counter() - started, 1)
    print(f"{len(made)} cards requested in {figures['request_250k_s']} s")

    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        (batch_id,) = batches.collect(s, "bench")
    with Session(engine) as s, s.begin():
        sent = batches.write(s, bucket, batch_id)
    figures["batch_250k_write_s"] = round(time.perf_counter() - started, 1)
    assert sent["status"] == "sent"
    print(f"batch of {sent['cards']} cards written in {figures['batch_250k_write_s']} s")

    (prefix,) = vendor_sim.batches_to_answer(bucket)
    vendor_sim.answer(bucket, prefix, rng, reject_share=0.01)
    produced = f"inbound/{prefix}/1-produced.csv"
    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        applied = batches.apply_response(s, bucket, produced)
    figures["response_250k_apply_s"] = round(time.perf_counter() - started, 1)
    assert applied["status"] == "applied" and applied["changed"] == args.cards, applied
    with Session(engine) as s, s.begin():
        batches.apply_response(s, bucket, f"inbound/{prefix}/2-delivered.csv")
    print(f"response of {applied['rows']} cards applied in {figures['response_250k_apply_s']} s")

    with engine.connect() as c:
        sample = c.execute(text("SELECT id FROM cards.card WHERE status = 'delivered' "
                                "ORDER BY id LIMIT :n"), {"n": args.naive_sample}).scalars().all()
    with running_services(url, SERVICES), \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=60) as rpc:
        started = time.perf_counter()
        for card_id in sample:
            rpc.cards.move_card(card_id, "issued")
        per_card = (time.perf_counter() - started) / len(sample)
    figures["naive_per_card_s"] = round(per_card * args.cards, 1)
    figures["naive_ms_per_card"] = round(per_card * 1000, 2)
    engine.dispose()
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
