"""The load test of issue 9: the gateway under what chairs, staff, members and people joining do,
with the national data loaded (75,000 organizations, 3.1 million members).

`prepare_users` makes the Keycloak accounts in the bench's realm (chairs of real primaries with
members, staff of real regions, members linked to real records) and picks what they will look
at; `run_load` runs locust headless in its own process (gevent must not meet eventlet) and
returns the figures; the HTML report and the CSVs are kept under var/bench/load/.

The mix: people by weight chairs 4 : regional staff 2 : members 3 : joining 1 (50 users are 20
chairs, 10 staff, 15 members, 5 people joining), each waiting 1–3 s between actions as a person
does. Within each (weights in tests/bench/locustfile.py):
- a chair: their organization 4, its passport 1, the members' list 4, members by surname prefix
  3, a member's card 4, register a new member (and order their card) 1, edit a member's phone
  1, the applications queue 2, the cards to hand out 1, their statistical report 1; portal
  pages: the organization 2, the members 2, a member 1, the applications 1;
- regional staff: the region's subtree (about a thousand organizations, gzipped) 1, its
  children 2, organizations by a word of a name 3, members by surname prefix in the region 2,
  the quality drill-down 2, the quality summary 1, tracking of reports 1; portal: the region 2,
  its quality 1;
- a member: /me 2, /me/card 3, /me/member-card (the virtual card) 3; portal: the account 2;
- joining (no account): the form page 1, its regions 3, organizations of a region by a word 3,
  apply 1, the application's status 1.

Figures (time to the last byte, on the same machine: the server's time plus the load
generator's own, which shares the two cores):
- gateway_p50_ms / p95 / p99: over every request to the gateway after all users have started
  (locust --reset-stats); goal p99 <= 200 ms;
- gateway_rps: requests per second; gateway_errors: requests whose status was not the one
  expected (any, 4xx included), with `error_breakdown` by endpoint and status/code;
- load_avg_1m: the machine's one-minute load average, mean and max sampled during the run
  (other work on the machine shows here), loadgen_cpu_s the load generator's own CPU time;
- endpoints: the same figures per endpoint, `slow_endpoints` those over the goal.
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from tests.bench import common

LOAD_DIR = common.ROOT / "var" / "bench" / "load"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
P99_GOAL_MS = 200
REPORT_DAY = "2026-01-01"
SNILS_START = 700_000_000


def _account(admin, username: str, role: str, attributes: dict[str, list[str]]) -> str:
    """The account (made once; a re-run on the same realm reuses it)."""
    user_id = admin.create_user({
        "username": username, "email": username, "enabled": True, "emailVerified": True,
        "firstName": "Нагрузка", "lastName": "Бенчмарк", "attributes": attributes,
        "credentials": [{"type": "password", "value": common.PASSWORD, "temporary": False}]},
        exist_ok=True)
    admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
    return user_id


def _pick(conn, chairs: int, staff: int, members: int, seed: int) -> dict[str, Any]:
    """Primaries of ordinary size (15–150 members), regions, members and the join form's
    choices, spread by a hash so a re-run picks the same ones."""
    primaries = conn.execute(text("""
        SELECT m.org_id, (array_agg(m.id ORDER BY m.id))[1:30] AS ids,
               (array_agg(DISTINCT left(m.surname, 3)))[1:8] AS prefixes
        FROM membership.member m JOIN membership.org o ON o.id = m.org_id
        WHERE m.removed_on IS NULL AND o.level = 'primary' AND o.excluded_on IS NULL
          AND m.org_id IN (SELECT id FROM membership.org WHERE level = 'primary'
                           ORDER BY md5(id::text || :seed) LIMIT :n * 4)
        GROUP BY m.org_id HAVING count(*) BETWEEN 15 AND 150
        ORDER BY md5(m.org_id::text || :seed) LIMIT :n
    """), {"n": chairs, "seed": str(seed)}).all()
    regions = conn.execute(text("""
        SELECT id FROM membership.org WHERE level = 'regional' AND excluded_on IS NULL
        ORDER BY md5(id::text || :seed) LIMIT :n
    """), {"n": max(staff, 10), "seed": str(seed)}).scalars().all()
    people = conn.execute(text("""
        SELECT id FROM membership.member WHERE removed_on IS NULL
          AND id IN (SELECT (random() * (SELECT max(id) FROM membership.member))::bigint
                     FROM generate_series(1, :n * 3))
        LIMIT :n
    """), {"n": members}).scalars().all()
    per_region = {}
    for region in regions:
        rows = conn.execute(text("""
            SELECT id, education_name FROM membership.org
            WHERE region_id = :r AND level = 'primary' AND excluded_on IS NULL
              AND education_name IS NOT NULL
            ORDER BY md5(id::text) LIMIT 40
        """), {"r": region}).all()
        words = sorted({w.strip("«»()№,.\"") for _, name in rows for w in name.split()
                        if len(w.strip("«»()№,.\"")) >= 6})
        prefixes = conn.execute(text("""
            SELECT DISTINCT left(surname, 4) FROM membership.member
            WHERE org_id = ANY(:ids) AND removed_on IS NULL LIMIT 8
        """), {"ids": [i for i, _ in rows]}).scalars().all()
        per_region[region] = {"org_ids": [i for i, _ in rows], "words": words[:12] or ["школа"],
                              "prefixes": prefixes or ["Иван"]}
    # new members' SNILS from 700-000-000 up (the locustfile adds a block by the clock, so
    # runs do not repeat each other's); the national file's run from 100-000-000 stays far below
    return {"primaries": primaries, "regions": regions, "people": people,
            "per_region": per_region, "snils_start": SNILS_START}


def prepare_users(database_url: str, admin, chairs: int = 25, staff: int = 10,
                  members: int = 20, seed: int = 2026) -> dict[str, Any]:
    """Accounts in the realm `admin` (a KeycloakAdmin of the bench's realm) manages, bound to
    real organizations and records of the database; returns what run_load needs (JSON).

    A member's account is linked as the platform links it (services.sso.accounts.ensure_member
    and membership's account_subject): the attribute member_id, and the record's
    account_subject set to the account's subject."""
    from services.sso.settings import sso_settings

    engine = create_engine(database_url)
    with engine.begin() as conn:
        picked = _pick(conn, chairs, staff, members, seed)
        out: dict[str, Any] = {"chairs": [], "staff": [], "members": [], "join": []}
        for n, (org_id, ids, prefixes) in enumerate(picked["primaries"]):
            username = f"chair{n}@load.bench"
            _account(admin, username, "chair", {"org_ids": [str(org_id)]})
            out["chairs"].append({"username": username, "org_id": org_id,
                                  "member_ids": list(ids), "prefixes": list(prefixes)})
        for n, region in enumerate(picked["regions"][:staff]):
            username = f"staff{n}@load.bench"
            _account(admin, username, "regional_staff", {"org_ids": [str(region)]})
            out["staff"].append({"username": username, "region_id": region,
                                 **{k: picked["per_region"][region][k]
                                    for k in ("words", "prefixes")}})
        for n, member_id in enumerate(picked["people"]):
            username = f"member{n}@load.bench"
            subject = _account(admin, username, "member", {
                "member_id": [str(member_id)], "member_active": ["true"]})
            conn.execute(text("""
                UPDATE membership.member SET account_subject = :s, account_active = true
                WHERE id = :id"""), {"s": subject, "id": member_id})
            out["members"].append({"username": username, "member_id": member_id})
        for region, data in picked["per_region"].items():
            if data["org_ids"]:
                out["join"].append({"region_id": region, "org_ids": data["org_ids"],
                                    "q": data["words"][0]})
    engine.dispose()
    _account(admin, "central@load.bench", "central_admin", {})
    conf = sso_settings()
    out.update(admin_user="central@load.bench", password=common.PASSWORD, issuer=conf.issuer,
               snils_start=picked["snils_start"], report_day=REPORT_DAY)
    return out


def _token(users: dict[str, Any], username: str) -> str:
    r = requests.post(f"{users['issuer']}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "reestr-cli", "username": username,
        "password": users["password"]}, timeout=60)
    r.raise_for_status()
    return r.json()["access_token"]


