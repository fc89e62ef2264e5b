"""The passport of an organization: its tabs to view and edit, its history and past states.

Each tab posts only its own fields; the registry merges them into the passport and checks it as
a whole, so a form shows the same messages as the API, next to the fields they name."""

from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from gateway.http import call
from gateway.portal import forms
from gateway.portal.labels import ALL, TABS
from gateway.portal.web import (
    ctx,
    error_page,
    field_errors,
    form_failure,
    gather,
    page,
    redirect,
    render,
)
from services.common.errors import DomainError
from services.registry.file_format import LEVEL_KINDS, Level

CHAIR_FIELDS = ("surname", "first_name", "patronymic", "email", "phone", "elected_on",
                "term_until")
STAFF_FIELDS = ("full_name", "position", "email", "phone")
ORG_FIELDS = ("parent_id", "reorganized_into_id", "region_id")  # values that are org ids
BLANK_STAFF_ROWS = 3


def tabs_for(level: str) -> list[str]:
    return [t for t in TABS if t != "education" or level == "primary"]


def patch_from(tab: str, form: MultiDict, org: dict[str, Any]) -> dict[str, Any]:
    """The passport fields one tab's form changes."""
    if tab == "registration":
        patch: dict[str, Any] = {"registry_number": forms.text(form, "registry_number"),
                                 "name": forms.text(form, "name"),
                                 "included_on": forms.text(form, "included_on")}
        if LEVEL_KINDS.get(Level(org["level"])):
            patch["kind"] = forms.text(form, "kind")
        return patch
    if tab == "legal":
        patch = {"legal_entity": forms.flag(form, "legal_entity"),
                 "ogrn": forms.text(form, "ogrn"), "inn": forms.text(form, "inn")}
        if org["level"] == "primary":
            patch["territorial_rights"] = forms.flag(form, "territorial_rights")
        return patch
    if tab == "chair":
        return {"chair": forms.section(form, "chair", CHAIR_FIELDS, flags=("email_consent",))}
    if tab == "education":
        return {"education": forms.section(form, "education", ("name", "type", "inn"))}
    return {"staff": forms.rows(form, "staff", STAFF_FIELDS, key="full_name")}


class PassportPages:
    registry: Any

    @page("GET", "/portal/org/<int:org_id>/passport")
    def portal_passport(self, request: Request, org_id: int) -> Response:
        as_of = request.args.get("as_of", "").strip()
        org, past, errors = call(self.registry, "get_organization", org_id), None, {}
        if as_of:
            try:  # a day before the organization was included has no passport to show
                past = call(self.registry, "passport_as_of", org_id, as_of)
            except DomainError as exc:
                if exc.status >= 500:
                    raise
                errors = {"as_of": "; ".join(field_errors(exc).values())}
        shown = {**org, **past["passport"]} if past else org
        return render(request, "passport/view.html", org=org, shown=shown, past=past,
                      as_of=as_of, errors=errors, tabs=tabs_for(org["level"]), **ALL)

    @page("GET,POST", "/portal/org/<int:org_id>/passport/<tab>")
    def portal_passport_edit(self, request: Request, org_id: int, tab: str) -> Response:
        org = call(self.registry, "get_organization", org_id)
        if tab not in tabs_for(org["level"]):
            return error_page(404, "Такой вкладки паспорта нет")
        values = forms.flatten(org) | (ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            try:
                call(self.registry, "update_passport", org_id,
                     patch_from(tab, request.form, org))
                return redirect(f"/portal/org/{org_id}/passport#{tab}",
                                flash=f"Вкладка «{TABS[tab]}» сохранена", request=request)
            except DomainError as exc:
                errors = form_failure(exc)
        staff_rows = len(org.get("staff") or []) + BLANK_STAFF_ROWS
        return render(request, "passport/edit.html", status=422 if errors else 200, org=org,
                      tab=tab, values=values, errors=errors, staff_rows=staff_rows,
                      kinds=LEVEL_KINDS.get(Level(org["level"]), ()), **ALL)

    @page("GET", "/portal/org/<int:org_id>/history")
    def portal_passport_history(self, request: Request, org_id: int) -> Response:
        org, versions = gather((self.registry, "get_organization", org_id),
                               (self.registry, "history", org_id))
        # organizations a change names (the parent, a successor), by name and number
        ids = sorted({int(x) for v in versions for field, pair in (v.get("diff") or {}).items()
                      if field in ORG_FIELDS for x in pair if str(x or "").isdigit()})
        names = {str(o["id"]): f"{o['name']} (рег. № {o['registry_number']})"
                 for o in call(self.registry, "org_index", None, ids, 0, len(ids))} if ids else {}
        return render(request, "passport/history.html", org=org,
                      versions=versions, org_names=names, **ALL)

    @page("GET,POST", "/portal/org/<int:org_id>/exclude")
    def portal_exclude(self, request: Request, org_id: int) -> Response:
        """Exclusion from the registry (liquidation, or reorganization into a successor that
        takes the organizations beneath): for the level above, as the registry decides."""
        org = call(self.registry, "get_organization", org_id)
        values = dict(ctx(request).draft or {})
        errors: dict[str, str] = {}
        if request.method == "POST":
            values = dict(request.form.items())
            into_id = None
            number = (values.get("into") or "").strip()
            if number:
                found = [o for o in call(self.registry, "search", number, None, None, False, 5)
                         if o["registry_number"] == number]
                if found:
                    into_id = found[0]["id"]
                else:
                    errors["into"] = "Организация с таким регистрационным номером не найдена"
            if not errors:
                try:
                    call(self.registry, "exclude_organization", org_id,
                         values.get("excluded_on") or None, values.get("reason") or None,
                         into_id)
                    return redirect(f"/portal/org/{org_id}/passport",
                                    flash="Организация исключена из реестра", request=request)
                except DomainError as exc:
                    errors = form_failure(exc)
                    if "into_id" in errors:
                        errors["into"] = errors.pop("into_id")
        return render(request, "passport/exclude.html", status=422 if errors else 200,
                      org=org, values=values, errors=errors, **ALL)
