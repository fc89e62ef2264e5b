"""The reports service: nameko entrypoints over the plain-Python modules beside it.

The registry's tree and membership's counts of a reporting date are asked for once, in batches
(`tree_as_of`, `counts_as_of`), and kept as that date's snapshot; reports are then made, counted
and consolidated with SQL (compute). Scope: one report is the caller's if one of their
organizations stood on its organization's path on the report's date (`ran_through`), so that a
move since takes nobody's own reports away; lists and tracking (`scope_paths`, from membership)
cover the caller's subtrees as they stand now.
"""

import base64
import binascii
import logging
import time
from datetime import date
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import serialization
from services.common.caller import CallerProvider, ran_through
from services.common.db import Database
from services.common.errors import Forbidden, ValidationFailed, field_error
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.outbox import OutboxRelay
from services.common.packed import unpack_columns
from services.common.params import parse_day, parse_id
from services.common.roles import AIS_RESPONSIBLE, REGIONAL_STAFF
from services.common.rpc import rpc
from services.common.settings import settings
from services.reports import (
    compute,
    definitions,
    figures_file,
    quality,
    render,
    snapshot,
    workflow,
)
from services.reports.settings import reports_settings
from services.reports.workflow import SCHEMA

MISSING_PAGE = 50  # organizations that have not reported, per page of the tracking
STALE_CHECK_MAX_ORGS = 5000  # a region's draft is checked against the registry; the union's not

log = logging.getLogger(__name__)


def reporting_day(day: Any) -> date:
    """A reporting date that has come: a report of a day ahead counts a registry not yet there."""
    on = parse_day(day, "day")
    if on > date.today():
        raise ValidationFailed(details=[field_error(
            "day", "day_in_future", f"Дата отчёта {on:%d.%m.%Y} ещё не наступила")])
    return on