def warm_up(base_url: str, users: dict[str, Any]) -> None:
    """What the people will look at exists: a data-quality run (the national run, once), each
    chair's statistical report (a draft), a virtual card for each member account. Not
    measured: these are heavy, rare operations (a draft takes seconds at national size)."""
    auth = {"Authorization": f"Bearer {_token(users, users['admin_user'])}"}

    def ok(r: requests.Response, *statuses: int) -> requests.Response:
        if r.status_code not in statuses:
            raise RuntimeError(f"warm-up: {r.request.method} {r.url}: {r.status_code} {r.text}")
        return r

    def post(path: str, **kw: Any) -> requests.Response:
        return requests.post(f"{base_url}/api/v1{path}", headers=auth, timeout=900, **kw)

    def get(path: str, **kw: Any) -> requests.Response:
        return requests.get(f"{base_url}/api/v1{path}", headers=auth, timeout=60, **kw)

    if ok(get("/quality/summary"), 200, 404).status_code == 404:
        ok(post("/quality/runs"), 200)
    day = {"family": "stat", "day": users["report_day"]}
    for chair in users["chairs"]:
        org = chair["org_id"]
        if ok(get(f"/organizations/{org}/reports", params=day), 200).json() is None:
            ok(post(f"/organizations/{org}/reports", json=day), 201)
    for m in users["members"]:
        ok(post(f"/members/{m['member_id']}/card-requests", params={"kind": "virtual"}),
           200, 201)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(value: str) -> float:
    try:
        return round(float(value), 1)
    except (TypeError, ValueError):
        return 0.0


