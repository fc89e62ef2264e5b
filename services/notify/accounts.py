"""The state of an account as far as reaching its person goes: what notify knows of its
invitations, its address and its sign-ins.

- bouncing: the mail server refused the address for good (nothing reaches them);
- active: the account has signed in (Keycloak's LOGIN events, as sso reads them);
- invited: an invitation is queued or was sent and its link still works;
- invitation_expired: the last invitation was sent longer ago than the link lives;
- never_signed_in: an account that has not signed in and has no invitation in force (made
  before invitations, its invitation held, or a password set by an operator and never used).

Everything but active counts for the data-quality check "chairs without access".
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.notify.catalogue import INVITATION
from services.notify.queue import normal_address

STATES = ("active", "invited", "invitation_expired", "never_signed_in", "bouncing")
WITHOUT_ACCESS = frozenset(STATES) - {"active"}


def facts(session: Session, emails: list[str]) -> dict[str, dict[str, Any]]:
    """For each address: bouncing, the sign-ins seen, the latest invitation."""
    wanted = sorted({normal_address(e) for e in emails} - {""})
    rows = session.execute(text("""
        SELECT e.email, b.email IS NOT NULL AS bouncing, s.first_at, s.last_at,
               inv.status AS invitation_status, inv.sent_at AS invited_at,
               inv.created_at AS invitation_queued_at, inv.error AS invitation_error
        FROM unnest(CAST(:e AS text[])) AS e(email)
        LEFT JOIN notify.address b ON b.email = e.email
        LEFT JOIN notify.sign_in s ON s.email = e.email
        LEFT JOIN LATERAL (
            SELECT m.status, m.sent_at, m.created_at, m.error FROM notify.message m
            WHERE m.recipient = e.email AND m.kind = :inv
            ORDER BY m.id DESC LIMIT 1) inv ON true
    """), {"e": wanted, "inv": INVITATION}).mappings().all()
    return {r["email"]: dict(r) for r in rows}


def state_of(fact: dict[str, Any], lifespan: timedelta, now: datetime) -> dict[str, Any]:
    """The state with the dates that explain it."""
    expires = fact["invited_at"] + lifespan if fact.get("invited_at") else None
    if fact.get("bouncing"):
        state = "bouncing"
    elif fact.get("last_at"):
        state = "active"
    elif fact.get("invitation_status") == "queued":
        state = "invited"
    elif fact.get("invitation_status") == "sent" and expires is not None:
        state = "invited" if expires > now else "invitation_expired"
    else:
        state = "never_signed_in"
    return {"state": state, "invited_at": fact.get("invited_at"),
            "invitation_expires_at": expires, "signed_in_at": fact.get("last_at"),
            "invitation_error": fact.get("invitation_error")
            if fact.get("invitation_status") == "held" else None}


def states(session: Session, emails: list[str], lifespan: timedelta
           ) -> dict[str, dict[str, Any]]:
    now = session.execute(text("SELECT now()")).scalar_one()
    return {email: state_of(f, lifespan, now) for email, f in facts(session, emails).items()}


def signed_in(session: Session, emails: list[str], at: datetime) -> int:
    """Sign-ins seen (a redelivered event, or one read twice, changes nothing but last_at)."""
    wanted = sorted({normal_address(e) for e in emails} - {""})
    return session.execute(text("""
        INSERT INTO notify.sign_in (email, first_at, last_at)
        SELECT e, :at, :at FROM unnest(CAST(:e AS text[])) e
        ON CONFLICT (email) DO UPDATE SET last_at = GREATEST(notify.sign_in.last_at, :at)
    """), {"e": wanted, "at": at}).rowcount


def recent_invitation(session: Session, email: str, within: timedelta) -> bool:
    """An invitation to this address queued lately: another is not queued on top of it."""
    return session.execute(text("""
        SELECT 1 FROM notify.message
        WHERE recipient = :e AND kind = :inv AND status IN ('queued', 'sent')
          AND COALESCE(sent_at, created_at) > now() - CAST(:w AS interval)
        LIMIT 1
    """), {"e": normal_address(email), "inv": INVITATION,
           "w": f"{within.total_seconds()} seconds"}).first() is not None


def _name(person: dict[str, Any]) -> str:
    return " ".join(str(person.get(k) or "") for k in ("surname", "first_name", "patronymic")
                    ).strip()


def chair_rows(session: Session, chairs: list[dict[str, Any]], lifespan: timedelta,
               without_access_only: bool) -> list[dict[str, Any]]:
    """The chairs (the registry's rows: organization and chair) with their accounts' states;
    a chair with no e-mail in the passport is `no_email` (no account can be given)."""
    emails = [normal_address((c.get("chair") or {}).get("email")) for c in chairs]
    found = states(session, [e for e in emails if "@" in e], lifespan)
    rows = []
    for chair, email in zip(chairs, emails, strict=True):
        person = chair.get("chair") or {}
        state = found.get(email) if "@" in email else None
        row = {"org_id": chair["org_id"], "org_name": chair.get("name"),
               "registry_number": chair.get("registry_number"), "level": chair.get("level"),
               "chair_name": _name(person), "email": email or None,
               **(state or {"state": "no_email", "invited_at": None,
                            "invitation_expires_at": None, "signed_in_at": None,
                            "invitation_error": None})}
        row["can_reinvite"] = row["state"] in ("invitation_expired", "never_signed_in",
                                               "invited")
        if not without_access_only or row["state"] != "active":
            rows.append(row)
    order = {s: n for n, s in enumerate(("bouncing", "no_email", "invitation_expired",
                                         "never_signed_in", "invited", "active"))}
    return sorted(rows, key=lambda r: (order[r["state"]], r["org_name"] or ""))


def reinvite(session: Session, org: dict[str, Any], lifespan: timedelta,
             recent: timedelta) -> dict[str, Any]:
    """A new invitation for the organization's chair (a fact of its own: a new event id)."""
    import uuid

    from services.common.errors import Conflict, TooManyRequests, ValidationFailed
    from services.notify import rules

    person = org.get("chair") or {}
    email = normal_address(person.get("email"))
    if not person:
        raise ValidationFailed("no_chair", "В паспорте организации не указан председатель")
    if "@" not in email:
        raise ValidationFailed("chair_no_email", "В паспорте нет e-mail председателя: "
                               "приглашение некуда отправить. Укажите адрес в паспорте.")
    state = states(session, [email], lifespan)[email]
    if state["state"] == "bouncing":
        raise Conflict("address_bouncing", f"Почтовый сервер не принимает адрес {email}: "
                       "исправьте e-mail председателя в паспорте")
    if state["state"] == "active":
        raise Conflict("account_active", "Председатель уже входил в АИС; если пароль забыт, "
                       "его восстанавливают ссылкой «Забыли пароль?» на странице входа")
    if recent_invitation(session, email, recent):
        raise TooManyRequests("invitation_recent", "Приглашение уже отправлено только что; "
                              "повторить можно через несколько минут",
                              int(recent.total_seconds()))
    rules.invitations(session, str(uuid.uuid4()), [email], "reinvite")
    return {"org_id": org["id"], "email": email, "state": "invited"}
