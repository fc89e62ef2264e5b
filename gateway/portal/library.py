"""The reference library in the portal: search, a material with its editions (a video plays
with seeking), the file through the gateway only, publishing a material and its editions."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import library_files
from gateway.http import BadInput, call
from gateway.portal.web import form_failure, page, redirect, render
from services.common.errors import DomainError
from services.common.roles import REGIONAL_STAFF
from services.library.contract import AUDIENCES, KINDS, LEVELS, TEXT_STATES


def _publishes(request: Request) -> bool:
    caller = request.portal.caller  # type: ignore[attr-defined]
    return bool(caller and (caller.is_global or REGIONAL_STAFF in caller.roles))


def _vocabulary() -> dict[str, Any]:
    return {"KINDS": KINDS, "AUDIENCES": AUDIENCES, "LEVELS": LEVELS, "TEXT_STATES": TEXT_STATES}


class LibraryPages:
    library: Any

    @page("GET", "/portal/library")
    def portal_library(self, request: Request) -> Response:
        a = request.args
        values = {k: a.get(k, "") for k in ("q", "kind", "topic", "audience")}
        errors: dict[str, str] = {}
        result: dict[str, Any] = {"items": [], "total": 0}
        try:
            result = call(self.library, "search", values["q"], values["kind"] or None,
                          values["topic"] or None, values["audience"] or None, None, None,
                          30, 0)
        except DomainError as exc:
            errors = form_failure(exc)
        return render(request, "library/list.html", result=result, values=values,
                      errors=errors, publishes=_publishes(request), **_vocabulary())

    @page("GET", "/portal/library/<int:material_id>")
    def portal_library_material(self, request: Request, material_id: int) -> Response:
        material = call(self.library, "get_material", material_id,
                        request.args.get("on") or None)
        return render(request, "library/material.html", m=material, errors={}, values={},
                      **_vocabulary())

    @page("GET", "/portal/library/<int:material_id>/file")
    def portal_library_file(self, request: Request, material_id: int) -> Response:
        edition = request.args.get("edition_id")
        return library_files.download(self.library, request, material_id,
                                      int(edition) if edition and edition.isdigit() else None)

    @page("GET,POST", "/portal/library/new")
    def portal_library_new(self, request: Request) -> Response:
        values: dict[str, Any] = {"audiences": ["chairs"]}
        errors: dict[str, str] = {}
        if request.method == "POST":
            f = request.form
            values = {k: f.get(k, "") for k in ("kind", "title", "description", "topics",
                                                "url", "region_id", "effective_on",
                                                "event_id")}
            values.update(audiences=f.getlist("audiences"), levels=f.getlist("levels"),
                          normative=f.get("normative") == "on")
            body = {k: values[k] for k in ("kind", "title", "description", "audiences",
                                           "levels", "normative")}
            body["topics"] = [t for t in values["topics"].split(",") if t.strip()]
            body["url"] = values["url"] or None
            if values["region_id"].isdigit():
                body["region_id"] = int(values["region_id"])
            if values["event_id"].strip():
                body["event_id"] = values["event_id"].strip()
            try:
                made = call(self.library, "create_material", body)
                upload = request.files.get("file")
                if upload is not None and upload.filename and values["kind"] != "link":
                    try:
                        library_files.upload_edition(self.library, request, made["id"])
                    except (DomainError, BadInput) as exc:
                        message = (exc.message if isinstance(exc, BadInput)
                                   else "; ".join(form_failure(exc).values()) or exc.message)
                        return redirect(f"/portal/library/{made['id']}", request=request,
                                        flash=f"Материал создан, файл не принят: {message}")
                return redirect(f"/portal/library/{made['id']}", request=request,
                                flash="Материал опубликован")
            except DomainError as exc:
                errors = form_failure(exc)
        return render(request, "library/new.html", values=values, errors=errors,
                      **_vocabulary())

    @page("POST", "/portal/library/<int:material_id>/editions")
    def portal_library_edition(self, request: Request, material_id: int) -> Response:
        try:
            edition = library_files.upload_edition(self.library, request, material_id)
            flash = (f"Редакция № {edition['number']} добавлена: "
                     f"{TEXT_STATES[edition['text_status']].lower()}")
        except BadInput as exc:
            flash = exc.message
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values()) or exc.message
        return redirect(f"/portal/library/{material_id}", flash=flash, request=request)

    @page("POST", "/portal/library/<int:material_id>/retire")
    def portal_library_retire(self, request: Request, material_id: int) -> Response:
        retired = request.form.get("retired") != "0"
        call(self.library, "retire_material", material_id, retired)
        return redirect(f"/portal/library/{material_id}", request=request,
                        flash="Материал снят с публикации" if retired else "Материал снова "
                                                                           "опубликован")
