"""A simulated card vendor, for tests and the demo: a separate process that reads our batches
from the bucket and answers as the vendor would.

For each complete batch (its manifest is there, its file matches the manifest's checksum) it
writes two responses: `1-produced` (most cards produced, some rejected with a reason) and
`2-delivered` (the produced cards delivered to their organizations). With `--repeat` every
response is written twice under two names, with `--delay` a batch is answered only that many
seconds after it appeared (late), as real vendors do now and then.

    python -m services.cards.vendor_sim [--once] [--interval 5] [--reject-share 0.02]
                                        [--repeat] [--delay 0] [--seed 1]
"""

import argparse
import csv
import hashlib
import io
import json
import logging
import random
import time
from datetime import UTC, date, datetime

from services.cards import vendor_files
from services.cards.batches import CARDS_FILE, MANIFEST
from services.cards.storage import Bucket, StoreErrors

log = logging.getLogger("vendor_sim")
REJECT_REASONS = ("Нечитаемые данные держателя", "Брак при персонализации")
MAX_PRINTED_NAME = 60  # longer names do not fit the card: rejected


def batches_to_answer(bucket: Bucket, delay_s: float = 0) -> list[str]:
    """Prefixes of complete batches with no response yet (and old enough, with a delay)."""
    answered = {k.split("/")[1] for k in bucket.keys("inbound/") if k.count("/") >= 2}
    ready = []
    for key in bucket.keys("outbound/"):
        if not key.endswith("/" + MANIFEST):
            continue
        prefix = key.split("/")[1]
        if prefix in answered:
            continue
        if delay_s:
            head = bucket.client.head_object(Bucket=bucket.name, Key=key)
            age = (datetime.now(UTC) - head["LastModified"]).total_seconds()
            if age < delay_s:
                continue
        ready.append(prefix)
    return sorted(ready)


def answer(bucket: Bucket, prefix: str, rng: random.Random, reject_share: float,
           repeat: bool = False, today: date | None = None) -> dict[str, int]:
    today = today or date.today()
    meta = json.loads(bucket.get(vendor_files.outbound(prefix, MANIFEST)))
    body = bucket.get(vendor_files.outbound(prefix, CARDS_FILE))
    (entry,) = meta["files"]
    if hashlib.sha256(body).hexdigest() != entry["sha256"]:
        log.warning("%s: the batch does not match its manifest; waiting for it", prefix)
        return {}
    reader = csv.reader(io.StringIO(body.decode()), delimiter=";")
    next(reader)
    produced, rejected = [], []
    for number, holder, *_ in reader:
        if len(holder) > MAX_PRINTED_NAME:
            rejected.append((number, "rejected", "Имя не помещается на карте", today))
        elif rng.random() < reject_share:
            rejected.append((number, "rejected", rng.choice(REJECT_REASONS), today))
        else:
            produced.append((number, "produced", None, today))
    delivered = [(n, "delivered", None, today) for n, *_ in produced]
    for name, rows in (("1-produced", produced + rejected), ("2-delivered", delivered)):
        for copy in ((name, name + "-again") if repeat else (name,)):
            write(bucket, prefix, meta["batch"], copy, rows)
    return {"produced": len(produced), "rejected": len(rejected)}


def write(bucket: Bucket, prefix: str, batch_id: int, name: str, rows: list) -> None:
    """A response file, then its manifest (the manifest says the file is complete)."""
    body = vendor_files.write_response(rows)
    bucket.put(vendor_files.inbound(prefix, name + ".csv"), body)
    bucket.put(vendor_files.inbound(prefix, name + ".manifest.json"),
               vendor_files.response_manifest(batch_id, name + ".csv", body, len(rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Имитатор поставщика карт (для тестов и демо)")
    parser.add_argument("--once", action="store_true", help="ответить на готовые партии и выйти")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--reject-share", type=float, default=0.02)
    parser.add_argument("--repeat", action="store_true", help="каждый ответ дважды")
    parser.add_argument("--delay", type=float, default=0.0, help="отвечать с опозданием, с")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rng = random.Random(args.seed)
    bucket = Bucket()
    while True:
        try:
            bucket.ensure()
            for prefix in batches_to_answer(bucket, args.delay):
                log.info("%s: %s", prefix, answer(bucket, prefix, rng, args.reject_share,
                                                  args.repeat))
        except StoreErrors:
            log.warning("the bucket is away; trying again")
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
