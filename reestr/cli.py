"""`reestr`: the operator's command line for work that is not a web page."""

import argparse
import base64
import csv
import json
import os
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.settings import nameko_config

# eventlet warns of its own deprecation on every import; operators cannot act on it
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


def rpc_proxy(timeout: float | None = 900):
    from services.common.trust import ClusterProxy

    return ClusterProxy(nameko_config(), timeout=timeout)  # signs as the operator


def cmd_bus_provision(args: argparse.Namespace) -> int:
    """Each principal's broker user with its least permissions on the vhosts named; passwords
    from RABBIT_PASSWORD_<USER>, the administrator's login from RABBIT_ADMIN_USER/_PASSWORD."""
    import os

    import requests

    from services.common.bus_access import grants, provision

    api = requests.Session()
    api.auth = (os.environ["RABBIT_ADMIN_USER"], os.environ["RABBIT_ADMIN_PASSWORD"])
    api.base = args.api.rstrip("/")  # type: ignore[attr-defined]
    passwords = {g.user: os.environ.get(f"RABBIT_PASSWORD_{g.user.upper()}", "")
                 for g in grants()}
    for vhost in args.vhost:
        users = provision(api, vhost, passwords)
        print(f"{vhost}: пользователи шины {', '.join(users)}")
    return 0


def cmd_bus_grants(args: argparse.Namespace) -> int:
    from services.common.bus_access import grants

    for g in grants():
        print(f"{g.user}\n  configure {g.configure}\n  write     {g.write}\n"
              f"  read      {g.read}")
        for exchange, (write, read) in g.topics.items():
            print(f"  topic {exchange}: write {write} read {read}")
    return 0


def cmd_trust_keys(args: argparse.Namespace) -> int:
    from services.common.trust import PRINCIPALS, generate_keys, keys_dir

    directory = Path(args.dir) if args.dir else keys_dir()
    made = generate_keys(directory, list(PRINCIPALS))
    print(f"ключи шины в {directory}: новых {len(made)}" + (f" ({', '.join(made)})" if made
                                                             else ""))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Each service's roles, schema and grants (services.common.db_roles), then its migrations
    as its schema's owner (services.common.migrations)."""
    from services.common.db_roles import SERVICES
    from services.common.migrations import upgrade

    for service in SERVICES:
        upgrade(service)
        print(f"{service}: схема обновлена")
    return 0


def print_report(report: dict[str, Any], report_path: str | None) -> None:
    print(f"Строк в файле: {report['rows_total']}, загружено: {report['rows_loaded']}, "
          f"отклонено: {report['rows_rejected']}, ошибок: {report['errors_total']}")
    if report.get("unknown_columns"):
        print("Неизвестные столбцы пропущены: " + ", ".join(report["unknown_columns"]))
    for code, n in sorted(report["errors_by_code"].items(), key=lambda kv: -kv[1]):
        print(f"  {code}: {n}")
    for e in report["errors"][:20]:
        column = e.get("column_title") or e.get("column") or ""
        print(f"  строка {e['row']}: {column}: {e['message']}")
    if report["errors_total"] > 20:
        print(f"  … и ещё {report['errors_total'] - 20}")
    if report_path and report["errors"]:
        with open(report_path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["Строка", "Столбец", "Код", "Ошибка"])
            for e in report["errors"]:
                w.writerow([e["row"], e.get("column_title") or e.get("column"), e["code"],
                            e["message"]])
        print(f"Полный отчёт: {report_path}")


def load_orgs_file(path: Path, load_good_rows: bool) -> dict[str, Any]:
    content = base64.b64encode(path.read_bytes()).decode()
    with rpc_proxy() as rpc:
        return rpc.registry.import_organizations(content, path.name, load_good_rows)


def cmd_load_orgs(args: argparse.Namespace) -> int:
    from services.common.errors import DomainError

    try:
        report = load_orgs_file(Path(args.file), args.load_good_rows)
    except DomainError as exc:
        print(f"Файл не загружен: {exc.message}", file=sys.stderr)
        return 2
    print_report(report, args.report)
    if report["errors_total"] and not report["rows_loaded"]:
        print("Ничего не загружено. Исправьте ошибки или запустите с --load-good-rows.")
        return 1
    return 0


NATIONAL_FILE_BYTES = 4 * 2**30


