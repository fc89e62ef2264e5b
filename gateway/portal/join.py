"""The public page «Вступить в Профсоюз»: the region, the education organization, the form with
consents, and the confirmation (the application's id is the applicant's key to its decision)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import ratelimit
from gateway.http import call
from gateway.portal import forms
from gateway.portal.labels import ALL
from gateway.portal.web import form_failure, page, redirect, render
from services.common.errors import DomainError

APPLICATION_FIELDS = ("surname", "first_name", "patronymic", "sex", "birth_date", "snils",
                      "phone", "email", "category", "job_category")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class JoinPages:
    membership: Any

    @page("GET,POST", "/join", public=True)
    def portal_join(self, request: Request) -> Response:
        source = request.form if request.method == "POST" else request.args
        region_id, org_id = _int(source.get("region_id")), _int(source.get("org_id"))
        q = (source.get("q") or "").strip()
        regions = call(self.membership, "join_regions")
        found: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        if region_id is not None and q:
            try:
                found = call(self.membership, "join_organizations", region_id, q)
            except DomainError as exc:
                errors.update(form_failure(exc))
        chosen = next((o for o in found if o["id"] == org_id), None)
        values: dict[str, Any] = {"category": "student"}
        if request.method == "POST":
            values = dict(request.form.items())
            if chosen is None:
                errors["org_id"] = "Выберите образовательную организацию из списка"
            else:
                application = {k: (request.form.get(k) or "").strip()
                               for k in APPLICATION_FIELDS}
                application.update(org_id=org_id,
                                   pd_consent=forms.flag(request.form, "pd_consent"),
                                   email_consent=forms.flag(request.form, "email_consent"))
                # the answer is the same for anyone; the chair sees a duplicate in the queue
                ratelimit.check_address(request, "join")
                ratelimit.check_target("join", *ratelimit.person_targets(application))
                try:
                    result = call(self.membership, "submit_application", application)
                    return redirect(f"/join/applications/{result['id']}")
                except DomainError as exc:
                    errors.update(form_failure(exc))
        return render(request, "join/form.html", status=422 if errors else 200,
                      regions=regions, region_id=region_id, q=q, found=found, chosen=chosen,
                      values=values, errors=errors, **ALL)

    @page("GET", "/join/applications/<app_id>", public=True)
    def portal_join_status(self, request: Request, app_id: str) -> Response:
        ratelimit.check_address(request, "lookup")
        status = call(self.membership, "application_status", app_id)
        return render(request, "join/status.html", app=status, **ALL)

    @page("GET", "/join/application-form", public=True)
    def portal_join_paper(self, request: Request) -> Response:
        """The paper membership application (заявление о вступлении) with the consent's text,
        to print, sign and hand to the chair; the organization chosen online is filled in."""
        org_id, region_id = _int(request.args.get("org_id")), _int(request.args.get("region_id"))
        q = (request.args.get("q") or "").strip()
        chosen = None
        if org_id is not None and region_id is not None and q:
            try:
                found = call(self.membership, "join_organizations", region_id, q)
            except DomainError:
                found = []
            chosen = next((o for o in found if o["id"] == org_id), None)
        return render(request, "join/paper.html", chosen=chosen, **ALL)