class ReportsService(OperationsRpc):
    name = "reports"

    db = Database()
    relay = OutboxRelay(SCHEMA)
    caller = CallerProvider()
    observed = Observed({
        "reestr_quality_run_age_seconds": (
            "Time since the last data-quality run",
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - max(taken_at)), 0) "
            "FROM reports.quality_run"),
        "reestr_quality_run_seconds": (
            "How long the last data-quality run took",
            "SELECT COALESCE((SELECT seconds FROM reports.quality_run "
            "ORDER BY id DESC LIMIT 1), 0)")})
    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    cards = RpcProxy("cards")
    notify = RpcProxy("notify")

    def _paths(self) -> list[str] | None:
        return None if self.caller.is_global else self.membership.scope_paths()

    def _snapshot(self, s: Session, day: date, org_id: int | None = None) -> None:
        """The tree as it stood on `day`, taken once. A caller who is not the Central Council's
        makes the union's snapshot only for an organization of their own: the registry,
        asked for it as them, answers 404 otherwise, before any work is done."""
        if not snapshot.exists(s, day):
            if not self.caller.is_global and org_id is not None:
                self.registry.get_organization(org_id)
            snapshot.take(s, day, self.registry.tree_as_of(day.isoformat()), "system")

    def _report(self, s: Session, report_id: Any, lock: bool = False) -> dict[str, Any]:
        return workflow.get(s, parse_id(report_id, "report_id"), self.caller.scope_roots, lock)

    @rpc
    def unsubmitted_before(self, day: str) -> list[dict[str, Any]]:
        """Draft reports of a day before `day` (membership's retention; services and the
        Central Council's staff, whose run it is)."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        with self.db.reading() as s:
            return workflow.unsubmitted_before(s, parse_day(day, "day"))

    # ---- definitions ----

    @rpc
    def forms(self, day: str) -> list[dict[str, Any]]:
        """The families of forms in force on `day`, with their forms and indicators."""
        return [{"family": f.code, "year": f.year, "title": f.title, "dates": list(f.dates),
                 "forms": [{"code": x.code, "level": x.level, "title": x.title,
                            "indicators": [{"code": i.code, "label": i.label, "mode": i.mode}
                                           for i in x.indicators],
                            "checks": [c.message for c in x.checks]} for x in f.forms]}
                for f in definitions.families(parse_day(day, "day"))]

    # ---- making reports ----

    @rpc
    def generate(self, org_id: int, family: str, day: str) -> dict[str, Any]:
        """The organization's report of `day` in `family`: made as a draft if there is none,
        its registry figures and sums brought up to date if it is a draft."""
        oid, on = parse_id(org_id, "org_id"), reporting_day(day)
        fam = definitions.family(str(family), on)
        fam.check_date(on)
        with self.db.transaction() as s:
            self._snapshot(s, on, oid)
            org = snapshot.org(s, on, oid)
            if not ran_through(org["path"], self.caller.scope_roots):
                raise Forbidden("forbidden", "Отчёт этой организации вам недоступен")
            if fam.form_for(org) is None:
                raise Forbidden("form_not_for_org", (
                    f"Организации уровня «{org['level']}» не составляют отчёт "
                    f"«{fam.title}»"))
            # the drafts beneath are made too (a primary's is generated from the registry
            # without its chair asking), so that the sums have something to sum
            within = snapshot.within(s, on, org["path"])
            snapshot.store_counts(s, on, self.membership.counts_as_of(on.isoformat(), within),
                                  within)
            compute.place(s, fam, on, self.caller.user, within)
            compute.count(s, fam, on, root=org["path"])
            report = workflow.refresh(s, workflow.find(s, on, fam.code, oid))
            return workflow.shown(s, report, with_children=True)

    @rpc
    def generate_all(self, family: str, day: str) -> dict[str, Any]:
        """Every report of `family` on `day` across the union, counted and consolidated up to
        the Central Council's: the tree and the counts taken afresh, in one call each."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Отчёты всего Профсоюза формирует аппарат "
                                         "Центрального Совета")
        on = reporting_day(day)
        fam = definitions.family(str(family), on)
        fam.check_date(on)
        started = time.perf_counter()
        asked = (self.registry.tree_as_of.call_async(on.isoformat()),   # both at once
                 self.membership.counts_as_of.call_async(on.isoformat()))
        tree, counts = (reply.result() for reply in asked)
        fetched = time.perf_counter()
        with self.db.transaction() as s:
            totals = compute.national(s, fam, on, tree, counts, self.caller.user)
        done = time.perf_counter()
        log.info("reports %s of %s: %s, %.1f s", fam.code, on, totals, done - started)
        return {"family": fam.code, "day": on.isoformat(), **totals,
                "fetch_s": round(fetched - started, 2), "compute_s": round(done - fetched, 2)}

    # ---- reading and the workflow ----

    @rpc
    def get_report(self, report_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            report = workflow.refresh(s, self._report(s, report_id))
            return workflow.shown(s, report, with_children=True)

    @rpc
    def registry_changes(self, report_id: int) -> list[dict[str, Any]]:
        """What «Обновить данные реестра» would change in a draft: each registry figure whose
        count differs now that the registry of its date has changed (a member registered or
        removed with an earlier date). Worked out by the same counting in a savepoint that is
        rolled back; not asked of subtrees over `STALE_CHECK_MAX_ORGS` organizations."""
        with self.db.transaction() as s:
            report = self._report(s, parse_id(report_id, "report_id"))
            if report["status"] != "draft":
                return []
            day, path = report["day"], report["path"]
            within = snapshot.within(s, day, path)
            if len(within) > STALE_CHECK_MAX_ORGS:
                return []
            fam, form = workflow.definitions(report)
            counts = self.membership.counts_as_of(day.isoformat(), within)
            point = s.begin_nested()
            try:
                snapshot.store_counts(s, day, counts, within)
                compute.count(s, fam, day, root=path)
                now = workflow.refresh(s, workflow.get(s, report["id"], None))["values"]
            finally:
                point.rollback()
        was = report["values"]
        return [{"code": i.code, "label": i.label, "was": was.get(i.code), "now": now.get(i.code)}
                for i in form.indicators if was.get(i.code) != now.get(i.code)]

    @rpc
    def find_report(self, org_id: int, family: str, day: str) -> dict[str, Any] | None:
        on = parse_day(day, "day")
        with self.db.reading() as s:
            report = workflow.find(s, on, str(family), parse_id(org_id, "org_id"))
            if report is None or not ran_through(report["path"], self.caller.scope_roots):
                return None
            return {"id": report["id"], "status": report["status"], "form": report["form"]}

    @rpc
    def edit_report(self, report_id: int, values: dict[str, Any],
                    expected_version: int | None = None) -> dict[str, Any]:
        with self.db.transaction() as s:
            report = self._report(s, report_id, lock=True)
            return workflow.shown(s, workflow.edit(s, report, values, self.caller.user,
                                                   expected_version))

    @rpc
    def submit_report(self, report_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            report = self._report(s, report_id, lock=True)
            shown = workflow.shown(s, workflow.submit(s, report, self.caller.user))
        self.relay.try_flush()
        return shown

    @rpc
    def reopen_report(self, report_id: int, reason: str) -> dict[str, Any]:
        """Back to draft: by the organizations above (not by the one that submitted it)."""
        with self.db.transaction() as s:
            report = self._report(s, report_id, lock=True)
            roots = self.caller.scope_roots
            if roots is not None and report["org_id"] in roots:
                raise Forbidden("reopen_by_parent", "Вернуть отчёт на доработку может "
                                                    "вышестоящая организация")
            shown = workflow.shown(s, workflow.reopen(s, report, reason, self.caller.user))
        self.relay.try_flush()
        return shown

    @rpc
    def tracking(self, family: str, day: str) -> list[dict[str, Any]]:
        on = parse_day(day, "day")
        with self.db.reading() as s:
            return workflow.tracking(s, definitions.family(str(family), on), on, self._paths())

    @rpc
    def tracking_missing(self, family: str, day: str, region_id: int | None = None,
                         page: int = 1) -> dict[str, Any]:
        """Who has not submitted yet, down to each organization: a page of them and the
        total (the chairs' contacts are the registry's, asked for by the portal as the
        caller)."""
        on = parse_day(day, "day")
        region = None if region_id in (None, "") else parse_id(region_id, "region_id")
        with self.db.reading() as s:
            due = workflow.not_submitted(s, definitions.family(str(family), on), on, self._paths(),
                                   region)
        page = max(parse_id(page, "page"), 1)
        return {"total": len(due), "page": page, "per_page": MISSING_PAGE,
                "rows": due[(page - 1) * MISSING_PAGE:page * MISSING_PAGE]}

    @rpc
    def remind_missing(self, family: str, day: str, org_ids: list[int]) -> dict[str, int]:
        """Those above ask the chairs of organizations that have not submitted to do so (by
        e-mail, through notify); organizations outside the caller's subtrees, or that have
        submitted, are left out."""
        on = parse_day(day, "day")
        fam = definitions.family(str(family), on)
        ids = [parse_id(i, "org_ids") for i in org_ids or []]
        if not ids:
            raise ValidationFailed("nobody_chosen", "Выберите организации для напоминания")
        with self.db.transaction() as s:
            asked = workflow.ask_to_submit(s, fam, on, ids, self.caller.user,
                                           workflow.not_submitted(s, fam, on, self._paths()))
        if not asked:
            raise ValidationFailed("nobody_to_remind", "Среди выбранных нет организаций "
                                   "вашей структуры, не сдавших этот отчёт")
        self.relay.try_flush()
        return {"asked": asked}

    @rpc
    def report_file(self, report_id: int, kind: str) -> dict[str, str]:
        """The report as PDF or XLSX (base64 on the wire), with a file name."""
        with self.db.transaction() as s:
            report = workflow.refresh(s, self._report(s, report_id))
            data = render.pdf(s, report) if kind == "pdf" else render.xlsx(s, report)
        name = f"{report['form']}_{report['org_id']}_{report['day']:%Y-%m-%d}.{kind}"
        return {"filename": name, "content_b64": base64.b64encode(data).decode()}

    @timer(interval=settings().outbox_interval_s)
    def publish_outbox(self) -> None:
        """Events a submission could not publish at once (the broker away) go out later."""
        self.relay.try_flush()

    # ---- data quality ----

    @timer(interval=reports_settings().quality_interval_s, eager=False)
    def quality_timer(self) -> None:
        with self.db.alone("reports.quality") as mine:
            if mine:
                self._quality_run("system")

    @rpc
    def run_quality(self) -> dict[str, Any]:
        """Every check over the whole union now (the Central Council's users, the platform)."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Проверку всего Профсоюза запускает аппарат "
                                         "Центрального Совета")
        return self._quality_run(self.caller.user)

    def _quality_run(self, actor: str) -> dict[str, Any]:
        started = time.perf_counter()
        tree = self.registry.tree_as_of(None)
        counts = self.membership.counts_as_of(date.today().isoformat())
        waiting = self.cards.waiting_by_org()
        access = self._chair_access(tree)
        bouncing = self.notify.bouncing_addresses()
        bad_email = {int(k): int(v) for k, v in
                     (self.membership.bad_email_counts(bouncing) if bouncing else {}).items()}
        with self.db.transaction() as s:
            run_id = quality.run(s, date.today(), tree, counts, waiting, actor, access,
                                 bad_email)
            seconds = round(time.perf_counter() - started, 2)
            quality.took(s, run_id, seconds)
        log.info("data quality run %s: %.1f s", run_id, seconds)
        return {"run_id": run_id, "seconds": seconds}

    @rpc
    def unsubmitted(self, day: str) -> list[dict[str, Any]]:
        """Organizations that report on `day` (a reporting date of some family) and have not
        submitted that report, from the tree as it stands (services only: notify's reminders).
        Nothing when `day` is no family's reporting date."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        on = parse_day(day, "day")
        fams = [f for f in definitions.families(on) if f"{on:%m-%d}" in f.dates]
        if not fams:
            return []
        cols = unpack_columns(self.registry.tree_as_of(None))
        with self.db.reading() as s:
            done = set(s.execute(text("""
                SELECT org_id, family FROM reports.report
                WHERE day = :d AND status = 'submitted'
            """), {"d": on}).tuples())
        names = list(cols)
        out = []
        for values in zip(*cols.values(), strict=True):
            org = dict(zip(names, values, strict=True))
            if org["excluded_on"]:
                continue
            for fam in fams:
                if (org["id"], fam.code) not in done and fam.form_for(org) is not None:
                    out.append({"org_id": org["id"], "family": fam.code,
                                "family_title": fam.title})
        return out

    def _chair_access(self, packed_tree: str) -> dict[int, str]:
        """The state of each chair's account (by organization), for chairs with an e-mail:
        their addresses from the registry, the states from notify, a few calls in all (the
        addresses are not kept)."""
        cols = unpack_columns(packed_tree)
        org_ids = [i for i, has, gone in zip(cols["id"], cols["chair_has_email"],
                                             cols["excluded_on"], strict=True)
                   if has and not gone]
        email_of: dict[int, str] = {}
        for start in range(0, len(org_ids), 5000):
            for row in self.registry.chairs(org_ids[start:start + 5000]):
                email = " ".join(str((row.get("chair") or {}).get("email") or "").split())
                if email:
                    email_of[int(row["org_id"])] = email.lower()
        states = self.notify.account_states(sorted(set(email_of.values())))
        return {org: states.get(email, "never_signed_in") for org, email in email_of.items()}

    @rpc
    def quality_summary(self) -> dict[str, Any]:
        with self.db.reading() as s:
            return serialization.jsonable(quality.summary(s, self._paths()))

    @rpc
    def quality_drilldown(self, org_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            return serialization.jsonable(
                quality.drilldown(s, parse_id(org_id, "org_id"), self._paths()))

    @rpc
    def quality_faults(self, org_id: int, check: str | None = None, limit: int = 100,
                       offset: int = 0) -> dict[str, Any]:
        with self.db.reading() as s:
            return serialization.jsonable(quality.faults(
                s, parse_id(org_id, "org_id"), check, self._paths(), limit, offset))

    @rpc
    def quality_reconciliation(self, day: str | None = None) -> dict[str, Any]:
        with self.db.reading() as s:
            return serialization.jsonable(quality.reconciliation(
                s, self._paths(), None if day is None else parse_day(day, "day")))

    @rpc
    def load_reported_figures(self, content_b64: str, filename: str, day: str
                              ) -> dict[str, Any]:
        """The statistical report's figures per primary from a file, for the reconciliation:
        the Central Council's staff for the union, regional staff for their region."""
        if not self.caller.is_global and not {REGIONAL_STAFF, AIS_RESPONSIBLE} & set(
                self.caller.roles):
            raise Forbidden("forbidden", "Цифры статотчёта загружает аппарат ЦС или "
                                         "региональной организации")
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationFailed("file_format", "Файл передан повреждённым") from None
        on = parse_day(day, "day")
        paths = self._paths()
        with self.db.transaction() as s:  # counts, no personal data: nothing to audit
            return figures_file.load(s, self.caller.user, content, str(filename), on, paths)

    @rpc
    def quality_usage(self) -> dict[str, Any]:
        with self.db.reading() as s:
            return serialization.jsonable(quality.usage(s, self._paths()))

    @rpc
    def quality_xlsx(self) -> dict[str, str]:
        with self.db.reading() as s:
            paths = self._paths()
            data = render.quality_xlsx(quality.summary(s, paths),
                                       quality.reconciliation(s, paths, None),
                                       quality.usage(s, paths))
        return {"filename": "quality.xlsx", "content_b64": base64.b64encode(data).decode()}

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}
