"""Members: the list with search, filters and paging; the record card with its history; register,
edit, remove, transfer, consents; a chair's spreadsheet import with its report; the export."""

import base64
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from gateway import ratelimit
from gateway.http import call
from gateway.portal import forms
from gateway.portal.labels import ALL
from gateway.portal.settings import portal_settings
from gateway.portal.web import ctx, form_failure, gather, page, redirect, render
from gateway.portal.words import by_sex
from gateway.uploads import MAX_UPLOAD
from services.common.errors import DomainError

FILTERS = ("q", "category", "status", "card_number", "birth_date", "sort")
SORT_TITLES = {"name": "по фамилии", "joined": "по дате вступления (давние)",
               "-joined": "по дате вступления (новые)", "since": "по дате постановки (давние)",
               "-since": "по дате постановки на учёт (новые)"}
CARD_FIELDS = ("surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone",
               "email", "joined_on", "category", "job_category")
NEW_ONLY = ("pd_consent_on", "pd_consent_form", "card_number")


def _filters(request: Request) -> dict[str, str]:
    return {k: request.args[k].strip() for k in FILTERS if request.args.get(k, "").strip()}


def _within(request: Request) -> int | None:
    value = request.args.get("within", "")
    return int(value) if value.isdigit() else None


def card_from(form: MultiDict, new: bool) -> dict[str, Any]:
    fields = CARD_FIELDS + (NEW_ONLY if new else ())
    card: dict[str, Any] = {k: (form.get(k) or "").strip() for k in fields}
    if new:
        card["email_consent"] = forms.flag(form, "email_consent")
    return card


def _failed(exc: DomainError) -> dict[str, str]:
    return form_failure(exc)