def load_members_file(path: Path, org_id: int | None, load_good_rows: bool,
                      show_progress: bool = True) -> dict[str, Any]:
    """A members file loaded from this machine, straight into the database, with a progress
    bar: national files of millions of rows are too big to send over the broker. The
    membership service first brings its copy of the tree up to date."""
    from sqlalchemy.orm import Session
    from tqdm import tqdm

    from services.common.db import make_engine
    from services.membership import bulk_import

    with rpc_proxy() as rpc:
        rpc.membership.sync_orgs()
    content = path.read_bytes()
    engine = make_engine(pool_size=2, service="membership")
    bar = tqdm(total=content.count(b"\n"), unit=" строк", disable=not show_progress,
               desc="Проверка и загрузка")
    try:
        with Session(engine) as session, session.begin():
            return bulk_import.load(
                session, "operator:" + getpass_user(), content, path.name, org_id, None,
                load_good_rows, progress=lambda done, loaded: bar.update(done - bar.n),
                progress_engine=engine, max_bytes=NATIONAL_FILE_BYTES)
    finally:
        bar.close()
        engine.dispose()


def getpass_user() -> str:
    import getpass

    return getpass.getuser()


def cmd_load_members(args: argparse.Namespace) -> int:
    from services.common.errors import DomainError

    try:
        report = load_members_file(Path(args.file), args.org, args.load_good_rows)
    except DomainError as exc:
        print(f"Файл не загружен: {exc.message}", file=sys.stderr)
        return 2
    print_report(report, args.report)
    print(f"Уже были на учёте (без изменений): {report['rows_unchanged']}; "
          f"{report['seconds']} с")
    if report["errors_total"] and not report["rows_loaded"]:
        print("Ничего не загружено. Исправьте ошибки или запустите с --load-good-rows.")
        return 1
    return 0


def cmd_gen_members(args: argparse.Namespace) -> int:
    from reestr.demo import members, orgs

    rows = orgs.generate_orgs(args.orgs, seed=args.seed)
    n = members.write_csv(members.generate_members(rows, seed=args.seed), args.output)
    print(json.dumps({"members": n, "categories": members.category_mix(args.output)},
                     ensure_ascii=False))
    return 0


def cmd_sso_provision(args: argparse.Namespace) -> int:
    from services.sso import realm
    from services.sso.keycloak import admin_client
    from services.sso.settings import sso_settings

    conf = sso_settings()
    _secure_admin(conf)
    realm.provision(admin_client(conf), conf)
    print(f"Единый вход: реалм {conf.keycloak_realm} на {conf.keycloak_url} настроен")
    return 0


def _secure_admin(conf: Any) -> None:
    """Keycloak's master admin is the configured one; up.sh may pass a recovery login."""
    from services.sso.keycloak import secure_master_admin

    recovery = (os.environ.get("KEYCLOAK_RECOVERY_USER", ""),
                os.environ.get("KEYCLOAK_RECOVERY_PASSWORD", ""))
    if secure_master_admin(conf, recovery if all(recovery) else None) == "replaced":
        print(f"Администратор Keycloak теперь {conf.keycloak_admin_user}")


def cmd_sso_admin(args: argparse.Namespace) -> int:
    """The configured master admin logs in (set up from a recovery login if it does not)."""
    from services.sso.settings import sso_settings

    _secure_admin(sso_settings())
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """An access token for scripts and curl (password grant of the command-line client)."""
    import getpass

    import requests

    from services.sso.realm import CLI_CLIENT
    from services.sso.settings import sso_settings

    password = args.password or getpass.getpass(f"Пароль {args.username}: ")
    r = requests.post(f"{sso_settings().issuer}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": CLI_CLIENT, "username": args.username,
        "password": password}, timeout=30)
    if not r.ok:
        print(f"Вход не выполнен: {r.json().get('error_description', r.text)}", file=sys.stderr)
        return 1
    print(r.json()["access_token"])
    return 0




def demo_password() -> str:
    """The demo accounts' password: the deploy's generated DEMO_PASSWORD, never a known one."""
    import os

    password = os.environ.get("DEMO_PASSWORD", "")
    if len(password) < 12:
        raise SystemExit("DEMO_PASSWORD is not set (deploy/up.sh generates it into "
                         "var/secrets/env): demo accounts get no well-known password")
    return password


