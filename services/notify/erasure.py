"""What notify forgets of the people whose cards membership's retention reduced (issue 29):
by their e-mail addresses, the only thing notify knows them by. The messages stay as counts
(a campaign's figures do not change) and lose the address and what the template was given;
the attempts lose the server's answer (it quotes the address); consents, opt-outs, sign-ins
and bounce states of the address go."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


def forget(session: Session, emails: list[str]) -> dict[str, int]:
    """Idempotent: a second delivery of the same event finds nothing left."""
    wanted: dict[str, Any] = {"emails": sorted({e.strip().lower() for e in emails if e})}
    if not wanted["emails"]:
        return {"messages": 0, "records": 0}
    session.execute(text("""
        CREATE TEMP TABLE forgotten ON COMMIT DROP AS
        SELECT id FROM notify.message WHERE lower(recipient) = ANY(CAST(:emails AS text[]))
    """), wanted)
    session.execute(text("""
        UPDATE notify.attempt a SET detail = NULL FROM forgotten f WHERE a.message_id = f.id
    """))
    messages = session.execute(text("""
        UPDATE notify.message m SET recipient = 'erased:' || m.id, context = '{}'::jsonb,
            error = NULL
        FROM forgotten f WHERE m.id = f.id
    """)).rowcount
    session.execute(text("DROP TABLE forgotten"))
    records = 0
    for table in ("consent", "opt_out", "sign_in", "address"):
        records += session.execute(text(
            f"DELETE FROM notify.{table} WHERE lower(email) = ANY(CAST(:emails AS text[]))"),
            wanted).rowcount
    return {"messages": messages, "records": records}
