"""Personal data over its whole life (issue 29) in the portal: «Мои данные» in the personal
account (the copy as PDF or JSON, the withdrawal of consent), a chair's page for a person's
written requests, and the Central Council's page of retention (rules, what will be erased and
what was, legal holds, the register of processing). Membership decides who may."""

import base64
from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal.web import form_failure, page, redirect, render
from services.common.errors import DomainError

PDF = "application/pdf"


def _download(result: dict[str, Any], fmt: str, name: str) -> Response:
    if fmt == "pdf":
        return Response(base64.b64decode(result["pdf_b64"]), mimetype=PDF, headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    import orjson

    return Response(orjson.dumps(result["data"], option=orjson.OPT_INDENT_2),
                    mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


def _fmt(value: str) -> str:
    return "pdf" if value == "pdf" else "json"


class PrivacyPages:
    membership: Any

    # ---- the member's own ----

    @page("GET", "/portal/account/data")
    def portal_my_data(self, request: Request) -> Response:
        member = call(self.membership, "my_card")
        return render(request, "privacy/mine.html", member=member, errors={})

    @page("GET", "/portal/account/data/<fmt>")
    def portal_my_data_file(self, request: Request, fmt: str) -> Response:
        fmt = _fmt(fmt)
        return _download(call(self.membership, "my_data", fmt, timeout=60), fmt, "my-data")

    @page("POST", "/portal/account/withdraw")
    def portal_my_withdrawal(self, request: Request) -> Response:
        if request.form.get("confirm") != "1":
            member = call(self.membership, "my_card")
            return render(request, "privacy/mine.html", status=422, member=member, errors={
                "confirm": "Подтвердите, что понимаете последствия отзыва"})
        try:
            done = call(self.membership, "withdraw_my_consent")
            flash = (f"Согласие отозвано. Вы сняты с учёта; рассылка прекращена. Данные будут "
                     f"обезличены {date.fromisoformat(done['reduce_on']):%d.%m.%Y}.")
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect("/portal/account/data", flash=flash, request=request)

    # ---- a person's written request, through the chair ----

    @page("GET,POST", "/portal/privacy/requests")
    def portal_privacy_requests(self, request: Request) -> Response:
        values, errors = dict(request.form), {}
        if request.method == "POST":
            action = request.form.get("action", "")
            mid, asked = request.form.get("member_id", ""), request.form.get("asked_on") or None
            try:
                if action == "copy":
                    fmt = _fmt(request.form.get("format", "pdf"))
                    return _download(call(self.membership, "member_data", mid, asked, fmt,
                                          timeout=60), fmt, f"member-{mid}-data")
                if action == "withdraw" and request.form.get("confirm") == "1":
                    call(self.membership, "withdraw_consent", mid, asked)
                    return redirect("/portal/privacy/requests", request=request,
                                    flash=f"Отзыв согласия члена № {mid} исполнен: снят(а) "
                                          "с учёта, рассылка прекращена")
                errors = {"confirm": "Подтвердите исполнение отзыва согласия"}
            except DomainError as exc:
                errors = form_failure(exc)
        return render(request, "privacy/requests.html", values=values, errors=errors,
                      status=422 if errors else 200)

    # ---- the Central Council's ----

    @page("GET", "/portal/privacy")
    def portal_privacy(self, request: Request) -> Response:
        return self._privacy_page(request, {}, {})

    def _privacy_page(self, request: Request, values: dict, errors: dict,
                      status: int = 200) -> Response:
        rules = call(self.membership, "retention_rules")
        preview = call(self.membership, "retention_preview", 92)
        erased = call(self.membership, "retention_erased")
        return render(request, "privacy/council.html", status=status, rules=rules,
                      preview=preview, erased=erased, values=values, errors=errors)

    @page("POST", "/portal/privacy/<action>")
    def portal_privacy_action(self, request: Request, action: str) -> Response:
        f = request.form
        try:
            if action == "rule":
                days = f.get("keep_days", "")
                call(self.membership, "set_retention_rule", f.get("kind", ""),
                     int(days) if days.isdigit() else days, f.get("action", ""))
                flash = "Срок хранения установлен"
            elif action == "hold":
                call(self.membership, "place_legal_hold", f.get("member_id", ""),
                     f.get("reason", ""))
                flash = "Запись удерживается"
            elif action == "release":
                call(self.membership, "release_legal_hold", f.get("member_id", ""),
                     f.get("reason", ""))
                flash = "Удержание снято"
            elif action == "run":
                done = call(self.membership, "run_retention", timeout=600)
                flash = "Выполнено: " + ", ".join(f"{k}: {v['records']}"
                                                  for k, v in done.items())
            else:
                return redirect("/portal/privacy")
        except DomainError as exc:
            return self._privacy_page(request, dict(f), {**form_failure(exc), "_at": action},
                                      422)
        return redirect("/portal/privacy", flash=flash, request=request)

    @page("GET", "/portal/privacy/register.pdf")
    def portal_processing_register(self, request: Request) -> Response:
        return _download(call(self.membership, "processing_register", "pdf", timeout=60), "pdf",
                         "processing-register")
