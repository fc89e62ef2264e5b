"""`make bench-ops`: the figures of issue 28, in one run. The last line is one JSON object.

- `backup_national_s`: a full backup of the whole cluster (the national data set, `make
  national`, in it, with every other database on the machine), pgBackRest, lz4, two processes;
  beside it the naive `pg_dumpall` of the same cluster, piped to lz4 (`backup_naive_s`), which
  gives no point-in-time recovery at all;
- `restore_national_s`: that backup restored into a fresh directory and recovered to a moment
  after it (WAL replayed), until the cluster answers;
- `archive_lag_s`: the largest time since the last archived WAL segment, sampled every second
  while a writer inserts steadily for `--write-s` seconds (the loss a dead server would cost);
- `metrics_overhead_pct`: the time a worker's metrics and trace fields add (the Observed hooks,
  measured on their own) over the national load test's p50 (27 ms on 3 Dec).
"""

import argparse
import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import create_engine, text

from reestr import ops
from tests.bench import common

GOALS = {"backup_national_s": 300, "restore_national_s": 600, "archive_lag_s": 60,
         "metrics_overhead_pct": 5}
LOAD_P50_MS = 27.0


def backup_figure(conf: ops.OpsSettings) -> float:
    return ops.backup("full", conf)["seconds"]


def naive_backup() -> float:
    started = time.monotonic()
    subprocess.run("runuser -u postgres -- pg_dumpall | lz4 -q > /var/tmp/reestr-dumpall.lz4",
                   shell=True, check=True, cwd="/")
    Path("/var/tmp/reestr-dumpall.lz4").unlink(missing_ok=True)
    return round(time.monotonic() - started, 1)


def restore_figure(conf: ops.OpsSettings) -> float:
    into = Path("/var/tmp/reestr-bench-restore")
    shutil.rmtree(into, ignore_errors=True)
    moment = datetime.now(UTC)
    time.sleep(1)
    span = ops.restorable(conf, archived_until=ops.archived_until(common.BASE_URL))
    port = 5499
    try:
        done = ops.restore(min(moment, span.latest), into, port, span, conf=conf)
        return round(done["restore_s"] + done["recovery_s"], 1)
    finally:
        ops.stop_restored(into, conf)
        shutil.rmtree(into, ignore_errors=True)


def archive_lag(write_s: int) -> float:
    engine = create_engine(common.BASE_URL)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS public.bench_archive_lag "
                       "(id bigserial, at timestamptz DEFAULT now(), pad text)"))
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            with engine.begin() as c:
                c.execute(text("INSERT INTO public.bench_archive_lag (pad) "
                               "SELECT repeat('x', 500) FROM generate_series(1, 200)"))
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    worst = 0.0
    for _ in range(write_s):
        time.sleep(1)
        worst = max(worst, ops.archive_lag_s(common.BASE_URL))
    stop.set()
    writer.join()
    with engine.begin() as c:
        c.execute(text("DROP TABLE public.bench_archive_lag"))
    engine.dispose()
    return round(worst, 1)


def metrics_overhead(rounds: int = 20000) -> float:
    """The Observed hooks around a worker, on their own, against the load test's p50."""
    from services.common.observability import Observed

    observed = Observed()
    observed.slow_timer_s = 1.0
    entrypoint = SimpleNamespace(method_name="bench_call")
    ctx = SimpleNamespace(data={"request_id": "bench-0001"}, args=(), service_name="bench",
                          entrypoint=entrypoint)
    # with its JSON line written, as deploy/nameko.yml configures it (to /dev/null here)
    import logging

    from pythonjsonlogger.json import JsonFormatter

    logger = logging.getLogger("services.common.observability")
    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s "
                                       "%(service)s %(entrypoint)s %(request_id)s %(user_id)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    started = time.perf_counter()
    for _ in range(rounds):
        observed.worker_setup(ctx)
        observed.worker_result(ctx, None, None)
    per_worker_ms = (time.perf_counter() - started) * 1000 / rounds
    logger.removeHandler(handler)
    print(f"a worker's hooks and log line: {per_worker_ms * 1000:.1f} µs")
    # a request of the mix runs about five workers: the gateway's and the RPCs it makes
    return round(100 * 5 * per_worker_ms / LOAD_P50_MS, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-s", type=int, default=120)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    conf = ops.OpsSettings()
    figures: dict[str, float] = {}
    figures["metrics_overhead_pct"] = metrics_overhead()
    print("metrics:", figures, flush=True)
    figures["backup_national_s"] = backup_figure(conf)
    print("backup:", figures, flush=True)
    figures["restore_national_s"] = restore_figure(conf)
    print("restore:", figures, flush=True)
    figures["archive_lag_s"] = archive_lag(args.write_s)
    if not args.skip_naive:
        figures["backup_naive_s"] = naive_backup()
    common.print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