def demo_accounts() -> list[tuple[str, str, str]]:
    """Accounts to try the platform with: the Central Council, an auditor, the staff of the
    first region and the chair of a school in it (whose org ids come from the registry)."""
    from services.common import roles
    from services.sso import accounts
    from services.sso.keycloak import admin_client
    from services.sso.settings import sso_settings

    admin = admin_client(sso_settings())
    with rpc_proxy() as rpc:
        region = rpc.registry.search("краев", None, "regional", False, 1) or \
            rpc.registry.search("организация", None, "regional", False, 1)
        region_id = region[0]["id"]
        primary = rpc.registry.subtree(region_id, False, "primary", 1)["items"][0]
    made = []
    # people's names, not role codes: the portal's header shows the name and then the role
    for email, role, org_id, what, (first, last) in (
            ("admin@demo.reestr", roles.CENTRAL_ADMIN, None, "аппарат ЦС", ("Мария", "Иванова")),
            ("auditor@demo.reestr", roles.AUDITOR, None, "аудитор ЦС", ("Ольга", "Петрова")),
            ("region@demo.reestr", roles.REGIONAL_STAFF, region_id, region[0]["name"],
             ("Сергей", "Кузнецов")),
            ("chair@demo.reestr", roles.CHAIR, primary["id"], primary["name"],
             ("Елена", "Смирнова"))):
        # the operator makes the demo's accounts outright (a naming would only propose them)
        user = accounts.find_user(admin, email)
        attributes = {"org_ids": [str(org_id)] if org_id is not None else []}
        if user is None:
            user_id = admin.create_user({"username": email, "email": email, "enabled": True,
                                         "emailVerified": True, "firstName": first,
                                         "lastName": last, "attributes": attributes},
                                        exist_ok=True)
        else:
            user_id = user["id"]
            admin.update_user(user_id, {"attributes": {**(user.get("attributes") or {}),
                                                       **attributes}, "emailVerified": True,
                                      "firstName": first, "lastName": last})
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
        admin.set_user_password(user_id, demo_password(), temporary=False)
        made.append((email, role, what))
    return made


def cmd_gen_orgs(args: argparse.Namespace) -> int:
    from reestr.demo import orgs

    rows = orgs.generate_orgs(args.orgs, seed=args.seed)
    out = Path(args.output)
    (orgs.write_xlsx if out.suffix.lower() == ".xlsx" else orgs.write_csv)(rows, out)
    print(json.dumps(orgs.summary(rows), ensure_ascii=False))
    return 0


def registry_primaries() -> list[dict[str, str]]:
    """The registry's current primaries as the members generator reads organization rows."""
    from services.registry.file_format import EDU_TYPE_TITLES

    primaries, after = [], 0
    with rpc_proxy() as rpc:
        while page := rpc.registry.org_index(after_id=after, limit=20_000):
            primaries += [{"registry_number": o["registry_number"], "level": "первичная",
                           "edu_type": EDU_TYPE_TITLES.get(o["education_type"] or "", "")}
                          for o in page if o["level"] == "primary" and not o["excluded_on"]]
            after = page[-1]["id"]
    return primaries


def demo_cards(orgs: int = 30) -> None:
    """Cards for the members of some primaries, sent to the simulated vendor and answered, so
    that the demo shows every status; nothing if there are cards already."""
    import subprocess
    import sys

    with rpc_proxy() as rpc:
        if rpc.cards.list_cards(None, None, 1, 0)["total"]:
            print("Карты уже заказаны.")
            return
        org_ids = [o["id"] for o in rpc.registry.org_index(limit=5_000)
                   if o["level"] == "primary" and not o["excluded_on"]][:orgs]
        ordered = sum(rpc.cards.request_for_org(i)["requested"] for i in org_ids)
        rpc.cards.collect_batches()
    subprocess.run([sys.executable, "-m", "services.cards.vendor_sim", "--once"], check=True)
    with rpc_proxy() as rpc:
        rpc.cards.read_responses()
        counts = rpc.cards.list_cards(None, None, 1, 0)["by_status"]
    print(f"Заказано карт: {ordered}; по статусам: {json.dumps(counts, ensure_ascii=False)}")


