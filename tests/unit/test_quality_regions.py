"""Faults are read by the regions the caller's subtrees lie in."""

from services.reports.quality import _regions


def test_regions_of_subtrees():
    assert _regions(None) is None
    assert _regions(["1"]) is None                     # the Central Council's: all
    assert _regions(["1.63"]) == [63]
    assert _regions(["1.63.700.7001", "1.12", "1.63.701"]) == [12, 63]
    assert _regions(["1.63", "1"]) is None
