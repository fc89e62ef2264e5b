"""Events on the phone: the list, a new event, an event's page (chairs register their members,
several at once; cancellation), the door (check-in by the card's number or the list, working
offline with a small script and a service worker; without scripts each check-in is a form), the
member's «Мероприятия» in the personal account, and an organization's events."""

import json
import uuid
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import call, file_response
from gateway.portal.web import ctx, form_failure, gather, page, redirect, render
from services.common.errors import DomainError
from services.events.titles import KINDS

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SERVICE_WORKER = Path(__file__).resolve().parent / "static" / "events-sw.js"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _outcome(results: list[dict[str, Any]]) -> str:
    registered = sum(1 for r in results if r.get("status") == "registered")
    waiting = sum(1 for r in results if r.get("status") == "waiting")
    refused = [f"{r.get('full_name') or r['member_id']}: {r['message']}"
               for r in results if r.get("error")]
    parts = [f"Зарегистрировано: {registered}", f"в листе ожидания: {waiting}"]
    if refused:
        parts.append("не зарегистрированы — " + "; ".join(refused))
    return ", ".join(parts)


class EventPages:
    events: Any
    membership: Any
    library: Any
    registry: Any

    @page("GET", "/portal/events")
    def portal_events(self, request: Request) -> Response:
        caller = ctx(request).caller
        assert caller is not None
        if not (caller.is_global or caller.scope_roots):
            return redirect("/portal/account/events")
        found = call(self.events, "visible_events")
        return render(request, "events/list.html", events=found,
                      roots=list(caller.scope_roots or ()))

    @page("GET,POST", "/portal/events/new")
    def portal_event_new(self, request: Request) -> Response:
        org_id = _int(request.values.get("org_id"))
        caller = ctx(request).caller
        if org_id is None and caller is not None and caller.scope_roots:
            org_id = caller.scope_roots[0]
        values: dict[str, Any] = dict(request.form) if request.method == "POST" else {}
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = {k: values.get(k) for k in ("title", "kind", "starts_at", "ends_at", "place",
                                               "link", "description", "capacity",
                                               "registration_closes_at", "confirm_hours",
                                               "questions")}
            if values.get("young"):
                data["audience"] = {"young": True}
            try:
                event = call(self.events, "create_event", org_id, data)
                return redirect(f"/portal/events/{event['id']}", "Мероприятие создано",
                                request)
            except DomainError as exc:
                errors = form_failure(exc)
        return render(request, "events/new.html", org_id=org_id, values=values, errors=errors,
                      kinds=KINDS)

    @page("GET", "/portal/events/<int:event_id>")
    def portal_event(self, request: Request, event_id: int) -> Response:
        q = request.args.get("q", "").strip()
        event, people, recordings = gather(
            (self.events, "get_event", event_id), (self.events, "participants", event_id, ""),
            (self.library, "search", "", None, None, None, None, None, 20, 0, event_id))
        registered = {p["member_id"] for p in people if p["status"] in
                      ("registered", "waiting", "offered")}
        candidates: list[dict[str, Any]] = []
        if q:
            found = call(self.membership, "search_members", {"q": q}, None, 50, 0)
            candidates = [m for m in found["items"] if m["id"] not in registered]
        return render(request, "events/event.html", event=event, people=people, q=q,
                      candidates=candidates, recordings=recordings["items"])

    @page("POST", "/portal/events/<int:event_id>/register")
    def portal_event_register(self, request: Request, event_id: int) -> Response:
        ids = [i for i in (_int(v) for v in request.form.getlist("member_id")) if i]
        if not ids:
            return redirect(f"/portal/events/{event_id}", "Отметьте, кого зарегистрировать",
                            request)
        try:
            flash = _outcome(call(self.events, "register_members", event_id, ids))
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/events/{event_id}", flash, request)

    @page("POST", "/portal/events/<int:event_id>/cancel/<int:registration_id>")
    def portal_event_cancel(self, request: Request, event_id: int,
                            registration_id: int) -> Response:
        try:
            result = call(self.events, "cancel_registration", event_id, registration_id)
            flash = "Регистрация отменена" + (
                "; место предложено первому в листе ожидания" if result.get("offered") else "")
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/events/{event_id}", flash, request)

    @page("POST", "/portal/events/<int:event_id>/announce")
    def portal_event_announce(self, request: Request, event_id: int) -> Response:
        """The announcement's draft, opened on the mailing page to check and send."""
        try:
            campaign = call(self.events, "announce_event", event_id)
        except DomainError as exc:
            return redirect(f"/portal/events/{event_id}",
                            "; ".join(form_failure(exc).values()), request)
        return redirect(f"/portal/mailing/{campaign['id']}",
                        "Черновик рассылки готов: проверьте и отправьте", request)

    # ---- the door ----

    @page("GET", "/portal/events/<int:event_id>/door")
    def portal_event_door(self, request: Request, event_id: int) -> Response:
        q = request.args.get("q", "").strip().lower()
        door = call(self.events, "door_list", event_id)
        people = door["people"]
        shown = [p for p in people if q in p["full_name"].lower()
                 or q == (p["card_number"] or "")] if q else people
        return render(request, "events/door.html", event=door["event"], people=shown,
                      total=len(people), checked=sum(p["checked_in"] for p in people), q=q,
                      client_id=str(uuid.uuid4()))

    @page("POST", "/portal/events/<int:event_id>/door")
    def portal_event_door_post(self, request: Request, event_id: int) -> Response:
        """A check-in without scripts: the form carries the id made with the page, so a form
        sent twice counts once."""
        item = {"client_id": request.form.get("client_id"),
                "registration_id": _int(request.form.get("registration_id")),
                "card_number": request.form.get("card_number", "").strip() or None}
        try:
            (result,) = call(self.events, "sync_checkins", event_id, [item])
            flash = result["message"] + (f": {result['full_name']}"
                                         if result.get("full_name") else "")
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/events/{event_id}/door", flash, request)

    @page("POST", "/portal/events/<int:event_id>/checkins")
    def portal_event_checkins(self, request: Request, event_id: int) -> Response:
        """The script's sync of check-ins queued on the phone (JSON in a form field, so the
        portal's CSRF check applies as to every form)."""
        try:
            items = json.loads(request.form.get("checkins") or "[]")
            result = call(self.events, "sync_checkins", event_id, items)
            status = 200
        except ValueError:
            result, status = {"message": "Отметки не распознаны"}, 400
        except DomainError as exc:
            result, status = exc.to_dict(), exc.status
        return Response(json.dumps(result, ensure_ascii=False), status=status,
                        mimetype="application/json", headers={"Cache-Control": "no-store"})

    @page("GET", "/portal/events/sw.js", public=True)
    def portal_events_sw(self, request: Request) -> Response:
        """The service worker, served from /portal/events/ so that its scope covers the door
        pages."""
        return Response(SERVICE_WORKER.read_bytes(), mimetype="text/javascript",
                        headers={"Cache-Control": "no-cache"})

    # ---- the member's «Мероприятия» and an organization's events ----

    @page("GET", "/portal/account/events")
    def portal_account_events(self, request: Request) -> Response:
        mine = call(self.events, "my_events")
        taken = {r["event_id"]: r for r in mine["registrations"]}
        return render(request, "events/account.html", mine=mine["registrations"],
                      open_events=[e for e in mine["open"] if e["id"] not in taken
                                   or taken[e["id"]]["status"] in ("cancelled", "expired")])

    @page("POST", "/portal/account/events/<int:event_id>/<action>")
    def portal_account_event_action(self, request: Request, event_id: int,
                                    action: str) -> Response:
        method, done = {"register": ("register_self", "Вы зарегистрированы"),
                        "cancel": ("cancel_mine", "Регистрация отменена"),
                        "confirm": ("confirm_mine", "Участие подтверждено")}.get(
                            action, (None, ""))
        if method is None:
            return redirect("/portal/account/events")
        try:
            if method == "register_self":
                answers = {k[2:]: v for k, v in request.form.items() if k.startswith("q_")}
                result = call(self.events, method, event_id, answers)
                if result["status"] == "waiting":
                    done = "Мест нет: вы в листе ожидания — сообщим, когда место освободится"
            else:
                call(self.events, method, event_id)
            flash = done
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect("/portal/account/events", flash, request)

    @page("GET", "/portal/org/<int:org_id>/events")
    def portal_org_events(self, request: Request, org_id: int) -> Response:
        org, found, bodies = gather((self.registry, "get_organization", org_id),
                                    (self.events, "org_events", org_id),
                                    (self.events, "org_bodies", org_id))
        for body in bodies:
            body["meetings"] = call(self.events, "body_meetings", body["id"])[:10]
        return render(request, "events/org.html", org=org, events=found, bodies=bodies)

    # ---- files ----

    @page("GET", "/portal/events/<int:event_id>/participants.xlsx")
    def portal_event_xlsx(self, request: Request, event_id: int) -> Response:
        return file_response(call(self.events, "participants_xlsx", event_id, timeout=120), XLSX)

    @page("GET", "/portal/account/events/<int:event_id>/certificate.pdf")
    def portal_account_certificate(self, request: Request, event_id: int) -> Response:
        return file_response(call(self.events, "certificate", event_id, timeout=60), PDF)

    @page("GET", "/portal/meetings/<int:meeting_id>/protocol.pdf")
    def portal_meeting_pdf(self, request: Request, meeting_id: int) -> Response:
        return file_response(call(self.events, "protocol_pdf", meeting_id,
                                  _int(request.args.get("version"))), PDF)

    @page("GET", "/portal/meetings/<int:meeting_id>/items/<int:item_id>/extract.pdf")
    def portal_meeting_extract(self, request: Request, meeting_id: int,
                               item_id: int) -> Response:
        return file_response(call(self.events, "protocol_extract", meeting_id, item_id,
                                  timeout=60), PDF)

    # ---- a meeting on the phone: attendance, votes, the protocol ----

    @page("GET", "/portal/meetings/<int:meeting_id>")
    def portal_meeting(self, request: Request, meeting_id: int) -> Response:
        return render(request, "events/meeting.html",
                      m=call(self.events, "get_meeting", meeting_id))

    @page("POST", "/portal/meetings/<int:meeting_id>/<action>")
    def portal_meeting_action(self, request: Request, meeting_id: int, action: str) -> Response:
        form = request.form
        try:
            if action == "attendance":
                present = [i for i in (_int(v) for v in form.getlist("present")) if i]
                m = call(self.events, "mark_attendance", meeting_id, present)
                flash = f"Присутствуют {m['present']} из {m['members_total']}: " + (
                    "кворум есть" if m["quorum"] else f"кворума нет (нужно {m['needed']})")
            elif action == "item":
                data = {k: form.get(k) for k in ("heard", "decided", "votes_for",
                                                 "votes_against", "votes_abstained")}
                call(self.events, "record_item", meeting_id, _int(form.get("item_id")), data)
                flash = "Вопрос записан"
            elif action == "protocol":
                p = call(self.events, "make_protocol", meeting_id, timeout=60)
                flash = f"Протокол № {p['number']} сформирован (редакция {p['version']})"
            elif action == "sign":
                call(self.events, "sign_protocol", meeting_id, timeout=60)
                flash = "Протокол подписан"
            else:
                return redirect(f"/portal/meetings/{meeting_id}")
        except DomainError as exc:
            flash = "; ".join(form_failure(exc).values())
        return redirect(f"/portal/meetings/{meeting_id}", flash, request)
