"""Reports (issue 6): an organization's reports by date, a report to fill in, submit, reopen or
download, and the tracking of who has submitted. Rules live in the reports service; a page
shows its answers and its refusals next to the fields."""

from datetime import date
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from gateway.http import call, file_response
from gateway.portal.web import ctx, field_errors, gather, page, redirect, render
from gateway.portal.words import count
from gateway.reports_api import MIMETYPES
from services.common.errors import DomainError

FAMILIES = {"stat": "Статистическая отчётность (1–5-СП)",
            "kdk": "Коллективно-договорная кампания (КДК)",
            "kdko": "Коллективные договоры в образовательных организациях (КДКО)",
            "pi": "Правозащитная работа (4-ПИ)",
            "ov": "Отчёты и выборы: собрания и конференции (1–3-ОВ)",
            "ovc": "Отчёты и выборы: избранные председатели (4–6-ОВ)"}
STATUS = {"draft": "черновик", "submitted": "сдан", None: "не сформирован",
          "none": "не сформирован"}


def report_days(family: str, today: date | None = None) -> list[str]:
    """The latest reporting dates of a family, newest first: quarters for the statistical
    forms, 1 January for the campaigns."""
    today = today or date.today()
    if family != "stat":
        return [date(today.year - n, 1, 1).isoformat() for n in range(3)]
    days, year, month = [], today.year, 1 + (today.month - 1) // 3 * 3
    for _ in range(6):
        days.append(date(year, month, 1).isoformat())
        month -= 3
        if month < 1:
            month, year = month + 12, year - 1
    return days


def _choice(request: Request) -> tuple[str, str]:
    family = request.args.get("family") or request.form.get("family") or "stat"
    if family not in FAMILIES:
        family = "stat"
    days = report_days(family)
    day = request.args.get("day") or request.form.get("day") or days[0]
    return family, day if day in days else days[0]


