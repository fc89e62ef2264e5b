"""The registry's domain functions against a real PostgreSQL."""

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.registry import changes, tree
from tests.factories import build_tree, company_inn, org

ACTOR = "tester"


@pytest.fixture
def ids(session):
    result = build_tree(lambda data: changes.create(session, ACTOR, data))
    session.commit()
    return result


def test_subtree_and_ancestors(session, ids):
    sub = tree.subtree(session, ids["region"])
    names = [o["id"] for o in sub["items"]]
    assert sub["total"] == 6
    assert names[0] == ids["region"]
    assert set(names) == {ids[k] for k in ("region", "territorial", "primary", "subdivision",
                                           "rights", "under_rights")}
    chain = [o["id"] for o in tree.ancestors(session, ids["subdivision"])]
    assert chain == [ids["central"], ids["region"], ids["territorial"], ids["primary"],
                     ids["subdivision"]]
    assert tree.subtree(session, ids["region"], level="primary")["total"] == 3


def test_subtree_pages_follow_tree_order(session, ids):
    whole = [o["id"] for o in tree.subtree(session, ids["central"])["items"]]
    pages = []
    for offset in range(0, len(whole), 4):
        page = tree.subtree(session, ids["central"], limit=4, offset=offset)
        assert page["total"] == len(whole)
        pages += [o["id"] for o in page["items"]]
    assert pages == whole
    # every organization comes before everything beneath it
    assert whole.index(ids["primary"]) < whole.index(ids["subdivision"])
    assert tree.subtree(session, ids["region"], level="primary", limit=1)["total"] == 3


def test_region_is_derived(session, ids):
    for key in ("territorial", "primary", "subdivision", "under_rights"):
        assert tree.fetch(session, ids[key])["region_id"] == ids["region"]
    assert tree.fetch(session, ids["central"])["region_id"] is None


def test_search_by_name_number_and_inn(session, ids):
    assert [o["id"] for o in tree.search(session, "Кунгурская")] == [ids["territorial"]]
    # every word, in any order and case
    assert [o["id"] for o in tree.search(session, "организация кунгурская")] == [
        ids["territorial"]]
    assert tree.search(session, "Кунгурская Свердловская") == []
    assert [o["id"] for o in tree.search(session, "59-П-2")] == [ids["rights"]]
    assert [o["id"] for o in tree.search(session, company_inn(11))] == [ids["primary"]]
    assert [o["id"] for o in tree.search(session, company_inn(1))] == [ids["region"]]
    assert tree.search(session, "ППО", within=[ids["region2"]]) == [
        o for o in tree.search(session, "ППО") if o["id"] == ids["primary2"]]


def test_search_reaches_words_of_the_legal_form(session, ids):
    """The name index leaves out «Первичная профсоюзная организация »; words within it are
    looked for in the whole name, the others through the index, and nothing is missed."""
    full = changes.create(session, ACTOR, org(
        "primary", "59-П-9", tree.LEGAL_FORM + "МБДОУ «Детский сад № 7»", ids["territorial"]))
    lower = changes.create(session, ACTOR, org(
        "primary", "59-П-8", "первичная профсоюзная организация лицея № 2", ids["territorial"]))
    session.commit()

    def found(query: str) -> list[int]:
        return sorted(o["id"] for o in tree.search(session, query))

    assert found("Первичная") == sorted([full["id"], lower["id"]])
    assert found("профсоюзная сад") == [full["id"]]  # one word of each kind
    assert found("рвичн") == sorted([full["id"], lower["id"]])  # a piece of the form
    assert found("лицея") == [lower["id"]]  # the form in lower case is not left out
    assert found("«Детский") == [full["id"]]
    assert found("организация") == sorted([full["id"], lower["id"], ids["region"],
                                           ids["region2"], ids["territorial"]])
    assert session.execute(text("SELECT registry.name_key(:n)"),
                           {"n": tree.LEGAL_FORM + "школы"}).scalar_one() == "школы"
    # the index answers a word outside the form (the planner told not to read the table)
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(session.execute(text(
        "EXPLAIN SELECT id FROM registry.organization o WHERE "
        + tree._name_has(0, "Детский")), {"w0": "%Детский%"}).scalars())
    assert "organization_name_key_trgm" in plan


