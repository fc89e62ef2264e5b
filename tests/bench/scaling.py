"""Scaling out (issue 9): two instances of each service against the same broker share the work.

`measure_scaling` runs the load test's mix closed-loop (no think time; enough users to keep the
platform saturated) first with one process of each service and of the gateway, then with two
of each, and compares the throughput:
- rps_one / rps_two: gateway requests per second; scale_gain = rps_two / rps_one;
- p95_one_ms / p95_two_ms (and p99): latency at saturation;
- split: per service, each instance's CPU seconds and the AMQP messages the broker delivered to
  it during the run (RPC requests, replies to its own calls, events): both instances must take
  work. RPC queues are shared by a service's instances, and so is each event handler's queue
  (the broker hands their messages out round-robin); the two gateways listen on one port
  (eventlet sets SO_REUSEPORT), the kernel spreading the load generator's connections.
The gain is bounded by the machine: with two cores and the database, the broker, Keycloak and
the load generator on the same cores, a second process per service helps only while some
process was the bottleneck (one eventlet process uses one core at most); `cpu_busy_pct` says
how busy the cores were.
"""

import os
import time
from typing import Any
from urllib.parse import unquote, urlparse

import psutil
import requests

from tests.bench import common
from tests.bench.load import run_load


def _cpu_s(procs: dict[str, list]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, ps in procs.items():
        for p in ps:
            try:
                t = psutil.Process(p.pid).cpu_times()
                out.setdefault(name, []).append(t.user + t.system)
            except psutil.NoSuchProcess:
                out.setdefault(name, []).append(0.0)
    return out


def _deliveries(procs: dict[str, list]) -> dict[str, list[int]] | None:
    """Messages the broker delivered to each process (management API: its channels' counts,
    matched to the process by the connection's local port)."""
    amqp = urlparse(common.BENCH_AMQP)
    vhost = unquote(amqp.path.lstrip("/")) or "/"
    try:
        r = requests.get(f"http://{amqp.hostname}:15672/api/vhosts/"
                         f"{requests.utils.quote(vhost, safe='')}/channels",
                         auth=(amqp.username, amqp.password), timeout=10)
        r.raise_for_status()
    except requests.RequestException:
        return None  # no management plugin: the CPU split stands alone
    by_port: dict[int, int] = {}
    for ch in r.json():
        port = ch.get("connection_details", {}).get("peer_port")
        stats = ch.get("message_stats", {})
        by_port[port] = by_port.get(port, 0) + stats.get("deliver_get", 0)
    out: dict[str, list[int]] = {}
    for name, ps in procs.items():
        for p in ps:
            try:
                ports = {c.laddr.port for c in psutil.Process(p.pid).net_connections("tcp")
                         if c.raddr and c.raddr.port == amqp.port}
            except psutil.NoSuchProcess:
                ports = set()
            out.setdefault(name, []).append(sum(by_port.get(port, 0) for port in ports))
    return out


def _delta(after: dict[str, list], before: dict[str, list]) -> dict[str, list]:
    return {k: [round(a - b, 1) for a, b in zip(v, before.get(k, [0] * len(v)), strict=False)]
            for k, v in after.items()}


def _one(database_url: str, users: dict[str, Any], services: dict[str, str], instances: int,
         n_users: int, duration_s: int) -> dict[str, Any]:
    port = int(common.BENCH_HTTP.rsplit(":", 1)[1])
    if common.listeners(port):  # it would share the port, and the vhost's queues, with ours
        raise RuntimeError(f"a gateway already listens on {port}: stop those services first")
    procs: dict[str, list] = {}
    with common.running_services(database_url, services, instances=instances,
                                 procs_out=procs, log_tag=f"scale{instances}-") as base:
        time.sleep(7)  # the broker's statistics come every 5 s
        cpu0, msg0 = _cpu_s(procs), _deliveries(procs)
        psutil.cpu_percent()
        result = run_load(base, users, n_users, duration_s, (0.0, 0.0), spawn_rate=n_users,
                          label=f"scale-{instances}")
        busy = psutil.cpu_percent()
        time.sleep(7)
        cpu1, msg1 = _cpu_s(procs), _deliveries(procs)
    split = {name: {"cpu_s": cpus} for name, cpus in _delta(cpu1, cpu0).items()}
    if msg0 is not None and msg1 is not None:
        for name, counts in _delta(msg1, msg0).items():
            split[name]["messages"] = [int(c) for c in counts]
    return {**result, "split": split, "cpu_busy_pct": busy}


def measure_scaling(database_url: str, users: dict[str, Any], n_users: int = 30,
                    duration_s: int = 60, services: dict[str, str] | None = None,
                    rounds: int = 1) -> dict[str, Any]:
    """The mix closed-loop with one, then two processes of every service and the gateway
    (started here with common.running_services on `database_url`; `users` from
    load.prepare_users, whose realm the services must use: KEYCLOAK_REALM). Call it with no
    other services of the bench running on common.BENCH_HTTP and common.BENCH_AMQP: they would
    take a share of the work (refused when the port is taken). With `rounds` > 1
    the pair is repeated (1, 2, 1, 2, ...) and the best round of each kept, the one least
    disturbed by other work on a shared machine (every round's rps in `rps_rounds`)."""
    services = services or common.SERVICES
    ones, twos = [], []
    for _ in range(rounds):
        ones.append(_one(database_url, users, services, 1, n_users, duration_s))
        twos.append(_one(database_url, users, services, 2, n_users, duration_s))
    one = max(ones, key=lambda r: r["gateway_rps"])
    two = max(twos, key=lambda r: r["gateway_rps"])
    return {"rps_one": one["gateway_rps"], "rps_two": two["gateway_rps"],
            "scale_gain": round(two["gateway_rps"] / one["gateway_rps"], 2)
            if one["gateway_rps"] else None,
            "p95_one_ms": one["gateway_p95_ms"], "p95_two_ms": two["gateway_p95_ms"],
            "p99_one_ms": one["gateway_p99_ms"], "p99_two_ms": two["gateway_p99_ms"],
            "errors_one": one["gateway_errors"], "errors_two": two["gateway_errors"],
            "cpu_busy_pct_one": one["cpu_busy_pct"], "cpu_busy_pct_two": two["cpu_busy_pct"],
            "load_avg_1m_one": one["load_avg_1m_mean"],
            "load_avg_1m_two": two["load_avg_1m_mean"],
            "loadgen_cpu_s_one": one["loadgen_cpu_s"], "loadgen_cpu_s_two": two["loadgen_cpu_s"],
            "split_one": one["split"], "split_two": two["split"],
            "rps_rounds": [[r["gateway_rps"] for r in ones], [r["gateway_rps"] for r in twos]],
            "users": n_users, "duration_s": duration_s,
            "reports": [one["report"], two["report"]]}


def measure_service_scaling(database_url: str, clients: int = 8, duration_s: int = 30
                            ) -> dict[str, Any]:
    """One service as the bottleneck: membership answering lists of 500 members of a region
    (rows read by index, rendered in Python: the work is the service process's, and one
    eventlet process takes one core at most), asked over RPC by `clients` callers at once, with
    one instance of the service, then two. Returns calls per second of each, the gain and each
    instance's CPU seconds."""
    import threading

    from sqlalchemy import create_engine, text

    from services.common.settings import nameko_config
    from services.common.trust import ClusterProxy

    engine = create_engine(database_url)
    with engine.connect() as conn:
        regions = conn.execute(text("SELECT region_id FROM membership.member GROUP BY region_id "
                                    "ORDER BY count(*) DESC LIMIT 8")).scalars().all()
    engine.dispose()
    out: dict[str, Any] = {}
    for n in (1, 2):
        procs: dict[str, list] = {}
        with common.running_services(database_url, common.SERVICES, instances=n,
                                     procs_out=procs, log_tag=f"svc{n}-"):
            done = [0] * clients
            stop = threading.Event()

            def caller(i: int, done: list[int] = done, stop: threading.Event = stop) -> None:
                with ClusterProxy(nameko_config(AMQP_URI=common.BENCH_AMQP),
                                     timeout=60) as rpc:
                    while not stop.is_set():
                        rpc.membership.search_members({}, regions[i % len(regions)], 500,
                                                      (done[i] * 500) % 20_000)
                        done[i] += 1

            threads = [threading.Thread(target=caller, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            time.sleep(5)  # warm: connections, plans
            cpu0, calls0, started = _cpu_s(procs), sum(done), time.monotonic()
            time.sleep(duration_s)
            calls, took = sum(done) - calls0, time.monotonic() - started
            cpu1 = _cpu_s(procs)
            stop.set()
            for t in threads:
                t.join(timeout=60)
        out[f"calls_per_s_{n}"] = round(calls / took, 1)
        out[f"membership_cpu_s_{n}"] = _delta(cpu1, cpu0)["membership"]
    out["service_scale_gain"] = round(out["calls_per_s_2"] / out["calls_per_s_1"], 2)
    return out


def main() -> None:
    """For development: on reestr_bench_portal with this bench's own realm, vhost and port."""
    import argparse
    import json

    from tests.bench.load import configure_env, prepare_users

    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--database", default="reestr_bench_portal")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    configure_env()
    from services.sso.settings import sso_settings

    url = common.db_url(args.database)
    users = prepare_users(url, common.fresh_realm(sso_settings()))
    result = measure_scaling(url, users, args.users, args.duration, rounds=args.rounds)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    os.environ.setdefault("BENCH_LOG_LEVEL", "WARNING")
    main()
