import pytest

from services.registry.file_format import Level
from services.registry.hierarchy import (
    HierarchyError,
    Placement,
    check_kind,
    check_placement,
    check_rights_change,
    find_cycle,
)

C, R, T, P, S = (Level.CENTRAL, Level.REGIONAL, Level.TERRITORIAL, Level.PRIMARY,
                 Level.SUBDIVISION)

ALLOWED = {
    (R, C), (T, R), (P, R), (P, T), (S, P),
}


@pytest.mark.parametrize("child", list(Level))
@pytest.mark.parametrize("parent", list(Level))
def test_every_pair_of_levels(child, parent):
    if (child, parent) in ALLOWED:
        check_placement(child, Placement(parent))
    else:
        with pytest.raises(HierarchyError):
            check_placement(child, Placement(parent))


def test_primary_under_primary_needs_territorial_rights():
    check_placement(P, Placement(P, territorial_rights=True))
    with pytest.raises(HierarchyError) as exc:
        check_placement(P, Placement(P, territorial_rights=False))
    assert exc.value.code == "primary_without_rights"
    assert "права ТПО" in exc.value.message


def test_only_central_has_no_parent():
    check_placement(C, None)
    for level in (R, T, P, S):
        with pytest.raises(HierarchyError) as exc:
            check_placement(level, None)
        assert exc.value.code == "parent_required"


def test_excluded_parent_refused():
    with pytest.raises(HierarchyError) as exc:
        check_placement(T, Placement(R, excluded=True))
    assert exc.value.code == "parent_excluded"


def test_kinds():
    assert check_kind(R, None) == "regional"
    assert check_kind(R, "okrug") == "okrug"
    assert check_kind(P, None) is None
    with pytest.raises(HierarchyError):
        check_kind(R, "union_group")
    with pytest.raises(HierarchyError):
        check_kind(P, "district")


def test_rights_change():
    check_rights_change(P, False, has_primary_children=False)
    with pytest.raises(HierarchyError) as exc:
        check_rights_change(P, False, has_primary_children=True)
    assert exc.value.code == "rights_in_use"
    with pytest.raises(HierarchyError):
        check_rights_change(T, True, has_primary_children=False)
    # a territorial organization has primaries beneath it without any rights
    check_rights_change(T, False, has_primary_children=True)
    check_rights_change(R, False, has_primary_children=True)


def test_find_cycle():
    assert find_cycle({"a": None, "b": "a", "c": "b"}) is None
    assert find_cycle({"a": "x", "b": "a"}) is None  # x is outside the file
    cycle = find_cycle({"a": "c", "b": "a", "c": "b", "d": None})
    assert sorted(cycle) == ["a", "b", "c"]
    assert find_cycle({"a": "a"}) == ["a"]
