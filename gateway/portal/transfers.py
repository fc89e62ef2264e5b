"""Transfers between chairs: the receiving chair finds the person by what their papers say and
asks for the transfer; the chair of the organization the person is in now (or the region)
approves or declines it on a page that shows what will happen; both sides see the request and
its state; a region sets the days after which a request nobody decided goes through."""

from datetime import date
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from gateway import ratelimit
from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.web import ctx, form_failure, page, redirect, render
from gateway.portal.words import count
from services.common.errors import DomainError

FIND_FIELDS = ("surname", "first_name", "birth_date", "snils")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 18 else None


class TransferPages:
    membership: Any
    registry: Any

    @page("GET", "/portal/transfers")
    def portal_transfers(self, request: Request) -> Response:
        caller = ctx(request).caller
        assert caller is not None
        found = call(self.membership, "transfer_requests")
        region = policy = None
        if caller.is_global or {"regional_staff", "ais_responsible"} & set(caller.roles):
            for org_id in caller.org_ids[:1]:
                org = call(self.registry, "get_organization", org_id)
                if org["level"] == "regional":
                    region = org
                    policy = call(self.membership, "transfer_policy", org_id)
        return render(request, "transfers/list.html", found=found, region=region,
                      policy=policy, **ALL)

    @page("GET", "/portal/transfers/new")
    def portal_transfer_find(self, request: Request) -> Response:
        """Step one: who the papers name. Step two (a result): ask for the transfer."""
        caller = ctx(request).caller
        assert caller is not None
        to = _int(request.args.get("to")) or (caller.org_ids[0] if caller.org_ids else None)
        values = {k: request.args.get(k, "").strip() for k in FIND_FIELDS}
        errors: dict[str, str] = {}
        found: list[dict[str, Any]] | None = None
        org = call(self.registry, "get_organization", to) if to else None
        if org is not None and any(values.values()):
            ratelimit.check_address(request, "lookup")
            try:
                found = call(self.membership, "find_for_transfer", org["id"], values["surname"],
                             values["first_name"], values["birth_date"] or None,
                             values["snils"] or None)
            except DomainError as exc:
                errors = form_failure(exc)
        return render(request, "transfers/new.html", org=org, values=values, errors=errors,
                      found=found, today=date.today().isoformat(), **ALL)

    @page("POST", "/portal/transfers/request")
    def portal_transfer_request(self, request: Request) -> Response:
        form = request.form
        member_id, to = _int(form.get("member_id")), _int(form.get("to"))
        back = "/portal/transfers/new?" + urlencode(
            {k: form[k] for k in ("to", *FIND_FIELDS) if form.get(k)})
        if member_id is None or to is None:
            return redirect(back, flash="Выберите человека из найденных", request=request,
                            bad=True)
        ratelimit.check_address(request, "transfer")
        ratelimit.check_target("transfer", f"member:{member_id}")
        try:
            req = call(self.membership, "request_transfer", member_id, to,
                       form.get("on") or date.today().isoformat(),
                       form.get("birth_date") or None, form.get("snils") or None)
        except DomainError as exc:
            existing = (exc.details or {}).get("request_id") if isinstance(
                exc.details, dict) else None
            if existing:
                return redirect(f"/portal/transfers/{existing}", flash=exc.message,
                                request=request, bad=True)
            return redirect(back, flash="; ".join(form_failure(exc).values()),
                            request=request, bad=True)
        return redirect(f"/portal/transfers/{req['id']}", request=request,
                        flash="Запрос на перевод отправлен: его рассмотрит председатель "
                              "организации, где человек состоит сейчас, или регион")

    @page("GET", "/portal/transfers/<int:request_id>")
    def portal_transfer(self, request: Request, request_id: int) -> Response:
        req = call(self.membership, "get_transfer_request", request_id)
        return render(request, "transfers/request.html", req=req, values={}, errors={}, **ALL)

    @page("POST", "/portal/transfers/<int:request_id>/decide")
    def portal_transfer_decide(self, request: Request, request_id: int) -> Response:
        approve = request.form.get("approve") == "1"
        try:
            call(self.membership, "decide_transfer", request_id, approve,
                 request.form.get("reason", ""))
        except DomainError as exc:
            errors = form_failure(exc)
            req = call(self.membership, "get_transfer_request", request_id)
            return render(request, "transfers/request.html", status=422, req=req,
                          values=dict(request.form.items()), errors=errors, **ALL)
        return redirect(f"/portal/transfers/{request_id}", request=request,
                        flash="Перевод оформлен" if approve else "Запрос отклонён")

    @page("POST", "/portal/transfers/<int:request_id>/cancel")
    def portal_transfer_cancel(self, request: Request, request_id: int) -> Response:
        try:
            call(self.membership, "cancel_transfer", request_id)
        except DomainError as exc:
            return redirect(f"/portal/transfers/{request_id}", request=request, bad=True,
                            flash="; ".join(form_failure(exc).values()))
        return redirect(f"/portal/transfers/{request_id}", flash="Запрос отозван",
                        request=request)

    @page("POST", "/portal/transfers/policy")
    def portal_transfer_policy(self, request: Request) -> Response:
        days = request.form.get("auto_after_days", "").strip()
        try:
            call(self.membership, "set_transfer_policy", _int(request.form.get("region_id")),
                 int(days) if days.isdigit() else None)
        except DomainError as exc:
            return redirect("/portal/transfers", request=request, bad=True,
                            flash="; ".join(form_failure(exc).values()))
        return redirect("/portal/transfers", request=request,
                        flash="Срок сохранён: " + count(int(days), "день", "дня", "дней")
                        if days.isdigit() else
                        "Запросы на перевод решаются только вручную")
