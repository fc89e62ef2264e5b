"""Data quality (issue 7): the checks per region as a table and a bar chart, the drill-down to
territorial and primary organizations, the organizations at fault with where each is put right,
the reconciliation with the statistical reports and the usage figures."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call, file_response
from gateway.portal.chairs import STATES as ACCESS_STATES
from gateway.portal.charts import columns, quarter_label
from gateway.portal.web import ctx, page, redirect, render
from gateway.portal.words import number
from gateway.quality_api import XLSX
from services.common.errors import DomainError


def _check(request: Request, checks: list[dict[str, str]]) -> str:
    codes = [c["code"] for c in checks]
    wanted = request.args.get("check")
    return wanted if wanted in codes else codes[0]


FAULTS_PAGE = 50  # organizations to fix per page of a drill-down

class QualityPages:
    reports: Any

    @page("GET", "/portal/quality")
    def portal_quality(self, request: Request) -> Response:
        summary = call(self.reports, "quality_summary")
        check = _check(request, summary["checks"])
        regions: dict[Any, dict[str, Any]] = {}
        for row in summary["rows"]:
            region = regions.setdefault(row["region_id"], {
                "id": row["region_id"], "name": row["region_name"], "checks": {}})
            region["checks"][row["check_code"]] = row
        chart = sorted(((r["name"], r["checks"][check]["orgs"],
                         r["checks"][check]["orgs_before"])
                        for r in regions.values() if check in r["checks"]),
                       key=lambda item: -item[1])
        top = max((n for _, n, _ in chart), default=0)
        caller = ctx(request).caller
        trend = summary.get("trend") or {"quarters": [], "orgs": {}}
        trend_chart = columns([quarter_label(q) for q in trend["quarters"]],
                              trend["orgs"].get(check, []),
                              "Организаций с недостатком по кварталам")
        return render(request, "quality/index.html", summary=summary, check=check,
                      trend_chart=trend_chart,
                      may_run=caller is not None and caller.is_global,
                      regions=sorted(regions.values(), key=lambda r: r["name"] or ""),
                      chart=chart, top=top)

    @page("POST", "/portal/quality/run")
    def portal_quality_run(self, request: Request) -> Response:
        """Every check again, now (the Central Council: the service refuses others)."""
        try:
            done = call(self.reports, "run_quality", timeout=600)
        except DomainError as exc:
            if exc.status >= 500:
                raise
            return redirect("/portal/quality", flash=exc.message, request=request, bad=True)
        return redirect("/portal/quality", request=request,
                        flash=f"Проверка проведена заново за {number(done.get('seconds', 0))} с")

    @page("GET", "/portal/quality/org/<int:org_id>")
    def portal_quality_org(self, request: Request, org_id: int) -> Response:
        down = call(self.reports, "quality_drilldown", org_id)
        check = request.args.get("check") or None
        page_no = request.args.get("page", "1")
        page_no = int(page_no) if page_no.isdigit() and int(page_no) > 0 else 1
        faults = call(self.reports, "quality_faults", org_id, check, FAULTS_PAGE,
                      (page_no - 1) * FAULTS_PAGE)
        parts: dict[Any, dict[str, Any]] = {}
        for p in down["parts"]:
            part = parts.setdefault(p["part_id"], {"id": p["part_id"], "name": p["name"],
                                                    "checks": {}})
            part["checks"][p["check_code"]] = p
        return render(request, "quality/org.html", down=down, faults=faults, check=check,
                      page=page_no, size=FAULTS_PAGE,
                      parts=sorted(parts.values(), key=lambda p: p["name"] or ""),
                      titles={c["code"]: c["title"] for c in down["checks"]},
                      ACCESS_STATES=ACCESS_STATES)

    @page("GET", "/portal/quality/reconciliation")
    def portal_quality_reconciliation(self, request: Request) -> Response:
        rec, usage = (call(self.reports, "quality_reconciliation"),
                      call(self.reports, "quality_usage"))
        return render(request, "quality/reconciliation.html", rec=rec, usage=usage)

    @page("GET", "/portal/quality/export.xlsx")
    def portal_quality_export(self, request: Request) -> Response:
        return file_response(call(self.reports, "quality_xlsx", timeout=60), XLSX)
