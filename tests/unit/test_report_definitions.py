"""Report forms as data: versions by year, how each indicator is valued in each form, the checks,
and how a snapshot of the tree places each organization for consolidation."""

from datetime import date

import pytest

from services.common.errors import NotFound, ValidationFailed
from services.reports import definitions
from services.reports.snapshot import _placed


def test_definitions_are_versioned_by_year():
    assert definitions.family("stat", date(2025, 10, 1)).year == 2025
    assert definitions.family("stat", date(2026, 1, 1)).year == 2026
    old = definitions.family("stat", date(2025, 10, 1)).form("5-СП")
    new = definitions.family("stat", date(2026, 10, 1)).form("5-СП")
    assert old.indicator("03") is None and new.indicator("03").count == "youth"
    # campaign forms unchanged in 2026: the 2025 file is still in force
    assert definitions.family("kdk", date(2027, 1, 1)).year == 2025
    with pytest.raises(ValidationFailed):
        definitions.family("stat", date(2019, 1, 1))
    with pytest.raises(NotFound):
        definitions.family("nonsense", date(2026, 1, 1))


def test_modes_follow_the_levels():
    stat = definitions.family("stat", date(2026, 1, 1))
    modes = {i.code: i.mode for i in stat.form("5-СП").indicators}
    assert modes["01"] == "registry" and modes["20"] == "manual" and "21" not in modes
    modes = {i.code: i.mode for i in stat.form("2-СП").indicators}
    assert modes["01"] == modes["20"] == modes["21"] == "sum"
    assert modes["30"] == "tree" and modes["40"] == "manual"
    assert {i.code: i.mode for i in stat.form("1-СП").indicators}["40"] == "sum_manual"
    ov = definitions.family("ov", date(2026, 1, 1))
    assert {i.code: i.mode for i in ov.form("3-ОВ").indicators}["10"] == "sum_manual"
    assert {i.code: i.mode for i in ov.form("ОВ-ЦС").indicators}["10"] == "sum"


def test_form_chosen_by_the_kind_of_primary():
    stat = definitions.family("stat", date(2026, 1, 1))
    school = {"level": "primary", "education_type": "school", "territorial_rights": False}
    assert stat.form_for(school).code == "5-СП"
    assert stat.form_for({**school, "education_type": "college"}).code == "3-СП"
    assert stat.form_for({**school, "territorial_rights": True}).code == "4-СП"
    assert stat.form_for({**school, "level": "subdivision"}) is None
    assert definitions.family("pi", date(2026, 1, 1)).form_for(school) is None


def test_checks_between_indicators():
    form = definitions.family("stat", date(2026, 1, 1)).form("5-СП")
    good = {"01": 10, "02": 6, "03": 2, "04": 8, "05": 5, "06": 1, "07": 1, "08": 2, "09": 1,
            "10": 1, "11": 0, "12": 1, "13": 0, "20": 12}
    assert form.failed_checks(good) == []
    failed = form.failed_checks({**good, "20": 7, "02": 11})
    assert {f["rule"] for f in failed} == {"04 <= 20", "02 <= 01"}
    # a rule naming a value not given yet is not judged
    assert form.failed_checks({k: v for k, v in good.items() if k != "20"}) == []
    one = definitions.family("kdk", date(2026, 1, 1)).form("КДК-1")
    assert [f["rule"] for f in one.failed_checks({"01": 2})] == ["01 <= 1"]


def test_reporting_dates():
    stat = definitions.family("stat", date(2026, 1, 1))
    stat.check_date(date(2026, 7, 1))
    with pytest.raises(ValidationFailed) as err:
        stat.check_date(date(2026, 7, 2))
    assert err.value.code == "report_date_invalid"
    with pytest.raises(ValidationFailed):
        definitions.family("kdk", date(2026, 1, 1)).check_date(date(2026, 4, 1))


def test_snapshot_places_holders_and_consolidators():
    rows = [{"id": 1, "parent_id": None, "level": "central"},
            {"id": 2, "parent_id": 1, "level": "regional"},
            {"id": 7, "parent_id": 6, "level": "primary"},      # under a primary with rights
            {"id": 3, "parent_id": 2, "level": "territorial"},
            {"id": 4, "parent_id": 3, "level": "primary"},
            {"id": 5, "parent_id": 4, "level": "subdivision"},
            {"id": 6, "parent_id": 2, "level": "primary"}]
    placed = dict(zip([r["id"] for r in rows], _placed(rows), strict=True))
    assert placed[5] == ("1.2.3.4.5", 4, 3)     # a subdivision's members count in its primary
    assert placed[4] == ("1.2.3.4", 4, 3)
    assert placed[7] == ("1.2.6.7", 7, 2)        # consolidated by the region, not the primary
    assert placed[3] == ("1.2.3", 3, 2)
    assert placed[1] == ("1", 1, None)
