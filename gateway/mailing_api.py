"""HTTP routes of targeted mailing (/api/v1/mailing/…) and the public unsubscribe address that
every campaign message names in List-Unsubscribe. A mixin of GatewayService; handlers only
translate HTTP to RPC: notify decides who may write to whom and checks the tokens."""

from html import escape
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import api, call, json_body, json_response, query_int
from services.common.errors import DomainError

PURPOSES = ("union_news", "partner_ads")


class MailingApi:
    notify: Any  # RpcProxy("notify"), declared on GatewayService

    @api("POST", "/api/v1/mailing/preview", "Сколько адресатов: с согласием, без согласия, "
         "без e-mail, с неверным адресом", tag="mailing",
         body={"audience": "адресаты", "purpose": "union_news | partner_ads"})
    def mailing_preview(self, request: Request) -> Response:
        body = json_body(request)
        return json_response(call(self.notify, "mailing_preview", body.get("audience"),
                                  body.get("purpose") or "union_news", timeout=120))

    @api("POST", "/api/v1/mailing/campaigns", "Новая рассылка (черновик)", tag="mailing",
         statuses=(201,), body={"subject": "тема", "body": "текст (Markdown)",
                                "purpose": "цель", "audience": "адресаты",
                                "scheduled_at": "время отправки"})
    def mailing_create(self, request: Request) -> Response:
        return json_response(call(self.notify, "create_campaign", json_body(request)), 201)

    @api("GET", "/api/v1/mailing/campaigns", "Рассылки (своей зоны)", tag="mailing",
         query={"status": "состояние", "limit": "не больше 500"})
    def mailing_list(self, request: Request) -> Response:
        return json_response(call(self.notify, "campaigns", request.args.get("status") or None,
                                  query_int(request, "limit", 100)))

    @api("GET", "/api/v1/mailing/campaigns/<int:campaign_id>",
         "Рассылка и её доставка: всего и по регионам", tag="mailing")
    def mailing_get(self, request: Request, campaign_id: int) -> Response:
        return json_response(call(self.notify, "campaign", campaign_id))

    @api("GET", "/api/v1/mailing/campaigns/<int:campaign_id>/recipients",
         "Адресаты рассылки и что стало с каждым письмом", tag="mailing",
         query={"state": "queued | sent | bounced | unsubscribed | refused",
                "limit": "не больше 1000"})
    def mailing_recipients(self, request: Request, campaign_id: int) -> Response:
        return json_response(call(self.notify, "campaign_recipients", campaign_id,
                                  request.args.get("state") or None,
                                  query_int(request, "limit", 100)))

    @api("POST", "/api/v1/mailing/campaigns/<int:campaign_id>/<any(submit, approve, pause, "
         "resume, cancel):action>", "Отправить, утвердить, приостановить, возобновить, "
         "отменить рассылку", tag="mailing")
    def mailing_action(self, request: Request, campaign_id: int, action: str) -> Response:
        return json_response(call(self.notify, f"{action}_campaign", campaign_id, timeout=120))

    @api("PUT", "/api/v1/mailing/approval-threshold",
         "Порог числа адресатов, выше которого рассылку утверждает второй сотрудник",
         tag="mailing", body={"value": "число адресатов"})
    def mailing_threshold(self, request: Request) -> Response:
        return json_response({"value": call(self.notify, "set_approval_threshold",
                                            json_body(request).get("value"))})

    @api("GET", "/api/v1/mailing/me", "Мои согласия на рассылки и полученные рассылки",
         tag="mailing")
    def mailing_me(self, request: Request) -> Response:
        return json_response(call(self.notify, "my_mailing"))

    @api("PUT", "/api/v1/mailing/me/consents/<purpose>", "Дать или отозвать согласие",
         tag="mailing", body={"granted": "true | false"})
    def mailing_my_consent(self, request: Request, purpose: str) -> Response:
        return json_response(call(self.notify, "set_my_consent", purpose,
                                  json_body(request).get("granted") is True))

    # ---- without signing in: the link in every message ----

    @api("GET", "/mailing/unsubscribe/<token>", "Страница отписки по ссылке из письма",
         tag="mailing", public=True, produces=("text/html",))
    def unsubscribe_page(self, request: Request, token: str) -> Response:
        try:
            found = call(self.notify, "unsubscribe_page", token)
        except DomainError as exc:
            return _page("Ссылка не работает", f"<p>{escape(exc.message)}</p>", 400)
        rows = "".join(
            f'<label><input type="checkbox" name="purpose" value="{c["purpose"]}"'
            f'{" checked" if c["granted"] else ""}> {escape(c["title"])}</label><br>'
            for c in found["consents"])
        return _page("Какие письма получать", f"""
            <p>Адрес: {escape(found['email'])}</p>
            <form method="post">
              <input type="hidden" name="form" value="choice">
              <p>Отметьте письма, от которых хотите отписаться:</p>{rows}
              <p><button type="submit">Отписаться от отмеченных</button></p>
            </form>
            <form method="post"><input type="hidden" name="form" value="all">
              <button type="submit">Отписаться от всех рассылок</button></form>""")

    @api("POST", "/mailing/unsubscribe/<token>", "Отписка в один щелчок (RFC 8058) или с "
         "выбором на странице", tag="mailing", public=True, produces=("text/html",))
    def unsubscribe_post(self, request: Request, token: str) -> Response:
        form = request.form
        if form.get("List-Unsubscribe") == "One-Click":  # the mail client's POST, RFC 8058
            purposes, channel = None, "one_click"
        elif form.get("form") == "choice":
            purposes = [p for p in form.getlist("purpose") if p in PURPOSES]
            channel = "unsubscribe_link"
        else:
            purposes, channel = None, "unsubscribe_link"
        try:
            done = call(self.notify, "unsubscribe", token, purposes, channel)
        except DomainError as exc:
            return _page("Ничего не изменено", f"<p>{escape(exc.message)}</p>", 400)
        return _page("Вы отписались", f"<p>Адрес {escape(done['email'])} больше не получит "
                     "выбранные рассылки. Согласие отозвано сегодня; вернуть его можно в "
                     "личном кабинете.</p>")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = f"""<!doctype html><html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:36rem;margin:1rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1rem;margin:.3rem 0;width:100%}}label{{line-height:2}}
</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"""
    return Response(html, status=status, mimetype="text/html")
