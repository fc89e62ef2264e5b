"""`make bench`: every benchmark, then one table of all figures beside their goals and naive
baselines.

The benchmarks that measure loading (the tree, the members file, the card batches, the chairs'
accounts) load into databases of their own, as a fresh union would; the others measure on the
national data set of `make national` (loaded first if it is not there). Each runs as its own
process, as `make bench-<name>` runs it; its last line (one JSON object) is collected. The table
is printed and kept in var/bench/figures.json; a benchmark that fails is named and the others
still run. `--only registry portal` runs those again and shows the rest as last measured, with
the time each was measured.
"""

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass

from tests.bench.common import ROOT


@dataclass(frozen=True)
class Figure:
    key: str
    what: str
    goal: float | None = None
    naive: str | None = None         # the key of the naive approach's figure, same run
    higher_is_better: bool = False


# (benchmark module, its arguments, the issue, its figures)
BENCHES: list[tuple[str, list[str], int, list[Figure]]] = [
    ("registry", [], 2, [
        Figure("orgs_load_s", "75,000 organizations loaded from a file (median of 3)", 10,
               "orgs_load_naive_s"),
        Figure("subtree_p95_ms", "a region's subtree through the gateway", 20,
               "subtree_naive_ms"),
        Figure("ancestors_p95_ms", "a primary's ancestors through the gateway", 20)]),
    ("sso", [], 3, [
        Figure("token_check_ms", "the gateway's check of a token", 0.2, "token_check_naive_ms"),
        Figure("chair_login_s", "a chair's login to the first answer", 1),
        Figure("chair_accounts_s", "chairs' accounts of a loaded file", 60,
               "chair_accounts_naive_2000_s")]),
    ("membership", [], 4, [
        Figure("members_load_rows_per_s", "the national members file", 50_000,
               "members_load_naive_rows_per_s", higher_is_better=True),
        Figure("chair_xlsx_2000_s", "a chair's spreadsheet of 2,000 people", 3),
        Figure("member_search_p95_ms", "surname search within a region", 50,
               "member_search_naive_ms")]),
    ("cards", [], 8, [
        Figure("batch_250k_write_s", "250,000 cards into a vendor batch", 15),
        Figure("response_250k_apply_s", "the vendor's response for 250,000 cards", 20,
               "naive_per_card_s")]),
    ("reports", ["--national"], 6, [
        Figure("national_stat_report_s", "the statistical reports of the whole union", 30,
               "national_stat_report_naive_s"),
        Figure("primary_pdf_s", "a primary's 5-СП as PDF", 1),
        Figure("national_pdf_s", "the Central Council's report as PDF", 3)]),
    ("quality", ["--national"], 7, [
        Figure("national_quality_s", "every data-quality check, national", 10,
               "national_quality_naive_s"),
        Figure("drilldown_p95_ms", "a region's drill-down through the gateway", 200)]),
    ("portal", ["--national"], 5, [
        Figure("page_p95_ms", "a chair's portal pages", 100),
        Figure("page_max_kb", "the heaviest page with its assets", 200),
        Figure("members_page_p95_ms", "the members' page", None, "members_page_naive_ms")]),
    ("national", [], 9, [
        Figure("gateway_p99_ms", "50 users' mix for 5 minutes, p99", 200),
        Figure("gateway_rps", "requests per second in that mix", None, None, True),
        Figure("gateway_errors", "errors in that mix", 0),
        Figure("scale_gain", "two instances of each service against one (the mix)", None, None,
               True),
        Figure("service_scale_gain", "two instances of membership against one (alone)", None,
               None, True),
        Figure("faults_lost", "accepted changes lost in the fault runs", 0),
        Figure("faults_duplicated", "changes applied twice in the fault runs", 0),
        Figure("fuzz_5xx", "5xx answers to the fuzzed API", 0)]),
]
OUT = ROOT / "var" / "bench" / "figures.json"


def run(module: str, args: list[str]) -> dict[str, float] | str:
    """The benchmark's figures (its last line), or why there are none."""
    print(f"\n=== make bench-{module} {' '.join(args)}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-u", "-m", f"tests.bench.{module}", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    last = ""
    for line in proc.stdout:
        if "eventlet" not in line.lower():
            print("   ", line, end="", flush=True)
        if line.strip():
            last = line
    proc.wait()
    print(f"    ({time.monotonic() - started:.0f} s)")
    if proc.returncode:
        return f"exit {proc.returncode}"
    try:
        return json.loads(last)
    except ValueError:
        return "no figures printed"


def met(figure: Figure, value: float) -> str:
    if figure.goal is None:
        return ""
    ok = value >= figure.goal if figure.higher_is_better else value <= figure.goal
    return "yes" if ok else "NO"


def table(results: dict[str, dict[str, float] | str]) -> list[dict]:
    rows = []
    for module, _, issue, figures in BENCHES:
        got = results.get(module)
        for f in figures:
            value = got.get(f.key) if isinstance(got, dict) else None
            rows.append({"issue": issue, "figure": f.key, "what": f.what,
                         "measured": value if value is not None else (got or "not run"),
                         "goal": f.goal,
                         "naive": got.get(f.naive) if isinstance(got, dict) and f.naive else None,
                         "met": met(f, value) if isinstance(value, int | float) else "—"})
    return rows


def show(rows: list[dict]) -> None:
    print(f"\n{'#':<3}{'figure':<27}{'measured':>12}{'goal':>10}{'met':>5}{'naive':>14}  what")
    for r in rows:
        goal = "" if r["goal"] is None else r["goal"]
        naive = "" if r["naive"] is None else r["naive"]
        print(f"{r['issue']:<3}{r['figure']:<27}{str(r['measured']):>12}{goal!s:>10}"
              f"{r['met']:>5}{naive!s:>14}  {r['what']}")


def main() -> None:
    parser = argparse.ArgumentParser(description="every benchmark, one table")
    parser.add_argument("--only", nargs="*", help="run these only (registry, sso, …); the "
                        "table shows the others as last measured")
    args = parser.parse_args()
    kept = json.loads(OUT.read_text()) if OUT.exists() else {}
    results: dict[str, dict[str, float] | str] = {}
    measured_at: dict[str, str] = {}
    for module, bench_args, _, _ in BENCHES:
        if not args.only or module in args.only:
            results[module] = run(module, bench_args)
            measured_at[module] = time.strftime("%Y-%m-%d %H:%M")
        elif module in kept.get("results", {}):   # --only: the others as last measured
            results[module] = kept["results"][module]
            measured_at[module] = kept["measured_at"][module]
    rows = table(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"results": results, "measured_at": measured_at, "rows": rows},
                              ensure_ascii=False, indent=1))
    show(rows)
    for module, at in measured_at.items():
        print(f"  bench-{module}: measured {at}")
    print(f"\nkept in {OUT}")
    print(json.dumps({r["figure"]: r["measured"] for r in rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
