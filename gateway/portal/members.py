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


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the checked file rides in the form to the load (base64 in a hidden field, under werkzeug's
# limit of 500 KB for a form field); a larger one is chosen again
CARRIED = 300_000


def _upload(request: Request) -> tuple[bytes, str]:
    """The file chosen, or the one checked a step before and carried in the form."""
    upload = request.files.get("file")
    content = upload.read(MAX_UPLOAD + 1) if upload else b""
    if content:
        return content, upload.filename or "file"
    try:
        carried = base64.b64decode(request.form.get("carried", ""), validate=True)
    except ValueError:
        carried = b""
    return carried, request.form.get("filename", "") or "file"


def _mapping(form: MultiDict) -> dict[str, str]:
    """The columns mapped by hand on the check step: header_i -> map_i where it differs from
    how the column was understood (auto_i)."""
    mapping = {}
    for key, header in form.items():
        if key.startswith("header_"):
            i = key.removeprefix("header_")
            field = form.get(f"map_{i}")
            if field is not None and field != form.get(f"auto_{i}", ""):
                mapping[header] = field
    return mapping


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
        """Two steps without JavaScript: «Проверить» checks and shows how the columns were
        understood (each can be mapped by hand), the first rows as stored, the errors; the
        checked file rides along in the form (up to CARRIED bytes) so «Загрузить» needs no
        second choosing. Then the report, with the refused rows as a spreadsheet."""
        org = call(self.registry, "get_organization", org_id)
        errors: dict[str, str] = {}
        check = report = None
        carried = ""
        filename = ""
        form = request.form
        if request.method == "POST":
            content, filename = _upload(request)
            if not content:
                errors["file"] = "Выберите файл: XLSX, XLS, ODS или CSV"
            elif len(content) > MAX_UPLOAD:
                errors["file"] = "Файл больше 100 МБ: разделите его на части"
            else:
                check_only = form.get("step") != "load"
                try:
                    result = call(self.membership, "import_members",
                                  base64.b64encode(content).decode(), filename, org_id,
                                  forms.flag(form, "load_good_rows"),
                                  forms.flag(form, "paper_consent"), _mapping(form),
                                  check_only, timeout=1800)
                except DomainError as exc:
                    errors = {"file": "; ".join(_failed(exc).values())}
                else:
                    if check_only:
                        check = result
                    else:
                        report = result
                    if len(content) <= CARRIED:  # for the next step: load, or load the good rows
                        carried = base64.b64encode(content).decode()
        runs = call(self.membership, "import_runs", org_id)
        return render(request, "members/import.html", status=422 if errors else 200, org=org,
                      check=check, report=report, errors=errors, carried=carried,
                      filename=filename, values=form, runs=runs, **ALL)

    @page("GET", "/portal/org/<int:org_id>/members/import/template.xlsx")
    def portal_member_import_template(self, request: Request, org_id: int) -> Response:
        result = call(self.membership, "import_template")
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": 'attachment; filename="members-template.xlsx"'},
            mimetype=XLSX_TYPE)

    @page("GET", "/portal/member-imports/<int:run_id>")
    def portal_member_import_report(self, request: Request, run_id: int) -> Response:
        run = call(self.membership, "import_status", run_id)
        org = call(self.registry, "get_organization", run["org_id"]) if run.get("org_id") \
            else None
        return render(request, "members/import_report.html", run=run, report=run, org=org,
                      **ALL)

    @page("GET", "/portal/member-imports/<int:run_id>/errors.xlsx")
    def portal_member_import_errors(self, request: Request, run_id: int) -> Response:
        result = call(self.membership, "import_errors_file", run_id)
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": f'attachment; filename="errors-{run_id}.xlsx"'},
            mimetype=XLSX_TYPE)
