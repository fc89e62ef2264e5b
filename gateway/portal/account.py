"""The member's personal account: their own record, consents, the card and the virtual card."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.web import form_failure, gather, page, redirect, render
from services.common.errors import DomainError


class AccountPages:
    membership: Any
    cards: Any

    @page("GET", "/portal/account")
    def portal_account(self, request: Request) -> Response:
        member, card = gather((self.membership, "my_card"), (self.cards, "my_card"))
        return render(request, "account/index.html", member=member, card=card["card"],
                      virtual=card["virtual_card"], **ALL)

    @page("POST", "/portal/account/consent")
    def portal_account_consent(self, request: Request) -> Response:
        kind, given = request.form.get("kind", ""), request.form.get("given") == "1"
        try:
            call(self.membership, "set_my_consent", kind, given)
            flash = "Согласие дано" if given else "Согласие отозвано"
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect("/portal/account", flash=flash, request=request)
