"""The auditor's page: who read or changed which personal data, when — the access logs of the
services that keep it, in one list with filters (who, which record, from and to), and the same
rows as XLSX. The services refuse anyone but the Central Council's auditors."""

import io
from datetime import datetime, time, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.portal.web import gather, page, render

SERVICES = (("registry", "Реестр организаций"), ("membership", "Учёт членов"),
            ("cards", "Профсоюзные билеты"))
ACTIONS = {
    "audit_purged": "удалил(а) записи журнала старше срока хранения",
    "read": "открыл(а)", "read_card": "открыл(а) карточку", "read_card_as_of":
    "открыл(а) карточку на дату", "read_history": "открыл(а) историю", "read_own":
    "открыл(а) свой билет", "read_own_card": "открыл(а) свою карточку", "read_card_holders":
    "получил(а) владельцев карт", "read_chairs": "получил(а) председателей", "read_contacts":
    "получил(а) контакты", "read_applications": "открыл(а) заявления", "read_account_states":
    "получил(а) состояние учётных записей", "read_log": "открыл(а) журнал", "search":
    "нашёл(нашла) в списке", "list": "открыл(а) список", "export": "выгрузил(а)",
    "export_errors": "выгрузил(а) ошибки загрузки", "import": "загрузил(а) файл",
    "import_check": "проверил(а) файл", "create": "создал(а)", "register":
    "поставил(а) на учёт", "update": "изменил(а) карточку", "update_passport":
    "изменил(а) паспорт", "exclude": "исключил(а) из реестра", "move": "перенёс(перенесла)",
    "remove": "снял(а) с учёта", "transfer": "перевёл(перевела)", "undo_remove":
    "отменил(а) снятие", "undo_transfer": "отменил(а) перевод", "transfer_find":
    "искал(а) для перевода", "transfer_request": "запросил(а) перевод", "transfer_approve":
    "одобрил(а) перевод", "transfer_decline": "отклонил(а) перевод",
    "transfer_lookup_refused": "неверные данные для перевода", "transfer_lookup_throttled":
    "перевод: слишком много попыток", "request": "заказал(а) карту", "request_org":
    "заказал(а) карты организации", "move_issued": "отметил(а) выдачу карты",
    "move_refused": "отметил(а) отказ от карты", "undo_issued": "отменил(а) выдачу карты",
    "reinvite": "отправил(а) приглашение ещё раз", "accept_application": "принял(а) заявление",
    "decline_application": "отклонил(а) заявление", "undo_decline": "отменил(а) отказ",
    "own_consent_email": "изменил(а) своё согласие на рассылку",
    "own_consent_personal_data": "изменил(а) своё согласие на обработку ПДн",
    "consent_email": "отметил(а) согласие на рассылку",
    "consent_personal_data": "отметил(а) согласие на обработку ПДн"}
OTHER_ACTION = "служебное действие"
RECORDS = {"member": "член Профсоюза", "member_list": "список членов", "card": "билет",
           "organization": "организация", "application": "заявление"}
OTHER_RECORD = "запись"
# the platform's own services, when they act for themselves
ACTORS = {"system": "система", "notify": "служба уведомлений", "sso": "служба входа",
          "reports": "служба отчётов", "cards": "служба билетов", "membership": "служба учёта",
          "registry": "служба реестра", "gateway": "шлюз", "operator": "оператор платформы",
          "library": "служба библиотеки", "events": "служба мероприятий"}


def actor_title(actor: str) -> str:
    """A service acting for itself («system:cards») by its Russian name; people by account."""
    name = actor.removeprefix("system:")
    return ACTORS.get(name, "служба платформы" if name != actor else actor)
LIMIT = 500


def _moment(value: str, end: bool = False) -> str | None:
    """A day typed in the filter as the moment the service takes (the day's end: the next)."""
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError:
        return None
    if end:
        day = day + timedelta(days=1)
    return datetime.combine(day, time.min).astimezone().isoformat()


class AuditPages:
    registry: Any
    membership: Any
    cards: Any

    def _rows(self, request: Request) -> tuple[dict[str, str], list[dict[str, Any]]]:
        filters = {k: request.args.get(k, "").strip()[:200]
                   for k in ("actor", "record_id", "since", "until")}
        args = (filters["actor"] or None, filters["record_id"] or None,
                _moment(filters["since"]), _moment(filters["until"], end=True), LIMIT)
        proxies = {"registry": self.registry, "membership": self.membership,
                   "cards": self.cards}
        answers = gather(*((proxies[name], "audit_log", *args) for name, _ in SERVICES))
        rows = [{**r, "service": title} for (_, title), found in zip(SERVICES, answers,
                                                                        strict=True)
                for r in found]
        rows.sort(key=lambda r: r["at"], reverse=True)
        return filters, rows[:LIMIT]

    @page("GET", "/portal/audit")
    def portal_audit(self, request: Request) -> Response:
        filters, rows = self._rows(request)
        return render(request, "audit/index.html", filters=filters, rows=rows, limit=LIMIT,
                      ACTIONS=ACTIONS, RECORDS=RECORDS, OTHER_ACTION=OTHER_ACTION,
                      OTHER_RECORD=OTHER_RECORD, ACTORS=ACTORS,
                      actor_title=actor_title)

    @page("GET", "/portal/audit/export.xlsx")
    def portal_audit_export(self, request: Request) -> Response:
        from openpyxl import Workbook  # the gateway's memory: only when exporting (~20 MB)

        from services.common.workbook import Sheet

        _, rows = self._rows(request)
        book = Workbook(write_only=True)
        sheet = Sheet(book, "Журнал доступа", [
            ("Когда", 18), ("Кто", 28), ("Действие", 26), ("Запись", 20), ("Номер записи", 16),
            ("Записей", 10), ("Служба", 20), ("IP-адрес", 16)])
        for r in rows:
            ids = r.get("record_ids") or []
            sheet.append([datetime.fromisoformat(r["at"]), actor_title(r["actor"]),
                          ACTIONS.get(r["action"], OTHER_ACTION),
                          RECORDS.get(r["record_type"], OTHER_RECORD),
                          r.get("record_id") or "", len(ids) if ids else 1, r["service"],
                          r.get("ip") or ""])
        sheet.finish()
        out = io.BytesIO()
        book.save(out)
        return Response(out.getvalue(), headers={
            "Content-Disposition": 'attachment; filename="audit.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
