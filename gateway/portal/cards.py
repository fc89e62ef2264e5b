"""Member cards (ЭПБ) in the portal: the cards of one's structure by status, found by holder or
number a page at a time; handing delivered cards out, one or several at once, after a
confirmation step (a page, no script needed) and with an undo the same day; ordering a card
from a member's record, plastic or virtual."""

from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.labels import ALL
from gateway.portal.members import _within
from gateway.portal.session import safe_next
from gateway.portal.settings import portal_settings
from gateway.portal.web import form_failure, gather, page, page_link, redirect, render
from services.common.errors import DomainError

KINDS = {"plastic": "пластиковая", "virtual": "виртуальная"}
MAX_AT_ONCE = 200


def _page_number(request: Request) -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() else 1


def _ids(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if v.isdigit() and len(v) <= 18})[:MAX_AT_ONCE]


class CardPages:
    cards: Any

    @page("GET", "/portal/cards")
    def portal_cards(self, request: Request) -> Response:
        status = request.args.get("status") or "delivered"
        if status not in ALL["CARD_STATUSES"]:
            status = "delivered"
        within, q = _within(request), request.args.get("q", "").strip()[:100]
        size, number = portal_settings().page_size, _page_number(request)
        result = call(self.cards, "list_cards", within, status, size, (number - 1) * size, q)
        args = {"within": within or "", "status": status, "q": q}
        pages = max(-(-int(result["total"]) // size), 1)
        return render(request, "cards/list.html", result=result, selected=status, within=within,
                      q=q, page=number, pages=pages, args=args, today=date.today().isoformat(),
                      back=page_link("/portal/cards", args, page=number), **ALL)

    @page("POST", "/portal/cards/issue")
    def portal_cards_issue(self, request: Request) -> Response:
        """Step one shows what will be marked «Выдана» (one card, or the ones ticked); step two
        (confirm=1) marks them."""
        ids = _ids([request.form["card"]] if request.form.get("card")
                   else request.form.getlist("cards"))
        back = safe_next(request.form.get("back"))
        back = back if back.startswith("/portal/cards") else "/portal/cards"
        if not ids:
            return redirect(back, flash="Отметьте карты, которые выдаёте", request=request)
        chosen = gather(*[(self.cards, "get_card", i) for i in ids])
        if request.form.get("confirm") != "1":
            return render(request, "cards/confirm.html", chosen=chosen, back=back, **ALL)
        done, failed = [], []
        for card in chosen:
            try:
                done.append(call(self.cards, "move_card", card["id"], "issued", None))
            except DomainError as exc:
                failed.append(f"{card['number_display']}: {exc.message}")
        message = (f"Выдано: {len(done)}" if len(done) != 1
                   else f"Карта {done[0]['number_display']} выдана")
        if failed:
            message += ". Не выданы: " + "; ".join(failed)
        return redirect(back, flash=message, request=request)

    @page("POST", "/portal/cards/<int:card_id>/undo-issue")
    def portal_card_undo_issue(self, request: Request, card_id: int) -> Response:
        back = safe_next(request.form.get("back"))
        bad = False
        try:
            card = call(self.cards, "undo_card_issue", card_id)
            flash = f"Выдача карты {card['number_display']} отменена"
        except DomainError as exc:
            flash, bad = "; ".join(form_failure(exc).values()), True
        return redirect(back if back.startswith("/portal/") else "/portal/cards", flash=flash,
                        request=request, bad=bad)

    @page("POST", "/portal/members/<int:member_id>/card-request")
    def portal_card_request(self, request: Request, member_id: int) -> Response:
        kind = request.form.get("kind", "plastic")
        kind = kind if kind in KINDS else "plastic"
        bad = False
        try:
            card = call(self.cards, "request_for_member", member_id, kind)
            flash = f"Карта {card['number_display']}: {card['status_title'].lower()}"
        except DomainError as exc:
            flash, bad = "; ".join(form_failure(exc).values()), True
        return redirect(f"/portal/members/{member_id}", flash=flash, request=request, bad=bad)
