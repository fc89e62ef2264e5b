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