def _figures(prefix: Path) -> dict[str, Any]:
    stats = _rows(Path(f"{prefix}_stats.csv"))
    total = next(r for r in stats if r["Name"] == "Aggregated")
    endpoints = [{"name": r["Name"], "requests": int(r["Request Count"]),
                  "errors": int(r["Failure Count"]), "p50_ms": _num(r["50%"]),
                  "p95_ms": _num(r["95%"]), "p99_ms": _num(r["99%"]),
                  "max_ms": _num(r["Max Response Time"])}
                 for r in stats if r["Name"] != "Aggregated"]
    failures = [{"endpoint": r["Name"], "error": r["Error"], "count": int(r["Occurrences"])}
                for r in _rows(Path(f"{prefix}_failures.csv"))]
    return {"requests": int(total["Request Count"]),
            "gateway_errors": int(total["Failure Count"]),
            "gateway_p50_ms": _num(total["50%"]), "gateway_p95_ms": _num(total["95%"]),
            "gateway_p99_ms": _num(total["99%"]), "gateway_max_ms": _num(
                total["Max Response Time"]),
            "gateway_rps": _num(total["Requests/s"]),
            "endpoints": sorted(endpoints, key=lambda e: -e["p99_ms"]),
            "slow_endpoints": [e["name"] for e in endpoints if e["p99_ms"] > P99_GOAL_MS],
            "error_breakdown": failures}


def run_load(base_url: str, users: dict[str, Any], n_users: int = 50, duration_s: int = 300,
             think_s: tuple[float, float] = (1.0, 3.0), spawn_rate: float = 10,
             label: str = "load", warm: bool = True) -> dict[str, Any]:
    """Run the mix against the gateway at `base_url` with `n_users` people for `duration_s`
    seconds (think_s (0, 0): closed loop) and return the figures; the report (locust HTML and
    CSVs, result.json) is saved under var/bench/load/<label>-<time>/, its path in `report`."""
    from gateway.portal.settings import portal_settings

    if warm:
        warm_up(base_url, users)
    out_dir = LOAD_DIR / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    users_file = out_dir / "users.json"
    users_file.write_text(json.dumps({**users, "portal_secret": portal_settings().secret},
                                     ensure_ascii=False))
    prefix = out_dir / "locust"
    env = dict(os.environ, LOAD_USERS_FILE=str(users_file),
               LOAD_THINK_S=f"{think_s[0]},{think_s[1]}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(common.ROOT),
                                                        os.environ.get("PYTHONPATH")])))
    cmd = [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless",
           "--host", base_url, "-u", str(n_users), "-r", str(spawn_rate),
           "-t", f"{duration_s}s", "--reset-stats", "--only-summary", "--stop-timeout", "10",
           "--csv", str(prefix), "--html", str(out_dir / "report.html"),
           "--loglevel", "WARNING"]
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:  # the machine's load while the test runs
        while not done.wait(10):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out_dir / "locust.log", "w") as log:
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=common.ROOT,
                              timeout=duration_s + 600)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done.set()
    users_file.unlink()  # it holds the portal's secret
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust failed ({proc.returncode}); see {out_dir}/locust.log")
    result = {**_figures(prefix), "users": n_users, "duration_s": duration_s,
              "think_s": list(think_s),
              "load_avg_1m_mean": round(sum(loads) / len(loads), 2) if loads else None,
              "load_avg_1m_max": round(max(loads), 2) if loads else None,
              # the load generator's own CPU: it shares the cores with what it measures
              "loadgen_cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime
                                     - cpu_before.ru_utime - cpu_before.ru_stime, 1),
              "p99_goal_ms": P99_GOAL_MS, "report": str(out_dir / "report.html")}
    (out_dir / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return result


def main() -> None:
    """For development: the services on reestr_bench_portal (its data kept), a realm, vhost and
    port of this bench's own, one run; the figures as JSON on the last line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--database", default="reestr_bench_portal")
    parser.add_argument("--closed-loop", action="store_true")
    args = parser.parse_args()
    configure_env()
    from services.sso.settings import sso_settings

    url = common.db_url(args.database)
    with common.running_services(url, common.SERVICES) as base:
        admin = common.fresh_realm(sso_settings())
        users = prepare_users(url, admin)
        think = (0.0, 0.0) if args.closed_loop else (1.0, 3.0)
        result = run_load(base, users, args.users, args.duration, think)
    for e in result["endpoints"]:
        print(f"  {e['name']:<40}{e['requests']:>7}{e['errors']:>5}  p50 {e['p50_ms']:>6}"
              f"  p95 {e['p95_ms']:>6}  p99 {e['p99_ms']:>6}")
    print(json.dumps({k: v for k, v in result.items() if k != "endpoints"}, ensure_ascii=False))


def configure_env() -> None:
    """This bench's own realm, vhost and port (others may run beside it)."""
    os.environ.setdefault("KEYCLOAK_REALM", "reestr-bench-load")
    os.environ.setdefault("ACCOUNTS_ON_IMPORT", "false")
    common.BENCH_HTTP = os.environ.get("BENCH_LOAD_HTTP", "127.0.0.1:18102")
    common.BENCH_AMQP = os.environ.get(
        "BENCH_AMQP_URI", f"{common.AMQP_BASE}/reestr_bench_load")
    os.environ["PORTAL_URL"] = f"http://{common.BENCH_HTTP}"


if __name__ == "__main__":
    main()
