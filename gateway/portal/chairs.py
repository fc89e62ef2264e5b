"""Chairs' access to the platform: the accounts of a subtree's chairs and their states, with
«Отправить приглашение ещё раз» (issue 18)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.web import form_failure, gather, page, redirect, render
from services.common.errors import DomainError

STATES = {
    "active": "входил в АИС",
    "invited": "приглашён, ссылка действует",
    "invitation_expired": "приглашение истекло",
    "never_signed_in": "ни разу не входил",
    "bouncing": "адрес не принимает почту",
    "no_email": "нет e-mail в паспорте",
}
WHAT_TO_DO = {
    "bouncing": "исправьте e-mail в паспорте",
    "no_email": "укажите e-mail в паспорте",
}


class ChairPages:
    registry: Any
    notify: Any

    @page("GET", "/portal/org/<int:org_id>/chairs")
    def portal_chairs(self, request: Request, org_id: int) -> Response:
        everyone = request.args.get("all") == "1"
        org, rows = gather((self.registry, "get_organization", org_id),
                           (self.notify, "chair_accounts", org_id, not everyone))
        return render(request, "chairs/list.html", org=org, rows=rows, everyone=everyone,
                      STATES=STATES, WHAT_TO_DO=WHAT_TO_DO)

    @page("POST", "/portal/org/<int:org_id>/chairs/<int:target_id>/invite")
    def portal_chair_reinvite(self, request: Request, org_id: int, target_id: int
                              ) -> Response:
        bad = False
        try:
            done = call(self.notify, "reinvite_chair", target_id)
            flash = f"Приглашение поставлено в очередь: {done['email']}"
        except DomainError as exc:
            flash, bad = "; ".join(form_failure(exc).values()), True
        return redirect(f"/portal/org/{org_id}/chairs", flash=flash, request=request, bad=bad)
