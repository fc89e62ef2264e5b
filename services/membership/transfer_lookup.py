"""A transfer into one's organization from outside one's scope: the receiving chair proves they
hold the person's papers by giving the member's id and date of birth.

That is a look-up by guessing, so every refused try (no such member, no date, a wrong date) is
written to the audit log, and the log itself is the counter: after `limit` refusals for one
member within `window_s` the look-up is refused for that member (429) until the oldest try
leaves the window, whoever asks and through whichever gateway. A missing member counts like a
wrong date, so neither the answer nor the throttling tells which ids exist.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import audit
from services.common.caller import Caller
from services.common.errors import DomainError, TooManyRequests
from services.membership.members import SCHEMA, member_not_found

RECORD = "member"
REFUSED = "transfer_lookup_refused"
THROTTLED = "transfer_lookup_throttled"


def refusals(session: Session, member_id: int, window_s: float) -> tuple[int, int]:
    """Refused look-ups of the member within the window, and the seconds until the oldest of
    them leaves it."""
    count, wait = session.execute(text(f"""
        SELECT count(*), ceil(extract(epoch FROM
                   min(at) + make_interval(secs => :window) - now()))
        FROM {SCHEMA}.audit_log
        WHERE record_type = :type AND record_id = :id AND action = :action
          AND at > now() - make_interval(secs => :window)
    """), {"type": RECORD, "id": str(member_id), "action": REFUSED,
           "window": window_s}).one()
    return int(count), int(wait or 0)


def check(session: Session, caller: Caller, member_id: int, member: dict[str, Any] | None,
          birth_date: date | None, limit: int, window_s: float) -> DomainError | None:
    """None when the date of birth is the member's; otherwise the refusal, already audited in
    `session` (the caller commits it, then raises it)."""
    tries, wait = refusals(session, member_id, window_s)
    if tries >= limit:
        audit.record(session, SCHEMA, caller, THROTTLED, RECORD, member_id)
        return TooManyRequests(details=max(wait, 1))
    if member is not None and birth_date is not None and birth_date == member["birth_date"]:
        return None
    audit.record(session, SCHEMA, caller, REFUSED, RECORD, member_id)
    return member_not_found(member_id)