class MemberPages:
    membership: Any
    registry: Any

    @page("GET", "/portal/members")
    def portal_members(self, request: Request) -> Response:
        filters, within = _filters(request), _within(request)
        size = portal_settings().page_size
        try:
            number = max(int(request.args.get("page", "1")), 1)
        except ValueError:
            number = 1
        errors: dict[str, str] = {}
        result: dict[str, Any] = {"items": [], "total": 0, "total_capped": False}
        search = (self.membership, "search_members", filters, within, size, (number - 1) * size)
        try:
            if within:
                result, org = gather(search, (self.registry, "get_organization", within))
            else:
                result, org = gather(search)[0], None
        except DomainError as exc:
            errors = _failed(exc)
            org = call(self.registry, "get_organization", within) if within else None
        args = {**filters, "within": within or ""}
        return render(request, "members/list.html", result=result, filters=filters, org=org,
                      errors=errors, page=number, size=size, args=args, sorts=SORT_TITLES,
                      export_link="/portal/members/export.xlsx?" + urlencode(
                          {k: v for k, v in args.items() if v}), **ALL)

    @page("GET", "/portal/members/export.xlsx")
    def portal_members_export(self, request: Request) -> Response:
        result = call(self.membership, "export_members", _filters(request), _within(request),
                      timeout=300)
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": 'attachment; filename="members.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @page("GET,POST", "/portal/org/<int:org_id>/members/new")
    def portal_member_new(self, request: Request, org_id: int) -> Response:
        org = call(self.registry, "get_organization", org_id)
        values: dict[str, Any] = {"pd_consent_form": "paper", "category": "working",
                                  **(ctx(request).draft or {})}
        errors: dict[str, str] = {}
        transfer_link = None
        if request.method == "POST":
            values = dict(request.form.items())
            ratelimit.check_address(request, "register")
            ratelimit.check_target("register", *ratelimit.person_targets(values))
            try:
                member = call(self.membership, "register_member", org_id,
                              card_from(request.form, new=True))
                return redirect(f"/portal/members/{member['id']}",
                                flash="Член Профсоюза поставлен на учёт", request=request)
            except DomainError as exc:
                errors = _failed(exc)
                if exc.code == "person_registered":  # the way on: ask for the transfer
                    transfer_link = "/portal/transfers/new?" + urlencode(
                        {"to": org_id, **{k: values.get(k, "").strip() for k in
                                          ("surname", "first_name", "birth_date", "snils")
                                          if values.get(k, "").strip()}})
        return render(request, "members/form.html", status=422 if errors else 200, org=org,
                      values=values, errors=errors, new=True, transfer_link=transfer_link,
                      **ALL)

    @page("GET", "/portal/members/<int:member_id>")
    def portal_member(self, request: Request, member_id: int) -> Response:
        member, history = gather((self.membership, "get_member", member_id),
                                 (self.membership, "member_history", member_id))
        return render(request, "members/card.html", member=member, history=history, **ALL)

    @page("GET,POST", "/portal/members/<int:member_id>/edit")
    def portal_member_edit(self, request: Request, member_id: int) -> Response:
        member = call(self.membership, "get_member", member_id)
        values = forms.flatten(member) | (ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            try:
                call(self.membership, "update_member", member_id,
                     card_from(request.form, new=False))
                return redirect(f"/portal/members/{member_id}", flash="Карточка сохранена",
                                request=request)
            except DomainError as exc:
                errors = _failed(exc)
        return render(request, "members/form.html", status=422 if errors else 200,
                      member=member, values=values, errors=errors, new=False, **ALL)

    @page("GET,POST", "/portal/members/<int:member_id>/remove")
    def portal_member_remove(self, request: Request, member_id: int) -> Response:
        member = call(self.membership, "get_member", member_id)
        values = dict(ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            try:
                call(self.membership, "remove_member", member_id,
                     values.get("removed_on") or None, values.get("reason") or "")
                return redirect(f"/portal/members/{member_id}", flash=by_sex(
                    member.get("sex"), "Снят", "Снята") + " с учёта. Ошибку можно отменить "
                    "сегодня: кнопка «Отменить снятие» на этой странице", request=request)
            except DomainError as exc:
                errors = _failed(exc)
        return render(request, "members/remove.html", status=422 if errors else 200,
                      member=member, values=values, errors=errors, **ALL)

    @page("GET,POST", "/portal/members/<int:member_id>/transfer")
    def portal_member_transfer(self, request: Request, member_id: int) -> Response:
        member = call(self.membership, "get_member", member_id)
        values = dict(ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            number = (values.get("to") or "").strip()
            found = [o for o in call(self.registry, "search", number, None, None, False, 5)
                     if o["registry_number"] == number] if number else []
            if not found:
                errors["to"] = "Организация с таким регистрационным номером не найдена " \
                               "в вашей структуре"
            else:
                ratelimit.check_address(request, "transfer")
                ratelimit.check_target("transfer", f"member:{member_id}")
                try:
                    call(self.membership, "transfer_member", member_id, found[0]["id"],
                         values.get("on") or None, values.get("birth_date") or None)
                    return redirect(f"/portal/members/{member_id}", flash=by_sex(
                        member.get("sex"), "Переведён", "Переведена") + f" в «{found[0]['name']}»",
                        request=request)
                except DomainError as exc:
                    errors = _failed(exc)
                    if "to_org_id" in errors:
                        errors["to"] = errors.pop("to_org_id")
        return render(request, "members/transfer.html", status=422 if errors else 200,
                      member=member, values=values, errors=errors, **ALL)

    @page("POST", "/portal/members/<int:member_id>/undo-remove")
    def portal_member_undo_remove(self, request: Request, member_id: int) -> Response:
        return self._undo(request, member_id, "undo_removal", "Снятие с учёта отменено")

    @page("POST", "/portal/members/<int:member_id>/undo-transfer")
    def portal_member_undo_transfer(self, request: Request, member_id: int) -> Response:
        return self._undo(request, member_id, "undo_transfer", "Перевод отменён")

    def _undo(self, request: Request, member_id: int, method: str, done: str) -> Response:
        try:
            call(self.membership, method, member_id)
        except DomainError as exc:
            return redirect(f"/portal/members/{member_id}", request=request, bad=True,
                            flash="; ".join(_failed(exc).values()))
        return redirect(f"/portal/members/{member_id}", flash=done, request=request)

    @page("POST", "/portal/members/<int:member_id>/consent")
    def portal_member_consent(self, request: Request, member_id: int) -> Response:
        kind, given = request.form.get("kind", ""), request.form.get("given") == "1"
        bad = False
        try:
            call(self.membership, "set_consent", member_id, kind, given)
            flash = "Согласие отмечено" if given else "Отзыв согласия отмечен"
        except DomainError as exc:
            flash, bad = "; ".join(v for v in _failed(exc).values()), True
        return redirect(f"/portal/members/{member_id}", flash=flash, request=request, bad=bad)

    @page("GET,POST", "/portal/org/<int:org_id>/members/import")
    def portal_member_import(self, request: Request, org_id: int) -> Response:
        org = call(self.registry, "get_organization", org_id)
        errors: dict[str, str] = {}
        report = None
        if request.method == "POST":
            upload = request.files.get("file")
            content = upload.read(MAX_UPLOAD + 1) if upload else b""
            if not content:
                errors["file"] = "Выберите файл XLSX или CSV"
            elif len(content) > MAX_UPLOAD:
                errors["file"] = "Файл больше 100 МБ: разделите его на части"
            else:
                try:
                    report = call(self.membership, "import_members",
                                  base64.b64encode(content).decode(), upload.filename or "file",
                                  org_id, forms.flag(request.form, "load_good_rows"),
                                  timeout=1800)
                except DomainError as exc:
                    errors = {"file": "; ".join(_failed(exc).values())}
        return render(request, "members/import.html", status=422 if errors else 200, org=org,
                      report=report, errors=errors, **ALL)
