"""Member cards (ЭПБ) in the portal: the cards of one's structure by status, handing a delivered
card out, and ordering a card from a member's record."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.members import _within
from gateway.portal.session import safe_next
from gateway.portal.settings import portal_settings
from gateway.portal.web import form_failure, page, redirect, render
from services.common.errors import DomainError


class CardPages:
    cards: Any

    @page("GET", "/portal/cards")
    def portal_cards(self, request: Request) -> Response:
        status = request.args.get("status") or "delivered"
        if status not in ALL["CARD_STATUSES"]:
            status = "delivered"
        within = _within(request)
        result = call(self.cards, "list_cards", within, status, portal_settings().page_size * 4,
                      0)
        return render(request, "cards/list.html", result=result, selected=status, within=within,
                      **ALL)

    @page("POST", "/portal/cards/<int:card_id>/issue")
    def portal_card_issue(self, request: Request, card_id: int) -> Response:
        card = call(self.cards, "move_card", card_id, "issued", None)
        back = safe_next(request.form.get("back"))
        return redirect(back if back.startswith("/portal/cards") else "/portal/cards",
                        flash=f"Карта {card['number_display']} выдана", request=request)

    @page("POST", "/portal/members/<int:member_id>/card-request")
    def portal_card_request(self, request: Request, member_id: int) -> Response:
        try:
            card = call(self.cards, "request_for_member", member_id, "plastic")
            flash = f"Карта {card['number_display']}: {card['status_title'].lower()}"
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/members/{member_id}", flash=flash, request=request)
