"""Who is told what: from the events other services publish to messages in the queue.

Each function runs in the transaction that records the event as handled. Chairs are looked up
by the caller (the registry's `chairs`) before it, so that the transaction holds no RPC.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.notify import queue
from services.notify.settings import NotifySettings


def application_number(application_id: str) -> str:
    """The number an applicant quotes: the first group of the application's id, in capitals
    (the chair's queue shows it the same way)."""
    return str(application_id).split("-")[0].upper()


def _links(conf: NotifySettings, application_id: str) -> dict[str, str]:
    portal = conf.portal_url.rstrip("/")
    return {"status_url": f"{portal}/join/applications/{application_id}",
            "account_url": f"{portal}/portal/account"}


def application_submitted(session: Session, conf: NotifySettings, event_id: str,
                          p: dict[str, Any]) -> None:
    """The applicant is told at once; the chair learns from the day's digest."""
    app_id = str(p["application_id"])
    number = application_number(app_id)
    queue.enqueue(session, event_id, p.get("email"), "application_received", {
        "number": number, "first_name": p.get("first_name") or "", "org_name":
        p.get("org_name") or "", **_links(conf, app_id)})
    session.execute(text("""
        INSERT INTO notify.digest_item (digest, org_id, item)
        VALUES ('applications_waiting', :org, CAST(:item AS jsonb))
    """), {"org": int(p["org_id"]), "item": queue.json_text({
        "application_id": app_id, "number": number,
        "submitted_at": p.get("submitted_at") or datetime.now().isoformat(),
        "org_name": p.get("org_name") or ""})})


def application_decided(session: Session, conf: NotifySettings, event_id: str,
                        p: dict[str, Any]) -> None:
    """Accepted, declined or expired: the applicant is told; the digest forgets it."""
    app_id = str(p["application_id"])
    decision = p.get("decision")
    context = {"number": application_number(app_id), "first_name": p.get("first_name") or "",
               "org_name": p.get("org_name") or "", "decision": decision,
               "reason": p.get("reason") or "", **_links(conf, app_id)}
    kind = "application_accepted" if decision == "accepted" else "application_declined"
    queue.enqueue(session, event_id, p.get("email"), kind, context)
    session.execute(text("""
        DELETE FROM notify.digest_item
        WHERE digest = 'applications_waiting' AND gathered_at IS NULL
          AND item ->> 'application_id' = :app
    """), {"app": app_id})


def report_reopened(session: Session, conf: NotifySettings, event_id: str,
                    p: dict[str, Any], chair: dict[str, Any] | None) -> None:
    """The chair of the organization whose report came back is told at once."""
    if not chair or not (chair.get("chair") or {}).get("email"):
        return
    person = chair["chair"]
    portal = conf.portal_url.rstrip("/")
    queue.enqueue(session, event_id, person["email"], "report_reopened", {
        "first_name": person.get("first_name") or "", "org_name": chair.get("name") or "",
        "family_title": p.get("family_title") or p.get("family") or "", "day": p["day"],
        "reason": p.get("reason") or "",
        "report_url": f"{portal}/portal/reports/{p['report_id']}",
        "settings_url": f"{portal}/portal/account#notifications"})


def member_transferred(session: Session, conf: NotifySettings, event_id: str,
                       p: dict[str, Any], member: dict[str, Any]) -> None:
    """The member learns where they are now on the books (optional)."""
    portal = conf.portal_url.rstrip("/")
    queue.enqueue(session, event_id, member.get("email"), "transfer_done", {
        "first_name": member.get("first_name") or "", "org_name": member.get("org_name") or "",
        "on": p.get("on") or "", "account_url": f"{portal}/portal/account",
        "settings_url": f"{portal}/portal/account#notifications"})


def invitations(session: Session, event_id: str, usernames: list[str], reason: str) -> int:
    """One invitation per account, in one statement: a bulk load's event names tens of
    thousands (invitations cannot be switched off, so no preference is looked at). The
    invitation's event id is derived from the fact's, so that another message of the same fact
    to the same person (an applicant's «принято») is not taken for it."""
    addresses = sorted({queue.normal_address(u) for u in usernames or []} - {""})
    return session.execute(text("""
        INSERT INTO notify.message (event_id, recipient, kind, context)
        SELECT :event, a, 'invitation', CAST(:ctx AS jsonb) FROM unnest(CAST(:a AS text[])) a
        WHERE a LIKE '%@%'
        ON CONFLICT ON CONSTRAINT message_once DO NOTHING
    """), {"event": queue.derived_id(event_id, "invitation"), "a": addresses,
           "ctx": queue.json_text({"reason": reason})}).rowcount


def chair_named(session: Session, event_id: str, p: dict[str, Any]) -> None:
    """A chair named in a passport (registry's chair_changed): sso makes the account, notify
    asks for its invitation until the account is there. The same person kept, or a person
    with no e-mail, gets nothing (the quality check shows the latter)."""
    new = p.get("new") or {}
    old = p.get("old") or {}
    address = queue.normal_address(new.get("email"))
    if "@" in address and address != queue.normal_address(old.get("email")):
        invitations(session, event_id, [address], "chair")


def member_accepted(session: Session, event_id: str, p: dict[str, Any]) -> None:
    """A person accepted online gets their personal account (made by sso) and its invitation."""
    if p.get("decision") == "accepted" and p.get("email"):
        invitations(session, event_id, [p["email"]], "member")


def _settings_url(conf: NotifySettings) -> str:
    return f"{conf.portal_url.rstrip('/')}/portal/account#notifications"


def cards_ready(session: Session, conf: NotifySettings, event_id: str, p: dict[str, Any],
                contacts: dict[int, dict[str, Any]]) -> int:
    """Each member whose card was made or delivered is told (optional); `contacts` by member
    id from membership (members with no e-mail are not there)."""
    account_url = f"{conf.portal_url.rstrip('/')}/portal/account"
    return queue.enqueue_many(session, "card_ready", [
        (queue.derived_id(event_id, c["card_id"]), member["email"], {
            "first_name": member.get("first_name") or "", "org_name": member.get("org_name") or "",
            "number": c["number"], "status": c["status"], "account_url": account_url,
            "settings_url": _settings_url(conf)})
        for c in p.get("cards") or [] if (member := contacts.get(int(c["member_id"])))])


def cards_waiting(session: Session, p: dict[str, Any]) -> None:
    """Cards delivered and not handed out (cards' reminder): an item of the weekly digest."""
    session.execute(text("""
        INSERT INTO notify.digest_item (digest, org_id, item)
        VALUES ('cards_waiting', :org, CAST(:item AS jsonb))
    """), {"org": int(p["org_id"]), "item": queue.json_text({"cards": int(p["cards"])})})


def import_finished(session: Session, conf: NotifySettings, event_id: str,
                    p: dict[str, Any]) -> None:
    """A long import's outcome to whoever started it (their account's name is the address);
    a quick one they saw on the page."""
    if float(p.get("seconds") or 0) < conf.long_import_s:
        return
    seconds = float(p["seconds"])
    started = datetime.now().timestamp() - seconds
    queue.enqueue(session, event_id, p.get("started_by"), "import_finished", {
        "import_id": p["import_id"], "filename": p.get("filename") or "",
        "started_at": datetime.fromtimestamp(started).isoformat(),
        "minutes": max(1, round(seconds / 60)), "rows_total": int(p.get("rows_total") or 0),
        "loaded": int(p.get("loaded") or 0), "rejected": int(p.get("rejected") or 0),
        "long_minutes": max(1, round(conf.long_import_s / 60)),
        "result_url": f"{conf.portal_url.rstrip('/')}/portal/members",
        "settings_url": _settings_url(conf)})


def report_due(session: Session, conf: NotifySettings, day: str, days_left: int,
               due: list[dict[str, Any]], chairs: dict[int, dict[str, Any]]) -> int:
    """A reminder to the chair of each organization whose report for `day` is not submitted,
    `days_left` days before it: at most once per (report, day, days_left, chair), by the
    event id derived from them."""
    portal = conf.portal_url.rstrip("/")
    items = []
    for d in due:
        row = chairs.get(int(d["org_id"])) or {}
        person = row.get("chair") or {}
        items.append((
            queue.derived_id("report_due", d["family"], d["org_id"], day, days_left),
            person.get("email"), {
                "first_name": person.get("first_name") or "", "org_name": row.get("name") or "",
                "family_title": d["family_title"], "day": day, "days_left": days_left,
                "reports_url": f"{portal}/portal/reports?org_id={d['org_id']}",
                "settings_url": _settings_url(conf)}))
    return queue.enqueue_many(session, "report_due", items)


def report_asked(session: Session, conf: NotifySettings, p: dict[str, Any],
                 chairs: dict[int, dict[str, Any]]) -> int:
    """The chairs of the organizations those above chose on the tracking page: at most one
    such reminder per organization, report and day however often they press the button."""
    portal = conf.portal_url.rstrip("/")
    items = []
    for org_id in p["org_ids"]:
        row = chairs.get(int(org_id)) or {}
        person = row.get("chair") or {}
        items.append((
            queue.derived_id("report_asked", p["family"], org_id, p["day"], p["asked_on"]),
            person.get("email"), {
                "first_name": person.get("first_name") or "", "org_name": row.get("name") or "",
                "family_title": p["family_title"], "day": p["day"],
                "reports_url": f"{portal}/portal/reports?org_id={org_id}"}))
    return queue.enqueue_many(session, "report_asked", items)