class ReportPages:
    reports: Any
    registry: Any

    @page("GET", "/portal/reports")
    def portal_reports(self, request: Request) -> Response:
        """An organization's report on a date: open it, or generate it."""
        caller = ctx(request).caller
        family, day = _choice(request)
        try:
            org_id = int(request.args.get("org_id") or 0) or (
                caller.org_ids[0] if caller and caller.org_ids else None)
        except ValueError:
            org_id = None
        org = found = None
        if org_id is not None:
            org = call(self.registry, "get_organization", org_id)
            found = call(self.reports, "find_report", org_id, family, day)
        return render(request, "reports/index.html", org=org, found=found, family=family,
                      day=day, days=report_days(family), families=FAMILIES,
                      status_names=STATUS)

    @page("POST", "/portal/reports/generate")
    def portal_report_generate(self, request: Request) -> Response:
        family, day = _choice(request)
        org_id = request.form.get("org_id", "")
        try:
            report = call(self.reports, "generate", org_id, family, day, timeout=120)
        except DomainError as exc:
            if exc.status >= 500:
                raise
            return redirect("/portal/reports?" + urlencode(
                {"org_id": org_id, "family": family, "day": day}), flash=exc.message,
                request=request, bad=True)
        return redirect(f"/portal/reports/{report['id']}", request=request)

    @page("GET,POST", "/portal/reports/<int:report_id>")
    def portal_report(self, request: Request, report_id: int) -> Response:
        """The report; a POST saves the figures typed in (all or nothing, like the API)."""
        errors: dict[str, str] = {}
        typed: dict[str, str] = dict(ctx(request).draft or {})
        if request.method == "POST":
            typed = {k: v.strip() for k, v in request.form.items() if k.startswith("v_")}
            values = {k[2:]: (v or None) for k, v in typed.items()}
            try:
                call(self.reports, "edit_report", report_id, values,
                     int(request.form.get("version") or 0) or None)
                return redirect(f"/portal/reports/{report_id}", flash="Сохранено",
                                request=request)
            except DomainError as exc:
                if exc.status >= 500:
                    raise
                errors = {f"v_{k}": v for k, v in field_errors(exc).items()}
                if exc.code == "report_checks_failed":
                    errors["_form"] = exc.message
        report, changes = gather((self.reports, "get_report", report_id),
                                 (self.reports, "registry_changes", report_id))
        caller = ctx(request).caller
        # the organization's own people do not reopen its report: the one above does
        own = caller is not None and not caller.is_global and report["org_id"] in caller.org_ids
        checks: dict[str, list[str]] = {}
        for failed in report.get("failed_checks") or []:
            for code in failed.get("codes") or []:
                checks.setdefault(f"v_{code}", []).append(failed["message"])
        # who has not submitted yet, with their chair's contacts to remind them
        contacts: dict[int, dict[str, Any]] = {}
        if any(c.get("status") != "submitted" for c in report.get("children") or []):
            contacts = {c["org_id"]: c["chair"] or {} for c in
                        call(self.registry, "chairs_within", report["org_id"])}
        return render(request, "reports/report.html", status=422 if errors else 200,
                      r=report, typed=typed, errors=errors, status_names=STATUS,
                      families=FAMILIES, may_reopen=not own, checks=checks,
                      contacts=contacts, changes=changes)

    @page("GET,POST", "/portal/reports/<int:report_id>/submit")
    def portal_report_submit(self, request: Request, report_id: int) -> Response:
        """A page asks first (what is submitted cannot be changed without the organization
        above); its form's POST submits."""
        if request.method == "GET":
            report = call(self.reports, "get_report", report_id, timeout=60)
            return render(request, "reports/submit.html", r=report, status_names=STATUS)
        try:
            call(self.reports, "submit_report", report_id, timeout=60)
        except DomainError as exc:
            if exc.status >= 500:
                raise
            return redirect(f"/portal/reports/{report_id}", flash=exc.message, request=request,
                            bad=True)
        return redirect(f"/portal/reports/{report_id}", flash="Отчёт сдан", request=request)

    @page("GET,POST", "/portal/reports/<int:report_id>/reopen")
    def portal_report_reopen(self, request: Request, report_id: int) -> Response:
        values, errors = dict(ctx(request).draft or {}), {}
        if request.method == "POST":
            values = dict(request.form.items())
            try:
                call(self.reports, "reopen_report", report_id, values.get("reason", ""))
                return redirect(f"/portal/reports/{report_id}",
                                flash="Отчёт возвращён на доработку", request=request)
            except DomainError as exc:
                if exc.status >= 500:
                    raise
                errors = field_errors(exc)
        report = call(self.reports, "get_report", report_id)
        return render(request, "reports/reopen.html", status=422 if errors else 200,
                      r=report, values=values, errors=errors)

    @page("GET", "/portal/reports/<int:report_id>/file")
    def portal_report_file(self, request: Request, report_id: int) -> Response:
        kind = "xlsx" if request.args.get("format") == "xlsx" else "pdf"
        return file_response(call(self.reports, "report_file", report_id, kind, timeout=60),
                             MIMETYPES[kind])

    @page("GET", "/portal/reports/tracking")
    def portal_report_tracking(self, request: Request) -> Response:
        """Per region and form: who should report, generated, automatically, submitted."""
        family, day = _choice(request)
        region = request.args.get("region_id", "")
        page_no = request.args.get("page", "1")
        rows, missing = gather((self.reports, "tracking", family, day),
                               (self.reports, "tracking_missing", family, day,
                                region or None, page_no if page_no.isdigit() else 1))
        # the chairs' contacts, read (and audited) as the caller, for this page's rows only
        chairs = {int(c["org_id"]): c["chair"] for c in call(
            self.registry, "chairs", [r["org_id"] for r in missing["rows"]])
            } if missing["rows"] else {}
        args = {"family": family, "day": day, "region_id": region}
        return render(request, "reports/tracking.html", rows=rows, family=family, day=day,
                      days=report_days(family), families=FAMILIES, missing=missing,
                      chairs=chairs, args=args, region=region, report_status=STATUS)

    @page("POST", "/portal/reports/tracking/remind")
    def portal_report_remind(self, request: Request) -> Response:
        """Those above ask the chairs they chose to submit."""
        family, day = _choice(request)
        back = "/portal/reports/tracking?" + urlencode(
            {"family": family, "day": day, "region_id": request.form.get("region_id", ""),
             "page": request.form.get("page", "1")})
        ids = [i for i in request.form.getlist("org_id") if i.isdigit()]
        try:
            asked = call(self.reports, "remind_missing", family, day, ids)["asked"]
        except DomainError as exc:
            return redirect(back, flash=exc.message, request=request, bad=True)
        return redirect(back, request=request, flash="Напоминание отправлено председателям: "
                        + count(asked, "организация", "организации", "организаций"))