def test_name_search_is_planned_for_its_words(session, ids):
    """psycopg prepares a statement run five times; PostgreSQL would then plan it once for any
    words (a generic plan: 100 ms a search in a national region instead of 8). Each search is
    planned for its own words, even where generic plans are the rule."""
    session.execute(text("SET plan_cache_mode = force_generic_plan"))
    for word in ["Кунгурская", "школы", "университета", "Пермская", "ППО", "СОШ", "краевая",
                 "Свердловская", "районная", "начальной"]:
        tree.search(session, word, within=[ids["region"]])
    custom, generic = session.execute(text(
        "SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0) "
        "FROM pg_prepared_statements WHERE statement LIKE '%similarity(o.name%'")).one()
    session.execute(text("RESET plan_cache_mode"))
    assert custom >= 5
    assert generic == 0


def test_counts_per_region_and_level(session, ids):
    counts = {(c["region_code"], c["level"]): c["count"] for c in tree.counts(session)}
    assert counts[("59", "primary")] == 3
    assert counts[("66", "primary")] == 1
    assert counts[(None, "central")] == 1


def test_duplicate_registry_number(session, ids):
    with pytest.raises(Conflict) as exc:
        changes.create(session, ACTOR, org("primary", "59-П-1", parent_id=ids["territorial"]))
    assert exc.value.code == "registry_number_taken"


def test_unknown_parent(session, ids):
    with pytest.raises(NotFound) as exc:
        changes.create(session, ACTOR, org("primary", "X-1", parent_id=999999))
    assert exc.value.code == "org_not_found"


def test_primary_under_primary_without_rights(session, ids):
    with pytest.raises(ValidationFailed) as exc:
        changes.create(session, ACTOR, org("primary", "X-2", parent_id=ids["primary"]))
    assert exc.value.code == "primary_without_rights"


