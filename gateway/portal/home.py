"""An organization at a glance: members by category, applications waiting, cards waiting to be
handed out, what is missing in the passport, and the organizations beneath it.

The same page serves a chair's own organization and, for territorial and regional users, each
organization beneath theirs: the services decide who may see which."""

from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal import gaps
from gateway.portal.labels import ALL
from gateway.portal.settings import portal_settings
from gateway.portal.web import ctx, gather, page, render


def _page_number(request: Request) -> int:
    try:
        return max(int(request.args.get("page", "1")), 1)
    except ValueError:
        return 1


class HomePages:
    registry: Any
    membership: Any
    cards: Any
    reports: Any

    @page("GET", "/portal/org/<int:org_id>")
    def portal_org(self, request: Request, org_id: int) -> Response:
        caller = ctx(request).caller
        assert caller is not None
        # the cards service filters by the caller's subtrees, or by one organization
        own = caller.scope_roots is not None and list(caller.scope_roots) == [org_id]
        # the cards of the whole subtree, as the other tiles count (the caller's own one:
        # their subtrees, which the cards service keeps counted a while)
        q = request.args.get("q", "").strip()
        # the organizations beneath asked for at once with the rest (a primary has none: an
        # empty list); a search among them is its own call
        org, ancestors, summary, card_counts, quality, beneath = gather(
            (self.registry, "get_organization", org_id),
            (self.registry, "ancestors", org_id),
            (self.membership, "org_summary", org_id),
            (self.cards, "card_counts", None, False) if own else
            (self.cards, "card_counts", org_id, True),
            (self.reports, "quality_faults", org_id, None, 10, 0),
            (self.registry, "search", q, org_id, None, False, 200) if q else
            (self.registry, "children", org_id, False))
        children = self._children(request, org_id, beneath) if org["children_count"] else None
        return render(request, "home/org.html", org=org, ancestors=ancestors[:-1],
                      summary=summary, cards_waiting=card_counts.get("delivered", 0),
                      gaps=gaps.missing(org, date.today()), children=children,
                      quality=quality, **ALL)

    def _children(self, request: Request, org_id: int, beneath: list[dict[str, Any]]
                  ) -> dict[str, Any]:
        """One page of the organizations directly beneath (or found among those beneath),
        with their members on record."""
        q = request.args.get("q", "").strip()
        rows = [r for r in beneath if r["id"] != org_id]
        size = portal_settings().page_size
        number = _page_number(request)
        shown = rows[(number - 1) * size: number * size]
        counts = call(self.membership, "member_counts", [r["id"] for r in shown], True) \
            if shown else {}
        return {"items": [{**r, "members": counts.get(str(r["id"]), 0)} for r in shown],
                "total": len(rows), "page": number, "pages": max(-(-len(rows) // size), 1),
                "q": q}
