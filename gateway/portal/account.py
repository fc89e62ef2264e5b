"""The member's personal account: their own record, consents, the card and the virtual card, and
which optional e-mails they receive (invitations and security messages are always sent)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.web import form_failure, gather, page, redirect, render
from services.common.errors import DomainError


class AccountPages:
    membership: Any
    cards: Any
    notify: Any

    @page("GET", "/portal/account")
    def portal_account(self, request: Request) -> Response:
        member, card, notices = gather((self.membership, "my_card"), (self.cards, "my_card"),
                                       (self.notify, "my_preferences"))
        return render(request, "account/index.html", member=member, card=card["card"],
                      virtual=card["virtual_card"], notices=notices, **ALL)

    @page("GET", "/portal/account/card")
    def portal_account_card(self, request: Request) -> Response:
        """The member card on a page of its own, to print or show."""
        member, card = gather((self.membership, "my_card"), (self.cards, "my_card"))
        return render(request, "account/card.html", member=member, card=card["card"],
                      virtual=card["virtual_card"], **ALL)

    @page("POST", "/portal/account/consent")
    def portal_account_consent(self, request: Request) -> Response:
        kind, given = request.form.get("kind", ""), request.form.get("given") == "1"
        bad = False
        try:
            call(self.membership, "set_my_consent", kind, given)
            flash = "Согласие дано" if given else "Согласие отозвано"
        except DomainError as exc:
            flash, bad = "; ".join(form_failure(exc).values()), True
        return redirect("/portal/account", flash=flash, request=request, bad=bad)

    @page("POST", "/portal/account/notifications")
    def portal_account_notifications(self, request: Request) -> Response:
        """Every optional notification listed on the page: a ticked box keeps it, a cleared
        one switches it off."""
        offered = [n["kind"] for n in call(self.notify, "my_preferences")]
        wanted = {kind: request.form.get(f"n_{kind}") == "1" for kind in offered}
        bad = False
        try:
            call(self.notify, "set_my_preferences", wanted)
            flash = "Настройки уведомлений сохранены"
        except DomainError as exc:
            flash, bad = "; ".join(form_failure(exc).values()), True
        return redirect("/portal/account#notifications", flash=flash, request=request, bad=bad)
