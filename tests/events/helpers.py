"""Shared steps of the events tests: members made through the API, cards numbered directly."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.api.test_cards import token_subject
from tests.factories import person


def members(api, org_id: int, n: int, first: int, user: str = "chair") -> list[int]:
    out = []
    for i in range(first, first + n):
        r = api.as_user(user).post(f"/api/v1/organizations/{org_id}/members", json=person(i))
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def give_cards(engine, member_ids: list[int]) -> dict[int, str]:
    """Card numbers as the cards service would have given them (the barcode the door reads)."""
    numbers = {m: f"9643{m:012d}" for m in member_ids}
    with engine.begin() as c:
        for m, number in numbers.items():
            c.execute(text("UPDATE membership.member SET card_number = :n WHERE id = :id"),
                      {"n": number, "id": m})
    return numbers


def link_account(engine, tokens, member_id: int, user: str = "member") -> None:
    with engine.begin() as c:
        c.execute(text("UPDATE membership.member SET account_subject = NULL "
                       "WHERE account_subject = :s"), {"s": token_subject(tokens(user))})
        c.execute(text("UPDATE membership.member SET account_subject = :s WHERE id = :id"),
                  {"s": token_subject(tokens(user)), "id": member_id})


def seminar(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"title": "Семинар председателей ППО", "kind": "seminar",
            "starts_at": (now + timedelta(days=7)).isoformat(), "place": "Пермь, ул. Ленина, 51",
            "capacity": 3, "registration_closes_at": (now + timedelta(days=6)).isoformat(),
            "questions": ["Нужна ли гостиница?"], **extra}
