"""The queue of join applications in one's structure: accept, or decline with a reason."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.members import _within
from gateway.portal.web import ctx, form_failure, gather, page, redirect, render
from services.common.errors import DomainError, NotFound

STATUSES = ("submitted", "accepted", "declined", "expired")


class ApplicationPages:
    membership: Any
    registry: Any

    @page("GET", "/portal/applications")
    def portal_applications(self, request: Request) -> Response:
        within = _within(request)
        status = request.args.get("status", "submitted")
        if status not in STATUSES:
            status = "submitted"
        page_no = request.args.get("page", "1")
        queue = (self.membership, "application_page", within, status,
                 int(page_no) if page_no.isdigit() and int(page_no) > 0 else 1)
        if within:
            result, org = gather(queue, (self.registry, "get_organization", within))
        else:
            result, org = gather(queue)[0], None
        return render(request, "applications/list.html", items=result["items"], result=result,
                      selected=status, org=org, within=within, statuses=STATUSES, **ALL)

    def _open_application(self, app_id: str) -> dict[str, Any]:
        try:
            return call(self.membership, "get_application", app_id)
        except DomainError as exc:
            if exc.status >= 500:
                raise
            raise NotFound("application_not_found",
                           "Заявление не найдено или уже рассмотрено") from None

    @page("GET,POST", "/portal/applications/<app_id>/accept")
    def portal_application_accept(self, request: Request, app_id: str) -> Response:
        """A page asks first (no script needed); its form's POST accepts."""
        if request.method == "GET":
            return render(request, "applications/accept.html",
                          app=self._open_application(app_id), **ALL)
        member = call(self.membership, "accept_application", app_id)
        return redirect(f"/portal/members/{member['id']}",
                        flash="Заявление принято: член Профсоюза поставлен на учёт, "
                              "личный кабинет открывается", request=request)

    @page("GET,POST", "/portal/applications/<app_id>/decline")
    def portal_application_decline(self, request: Request, app_id: str) -> Response:
        values = dict(ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            try:
                call(self.membership, "decline_application", app_id, values.get("reason", ""))
                return redirect("/portal/applications?status=declined",
                                flash="Заявление отклонено. Ошибку можно отменить сегодня: "
                                      "«Отменить отказ» в списке отклонённых", request=request)
            except DomainError as exc:
                errors = form_failure(exc)
        app = self._open_application(app_id)
        return render(request, "applications/decline.html", status=422 if errors else 200,
                      app=app, values=values, errors=errors, **ALL)

    @page("POST", "/portal/applications/<app_id>/undo-decline")
    def portal_application_undo_decline(self, request: Request, app_id: str) -> Response:
        try:
            call(self.membership, "undo_decline", app_id)
        except DomainError as exc:
            return redirect("/portal/applications?status=declined", request=request, bad=True,
                            flash="; ".join(form_failure(exc).values()))
        return redirect("/portal/applications", request=request,
                        flash="Отказ отменён: заявление снова ждёт решения")