def test_bad_inn_leaves_nothing(session, ids):
    before = tree.subtree(session, ids["central"])["total"]
    bad = company_inn(9)[:-1] + str((int(company_inn(9)[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as exc:
        changes.create(session, ACTOR, org("primary", "X-3", parent_id=ids["territorial"],
                                           legal_entity=True, inn=bad, ogrn="1025900000016"))
    fields = {d["field"]: d for d in exc.value.details}
    assert fields["inn"]["code"] == "inn_checksum"
    session.rollback()
    assert tree.subtree(session, ids["central"])["total"] == before


def test_second_central_refused(session, ids):
    with pytest.raises(Conflict) as exc:
        changes.create(session, ACTOR, org("central", "0001"))
    assert exc.value.code == "central_exists"


def test_update_keeps_history_and_as_of(session, ids):
    pid = ids["primary"]
    session.execute(text("UPDATE registry.organization_version SET valid_from = '2020-01-01' "
                         "WHERE org_id = :id"), {"id": pid})
    chair = {"surname": "Петрова", "first_name": "Анна", "patronymic": "Сергеевна",
             "elected_on": "2024-05-01", "term_until": "2029-05-01", "email_consent": True}
    changes.update(session, "chair-editor", pid, {"chair": chair, "name": "ППО СОШ № 1"})
    history = tree.history(session, pid)
    assert [h["change_kind"] for h in history] == ["updated", "created"]
    assert history[0]["changed_by"] == "chair-editor"
    assert set(history[0]["diff"]) >= {"chair", "name"}
    assert history[0]["diff"]["name"][0] == "ППО МБОУ «СОШ № 1» г. Кунгура"
    past = tree.passport_as_of(session, pid, date(2021, 1, 1))
    assert past["passport"]["name"] == "ППО МБОУ «СОШ № 1» г. Кунгура"
    assert past["passport"]["chair"] is None
    now = tree.passport_as_of(session, pid, date.today() + timedelta(days=1))
    assert now["passport"]["chair"]["surname"] == "Петрова"
    with pytest.raises(NotFound):
        tree.passport_as_of(session, pid, date(2019, 1, 1))


def test_unchanged_patch_writes_no_version(session, ids):
    changes.update(session, ACTOR, ids["primary"], {"name": "ППО МБОУ «СОШ № 1» г. Кунгура"})
    assert len(tree.history(session, ids["primary"])) == 1


def test_patch_cannot_change_level_or_parent(session, ids):
    with pytest.raises(ValidationFailed) as exc:
        changes.update(session, ACTOR, ids["primary"], {"level": "regional", "parent_id": 1})
    assert {d["field"] for d in exc.value.details} == {"level", "parent_id"}


def test_rights_cannot_be_removed_while_used(session, ids):
    with pytest.raises(ValidationFailed) as exc:
        changes.update(session, ACTOR, ids["rights"], {"territorial_rights": False})
    assert exc.value.code == "rights_in_use"


def test_move_subtree_to_another_region(session, ids):
    changes.move(session, ACTOR, ids["territorial"], ids["region2"])
    for key in ("territorial", "primary", "subdivision"):
        assert tree.fetch(session, ids[key])["region_id"] == ids["region2"]
    chain = [o["id"] for o in tree.ancestors(session, ids["subdivision"])]
    assert chain[:2] == [ids["central"], ids["region2"]]
    assert tree.history(session, ids["subdivision"])[0]["change_kind"] == "moved_with_parent"


def test_move_into_own_subtree_is_a_cycle(session, ids):
    with pytest.raises(ValidationFailed) as exc:
        changes.move(session, ACTOR, ids["region"], ids["primary"])
    assert exc.value.code == "tree_cycle"


def test_liquidation_refused_with_children_then_allowed(session, ids):
    with pytest.raises(Conflict) as exc:
        changes.exclude(session, ACTOR, ids["territorial"], date(2024, 1, 1), "liquidated")
    assert exc.value.code == "org_has_children"
    assert exc.value.details["children"][0]["id"] == ids["primary"]
    changes.exclude(session, ACTOR, ids["subdivision"], date.today(), "liquidated")
    assert ids["subdivision"] not in [o["id"] for o in tree.subtree(session, ids["region"])[
        "items"]]
    assert ids["subdivision"] in [o["id"] for o in tree.subtree(
        session, ids["region"], include_excluded=True)["items"]]
    with pytest.raises(Conflict) as exc:
        changes.update(session, ACTOR, ids["subdivision"], {"name": "Новая"})
    assert exc.value.code == "org_excluded"


def test_reorganization_moves_children(session, ids):
    other = changes.create(session, ACTOR, org("territorial", "59-Т-2", "Городская организация",
                                               ids["region"], kind="city"))["id"]
    changes.exclude(session, ACTOR, ids["territorial"], date.today(), "reorganized", other)
    assert tree.fetch(session, ids["primary"])["parent_id"] == other
    assert tree.fetch(session, ids["territorial"])["reorganized_into_id"] == other
    orphans = session.execute(text("""
        SELECT count(*) FROM registry.organization c JOIN registry.organization p
        ON p.id = c.parent_id WHERE c.excluded_on IS NULL AND p.excluded_on IS NOT NULL
    """)).scalar_one()
    assert orphans == 0
    events = session.execute(text("SELECT event_type FROM registry.outbox")).scalars().all()
    assert "org_excluded" in events and "org_moved" in events


def test_reorganization_into_wrong_level_changes_nothing(session, ids):
    with pytest.raises(ValidationFailed) as exc:
        # a territorial's primaries cannot go under a subdivision
        changes.exclude(session, ACTOR, ids["territorial"], date.today(), "reorganized",
                        ids["primary2"])
    assert exc.value.code in ("level_mismatch", "primary_without_rights")
    session.rollback()
    assert tree.fetch(session, ids["primary"])["parent_id"] == ids["territorial"]
    assert tree.fetch(session, ids["territorial"])["excluded_on"] is None


def test_exclusion_dates_checked(session, ids):
    with pytest.raises(ValidationFailed):
        changes.exclude(session, ACTOR, ids["subdivision"], date.today() + timedelta(days=3),
                        "liquidated")
    with pytest.raises(ValidationFailed):
        changes.exclude(session, ACTOR, ids["central"], date.today(), "liquidated")


def test_excluded_org_in_past_passport(session, ids):
    # as if it had been loaded with its inclusion date long ago
    session.execute(text("UPDATE registry.organization_version SET valid_from = '2015-09-01' "
                         "WHERE org_id = :id AND version = 1"), {"id": ids["subdivision"]})
    changes.exclude(session, ACTOR, ids["subdivision"], date.today() - timedelta(days=10),
                    "liquidated")
    past = tree.passport_as_of(session, ids["subdivision"], date.today() - timedelta(days=20))
    assert past["passport"]["excluded_on"] is None
    # the exclusion counts from its own date, though it was recorded later
    since = tree.passport_as_of(session, ids["subdivision"], date.today() - timedelta(days=9))
    assert since["passport"]["exclusion_reason"] == "liquidated"