def last_quarter_day() -> str:
    """The latest statistical reporting date (1 January, April, July or October) up to today."""
    from datetime import date

    today = date.today()
    return date(today.year, 1 + (today.month - 1) // 3 * 3, 1).isoformat()


def cmd_report_generate(args: argparse.Namespace) -> int:
    from services.common.errors import DomainError

    day = args.day or last_quarter_day()
    try:
        with rpc_proxy() as rpc:
            run = rpc.reports.generate_all(args.family, day)
    except DomainError as exc:
        print(f"Отчёты не сформированы: {exc.message}", file=sys.stderr)
        return 2
    print(f"Отчёты «{run['family']}» на {run['day']}: организаций в реестре {run['organizations']},"
          f" отчётов {run['reports']} (новых {run['made']}), сформированы автоматически "
          f"{run['generated_auto']}, сданы {run['submitted']}; "
          f"{run['fetch_s'] + run['compute_s']:.1f} с")
    return 0


def cmd_report_file(args: argparse.Namespace) -> int:
    from services.common.errors import DomainError

    day = args.day or last_quarter_day()
    try:
        with rpc_proxy() as rpc:
            report = rpc.reports.generate(args.org, args.family, day)
            result = rpc.reports.report_file(report["id"], args.format)
    except DomainError as exc:
        print(f"Отчёт не получен: {exc.message}", file=sys.stderr)
        return 2
    out = Path(args.output or result["filename"])
    out.write_bytes(base64.b64decode(result["content_b64"]))
    print(f"{report['form']} «{report['org_name']}» на {day}: {out}")
    return 0


def cmd_report_tracking(args: argparse.Namespace) -> int:
    day = args.day or last_quarter_day()
    with rpc_proxy() as rpc:
        rows = rpc.reports.tracking(args.family, day)
    print(f"{'Регион':<52} {'Форма':<8} {'должны':>7} {'сформ.':>7} {'авто':>7} {'сданы':>7}")
    for r in rows:
        print(f"{(r['region_name'] or '—')[:52]:<52} {r['form']:<8} {r['expected']:>7} "
              f"{r['generated']:>7} {r['generated_auto']:>7} {r['submitted']:>7}")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    with rpc_proxy() as rpc:
        run = rpc.reports.run_quality()
        summary = rpc.reports.quality_summary()
    totals: dict[str, int] = {}
    for row in summary["rows"]:
        totals[row["check_code"]] = totals.get(row["check_code"], 0) + row["orgs"]
    print(f"Проверка качества данных № {run['run_id']}: {run['seconds']} с")
    for check in summary["checks"]:
        print(f"  {check['title']}: {totals.get(check['code'], 0)} организаций")
    return 0


def demo_reports() -> None:
    with rpc_proxy() as rpc:
        run = rpc.reports.generate_all("stat", last_quarter_day())
        quality = rpc.reports.run_quality()
    print(f"Статистические отчёты на {run['day']}: {run['reports']}, из них сформированы "
          f"автоматически {run['generated_auto']}; проверка качества данных: "
          f"{quality['seconds']} с")


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate and load a demo union of the given size, unless the registry already has one."""
    import tempfile

    from reestr.demo import members, orgs

    with rpc_proxy() as rpc:
        existing = rpc.registry.search("Общероссийский Профсоюз образования", None, "central")
    if existing:
        print("В реестре уже есть данные; демонстрационные организации не загружаются.")
    else:
        rows = orgs.generate_orgs(args.orgs, seed=args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo-orgs.csv"
            orgs.write_csv(rows, path)
            report = load_orgs_file(path, load_good_rows=False)
        print_report(report, None)
        if not report["rows_loaded"]:
            return 1
    with rpc_proxy() as rpc:
        has_members = rpc.membership.search_members({}, None, 1, 0)["total"]
    if has_members:
        print("Члены Профсоюза уже загружены.")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo-members.csv"
            members.write_csv(members.generate_members(registry_primaries(), seed=args.seed),
                              path)
            report = load_members_file(path, None, load_good_rows=False)
            mix = members.category_mix(path)
        print_report(report, None)
        print("Категории членов:", json.dumps(mix, ensure_ascii=False))
    demo_cards()
    demo_reports()
    print("Демонстрационные учётные записи (пароль: DEMO_PASSWORD в var/secrets/env):")
    for email, role, what in demo_accounts():
        print(f"  {email:<24} {role:<16} {what}")
    print("Токен для curl: .venv/bin/reestr token admin@demo.reestr --password "
          "\"$(grep ^DEMO_PASSWORD= var/secrets/env | cut -d= -f2)\"")
    return 0


def cmd_ops_backup(args: argparse.Namespace) -> int:
    from reestr import ops

    try:
        print(json.dumps(ops.backup(args.type), ensure_ascii=False))
    except ops.BackupError as exc:
        print(f"Резервная копия не сделана: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_ops_info(args: argparse.Namespace) -> int:
    from reestr import ops

    try:
        span = ops.restorable(archived_until=ops.archived_until(os.environ["DATABASE_URL"]))
        backups = ops.info()["backup"]
    except ops.BackupError as exc:
        print(f"Нет сведений о резервных копиях: {exc}", file=sys.stderr)
        return 1
    for b in backups:
        print(f"{b['label']:<40} {b['type']:<5} "
              f"{datetime.fromtimestamp(b['timestamp']['stop']):%Y-%m-%d %H:%M:%S}")
    print(f"можно восстановить: с {span.earliest:%Y-%m-%d %H:%M:%S} по "
          f"{span.latest:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def cmd_ops_restore(args: argparse.Namespace) -> int:
    from reestr import ops

    try:
        target = ops.parse_moment(args.to)
        span = ops.restorable(archived_until=ops.archived_until(os.environ["DATABASE_URL"]))
        done = ops.restore(target, Path(args.into), args.port, span)
    except ops.BackupError as exc:
        print(f"Восстановление отказано: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(done, ensure_ascii=False))
    print(f"Кластер на {target:%Y-%m-%d %H:%M:%S %Z} запущен на 127.0.0.1:{args.port} "
          f"({args.into}); сервисы переводятся на него через PG_PORT (README, «Operations»).")
    return 0


def cmd_ops_buckets(args: argparse.Namespace) -> int:
    from reestr import ops

    print(json.dumps(ops.backup_buckets(Path(args.to), args.bucket or None), ensure_ascii=False))
    return 0


def cmd_ops_restore_bucket(args: argparse.Namespace) -> int:
    from reestr import ops

    try:
        put = ops.restore_bucket(Path(args.source), args.bucket, args.into)
    except ops.BackupError as exc:
        print(f"Восстановление отказано: {exc}", file=sys.stderr)
        return 1
    print(f"Возвращено объектов: {put}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reestr", description="Единый реестр: командная строка")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="создать или обновить схемы всех сервисов").set_defaults(
        func=cmd_migrate)

    trust = sub.add_parser("trust", help="ключи, которыми сервисы подписывают вызовы на шине"
                           ).add_subparsers(dest="trust_command", required=True)
    p = trust.add_parser("keys", help="создать недостающие ключи (TRUST_KEYS_DIR или --dir)")
    p.add_argument("--dir", help="каталог ключей")
    p.set_defaults(func=cmd_trust_keys)

    bus = sub.add_parser("bus", help="пользователи RabbitMQ сервисов и их права"
                         ).add_subparsers(dest="bus_command", required=True)
    p = bus.add_parser("provision", help="создать пользователей и права на виртуальных хостах")
    p.add_argument("--api", default="http://127.0.0.1:15672", help="адрес management API")
    p.add_argument("--vhost", action="append", required=True, help="виртуальный хост")
    p.set_defaults(func=cmd_bus_provision)
    bus.add_parser("grants", help="показать права каждого сервиса").set_defaults(
        func=cmd_bus_grants)

    p = sub.add_parser("load-orgs", help="загрузить дерево организаций из XLSX или CSV")
    p.add_argument("file")
    p.add_argument("--load-good-rows", action="store_true",
                   help="загрузить правильные строки, даже если в других есть ошибки")
    p.add_argument("--report", help="записать полный отчёт об ошибках в CSV")
    p.set_defaults(func=cmd_load_orgs)

    sso = sub.add_parser("sso", help="единый вход (Keycloak)").add_subparsers(
        dest="sso_command", required=True)
    sso.add_parser("provision", help="создать или обновить реалм, клиентов и роли").set_defaults(
        func=cmd_sso_provision)
    sso.add_parser("admin", help="проверить вход администратора Keycloak, восстановить его"
                   ).set_defaults(func=cmd_sso_admin)

    p = sub.add_parser("token", help="получить токен доступа (для curl и скриптов)")
    p.add_argument("username")
    p.add_argument("--password", help="без него пароль будет спрошен")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("gen-orgs", help="сгенерировать файл демонстрационных организаций")
    p.add_argument("--orgs", type=int, default=500)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("-o", "--output", required=True, help="файл .csv или .xlsx")
    p.set_defaults(func=cmd_gen_orgs)

    p = sub.add_parser("load-members", help="загрузить членов Профсоюза из XLSX или CSV")
    p.add_argument("file")
    p.add_argument("--org", type=int, help="организация для строк без рег. номера")
    p.add_argument("--load-good-rows", action="store_true",
                   help="загрузить правильные строки, даже если в других есть ошибки")
    p.add_argument("--report", help="записать полный отчёт об ошибках в CSV")
    p.set_defaults(func=cmd_load_members)

    p = sub.add_parser("gen-members", help="сгенерировать файл членов для демонстрационных "
                                           "организаций (тот же --orgs и --seed)")
    p.add_argument("--orgs", type=int, default=500)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("-o", "--output", required=True, help="файл .csv")
    p.set_defaults(func=cmd_gen_members)

    report = sub.add_parser("report", help="отчёты: сформировать, получить файл, ход сдачи"
                            ).add_subparsers(dest="report_command", required=True)
    families = "stat (1-5-СП), kdk, kdko, pi (4-ПИ), ov, ovc (1-6-ОВ)"
    p = report.add_parser("generate", help="сформировать отчёты всего Профсоюза на дату")
    p.add_argument("--family", default="stat", help=families)
    p.add_argument("--day", help="отчётная дата ГГГГ-ММ-ДД (по умолчанию последняя)")
    p.set_defaults(func=cmd_report_generate)
    p = report.add_parser("file", help="отчёт организации файлом (PDF или XLSX)")
    p.add_argument("--org", type=int, required=True, help="id организации")
    p.add_argument("--family", default="stat", help=families)
    p.add_argument("--day", help="отчётная дата ГГГГ-ММ-ДД (по умолчанию последняя)")
    p.add_argument("--format", choices=("pdf", "xlsx"), default="pdf")
    p.add_argument("-o", "--output", help="куда записать (по умолчанию имя отчёта)")
    p.set_defaults(func=cmd_report_file)
    p = report.add_parser("tracking", help="сколько отчётов сформировано и сдано по регионам")
    p.add_argument("--family", default="stat", help=families)
    p.add_argument("--day", help="отчётная дата ГГГГ-ММ-ДД (по умолчанию последняя)")
    p.set_defaults(func=cmd_report_tracking)

    sub.add_parser("quality", help="проверить качество данных по всему Профсоюзу"
                   ).set_defaults(func=cmd_quality)

    ops = sub.add_parser("ops", help="резервные копии и восстановление на момент времени"
                         ).add_subparsers(dest="ops_command", required=True)
    p = ops.add_parser("backup", help="резервная копия всего кластера PostgreSQL")
    p.add_argument("--type", choices=["full", "diff", "incr"], default="full")
    p.set_defaults(func=cmd_ops_backup)
    ops.add_parser("info", help="копии и промежуток, который можно восстановить"
                   ).set_defaults(func=cmd_ops_info)
    p = ops.add_parser("restore", help="восстановить кластер на момент в новый каталог")
    p.add_argument("--to", required=True, help="момент: 2026-12-01 18:30")
    p.add_argument("--into", required=True, help="пустой каталог для данных")
    p.add_argument("--port", type=int, default=5433)
    p.set_defaults(func=cmd_ops_restore)
    default_copy = os.environ.get("BUCKET_BACKUP_DIR", "var/backup-s3")
    p = ops.add_parser("backup-buckets", help="копия бакетов хранилища объектов в каталог")
    p.add_argument("--to", default=default_copy)
    p.add_argument("--bucket", action="append", help="только этот бакет (можно несколько раз)")
    p.set_defaults(func=cmd_ops_buckets)
    p = ops.add_parser("restore-bucket", help="вернуть объекты бакета из копии")
    p.add_argument("bucket")
    p.add_argument("--source", default=default_copy)
    p.add_argument("--into", help="в другой бакет")
    p.set_defaults(func=cmd_ops_restore_bucket)

    p = sub.add_parser("demo", help="загрузить демонстрационные данные, если реестр пуст")
    p.add_argument("--orgs", type=int, default=500)
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=cmd_demo)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
