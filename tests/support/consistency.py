"""Whether the read models agree with their sources and nothing was applied twice, as lists of
what is wrong (empty: all is well), so that a test can wait for them to converge and then say
exactly what did not.

Read models (the services' @event_handler's): membership's copy of the registry's tree;
membership's card numbers from the cards service; the cards service's cards of the members a
region orders them for, and its copy of each member's organization; single sign-on's accounts
of the chairs named in passports (Keycloak)."""

from typing import Any

from sqlalchemy import Engine, text

TREE_COLUMNS = "id, parent_id, path::text, name, excluded_on"

CHECKS = {
    "membership's tree differs from the registry's": f"""
        (SELECT {TREE_COLUMNS} FROM registry.organization
         EXCEPT SELECT {TREE_COLUMNS} FROM membership.org)
        UNION ALL
        (SELECT {TREE_COLUMNS} FROM membership.org
         EXCEPT SELECT {TREE_COLUMNS} FROM registry.organization)""",
    "a member's card number is not the card in force": """
        SELECT m.id, m.card_number, c.number FROM membership.member m
        LEFT JOIN cards.card c ON c.live_member_id = m.id
        WHERE m.card_number IS DISTINCT FROM c.number""",
    "a card in force is not where its member is": """
        SELECT c.id, c.org_id, m.org_id FROM cards.card c
        JOIN membership.member m ON m.id = c.member_id
        WHERE c.live_member_id IS NOT NULL AND c.org_id <> m.org_id""",
    "a registration in a region ordering cards for all has no card": """
        SELECT m.id FROM membership.member m
        JOIN cards.region_policy p ON p.region_id = m.region_id AND p.auto_request
        WHERE m.source = 'manual' AND m.removed_on IS NULL
          AND NOT EXISTS (SELECT 1 FROM cards.card c WHERE c.member_id = m.id)""",
    "one person, two records": """
        SELECT snils, count(*) FROM membership.member WHERE snils IS NOT NULL
        GROUP BY snils HAVING count(*) > 1""",
    "a registration announced twice": """
        SELECT payload ->> 'member_id', count(*) FROM membership.outbox
        WHERE event_type = 'member_registered' GROUP BY 1 HAVING count(*) > 1""",
    "a member with two cards": """
        SELECT member_id, count(*) FROM cards.card WHERE status <> 'refused'
        GROUP BY 1 HAVING count(*) > 1""",  # a refused card is replaced by a new one
    "a card's step recorded twice": """
        SELECT card_id, status, count(*) FROM cards.card_event GROUP BY 1, 2
        HAVING count(*) > 1""",
    "a report submitted twice": """
        SELECT report_id, count(*) FROM reports.report_event WHERE action = 'submitted'
        GROUP BY 1 HAVING count(*) > 1""",
    "events left unpublished": """
        SELECT 'registry', count(*) FROM registry.outbox WHERE published_at IS NULL
        HAVING count(*) > 0
        UNION ALL SELECT 'membership', count(*) FROM membership.outbox
        WHERE published_at IS NULL HAVING count(*) > 0
        UNION ALL SELECT 'cards', count(*) FROM cards.outbox WHERE published_at IS NULL
        HAVING count(*) > 0
        UNION ALL SELECT 'reports', count(*) FROM reports.outbox WHERE published_at IS NULL
        HAVING count(*) > 0""",
}


def disagreements(engine: Engine) -> dict[str, list[Any]]:
    found = {}
    with engine.connect() as conn:
        for name, sql in CHECKS.items():
            rows = conn.execute(text(sql)).all()
            if rows:
                found[name] = [tuple(r) for r in rows[:5]]
    return found


def missing_chair_accounts(engine: Engine, admin) -> list[tuple[int, str]]:
    """Chairs named in passports who have no account acting for their organization."""
    from services.sso.accounts import find_user

    with engine.connect() as conn:
        chairs = conn.execute(text(
            "SELECT id, lower(chair ->> 'email') FROM registry.organization "
            "WHERE chair ->> 'email' IS NOT NULL AND excluded_on IS NULL")).all()
    missing = []
    for org_id, email in chairs:
        user = find_user(admin, email)
        orgs = ((user or {}).get("attributes") or {}).get("org_ids") or []
        if str(org_id) not in orgs:
            missing.append((org_id, email))
    return missing
