"""Targeted mailing in the portal: the campaigns of one's scope with the approval queue, the
editor with the audience builder and its counts, a campaign's delivery figures (in all and by
region, bars drawn in CSS: no script), and the member's own consents and past mailings. notify
decides who may write to whom."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.web import form_failure, page, redirect, render
from services.common.errors import DomainError

CATEGORIES = {"working": "работающие", "student": "обучающиеся", "pensioner": "пенсионеры",
              "not_given": "категория не указана"}
LEVELS = {"regional": "региональных", "territorial": "территориальных",
          "primary": "первичных", "subdivision": "подразделений"}
ORG_TYPES = {"school": "школы", "kindergarten": "детские сады", "college": "колледжи",
             "university": "вузы", "additional": "дополнительное образование",
             "other": "прочие"}
PURPOSES = {"union_news": "Новости и мероприятия Профсоюза",
            "partner_ads": "Предложения партнёров (реклама: нужно отдельное согласие)"}
STATES = {"draft": "черновик", "awaiting_approval": "ждёт утверждения",
          "scheduled": "запланирована", "sending": "отправляется", "paused": "приостановлена",
          "done": "отправлена", "cancelled": "отменена"}
RECIPIENT_STATES = {"sent": "доставлено серверу", "queued": "в очереди",
                    "bounced": "неверный адрес", "unsubscribed": "отписались",
                    "refused": "не отправлено"}
LABELS = {"CATEGORIES": CATEGORIES, "LEVELS": LEVELS, "ORG_TYPES": ORG_TYPES,
          "PURPOSES": PURPOSES, "STATES": STATES, "RECIPIENT_STATES": RECIPIENT_STATES}


def audience_from(form: Any) -> dict[str, Any]:
    roots = [int(v) for v in form.get("roots", "").replace(",", " ").split() if v.isdigit()]
    out: dict[str, Any] = {"roots": roots, "org_types": form.getlist("org_types")}
    if form.get("members") == "1":
        out["members"] = {"categories": form.getlist("categories"),
                          "under_35": form.get("under_35") == "1"}
    if form.get("chairs") == "1":
        out["chairs"] = {"levels": form.getlist("levels")}
    return out


class MailingPages:
    notify: Any
    membership: Any

    @page("GET", "/portal/mailing")
    def portal_mailing(self, request: Request) -> Response:
        rows = call(self.notify, "campaigns", None, 100)
        waiting = [r for r in rows if r["status"] == "awaiting_approval"]
        return render(request, "mailing/index.html", rows=rows, waiting=waiting, **LABELS)

    @page("GET,POST", "/portal/mailing/new")
    def portal_mailing_new(self, request: Request) -> Response:
        form = request.form
        values = {k: form.get(k, "") for k in ("subject", "body", "purpose", "roots",
                                               "scheduled_at")}
        if request.method == "GET":
            return render(request, "mailing/edit.html", values=values, form=form, counts=None,
                          errors={}, **LABELS)
        audience = audience_from(form)
        errors: dict[str, str] = {}
        counts = None
        try:
            if form.get("action") == "count":
                counts = call(self.notify, "mailing_preview", audience,
                              values["purpose"] or "union_news", timeout=120)
            else:
                made = call(self.notify, "create_campaign", {
                    "subject": values["subject"], "body": values["body"],
                    "purpose": values["purpose"] or "union_news", "audience": audience,
                    "scheduled_at": values["scheduled_at"] or None})
                return redirect(f"/portal/mailing/{made['id']}", flash="Черновик сохранён",
                                request=request)
        except DomainError as exc:
            errors = form_failure(exc)
        return render(request, "mailing/edit.html", values=values, form=form, counts=counts,
                      errors=errors, status=422 if errors else 200, **LABELS)

    @page("GET", "/portal/mailing/<int:campaign_id>")
    def portal_mailing_one(self, request: Request, campaign_id: int) -> Response:
        found = call(self.notify, "campaign", campaign_id)
        total = found["figures"]["total"]
        return render(request, "mailing/campaign.html", c=found, total=total,
                      most=max(total["audience"], 1), **LABELS)

    @page("POST", "/portal/mailing/<int:campaign_id>/<any(submit, approve, pause, resume, "
          "cancel):action>")
    def portal_mailing_action(self, request: Request, campaign_id: int,
                              action: str) -> Response:
        said = {"submit": "Рассылка отправлена на запуск", "approve": "Рассылка утверждена",
                "pause": "Рассылка приостановлена", "resume": "Рассылка возобновлена",
                "cancel": "Рассылка отменена"}
        try:
            call(self.notify, f"{action}_campaign", campaign_id, timeout=120)
            flash = said[action]
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/mailing/{campaign_id}", flash=flash, request=request)

    @page("GET", "/portal/account/mailing")
    def portal_my_mailing(self, request: Request) -> Response:
        try:  # the card's consent stands until the member chooses here
            card = call(self.membership, "my_card")
            base = bool((card.get("card") or card).get("email_consent"))
        except DomainError:
            base = None
        mine = call(self.notify, "my_mailing", base)
        return render(request, "mailing/mine.html", mine=mine, **LABELS)

    @page("POST", "/portal/account/mailing")
    def portal_my_mailing_set(self, request: Request) -> Response:
        try:
            call(self.notify, "set_my_consent", request.form.get("purpose", ""),
                 request.form.get("granted") == "1")
            flash = "Согласие дано" if request.form.get("granted") == "1" else \
                "Согласие отозвано"
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect("/portal/account/mailing", flash=flash, request=request)
