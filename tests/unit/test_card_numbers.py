"""Card numbers and the vendor's response files: pure rules, no servers."""

import hashlib
from datetime import date

import pytest

from services.cards import numbers, vendor_files


def test_a_number_has_prefix_region_sequence_and_luhn_digit():
    number = numbers.compose("77", numbers.region_code("59-П-00012"), 12345)
    assert len(number) == 16 and number.startswith("7759") and number[4:15] == "00000012345"
    assert numbers.is_valid(number)


def test_the_check_digit_catches_a_typo_and_a_swap():
    number = numbers.compose("77", "59", 9876543)
    typo = number[:7] + str((int(number[7]) + 1) % 10) + number[8:]
    i = next(i for i in range(15) if number[i] != number[i + 1])
    swap = number[:i] + number[i + 1] + number[i] + number[i + 2:]
    assert not numbers.is_valid(typo) and not numbers.is_valid(swap)


def test_a_sequence_too_long_for_its_digits_is_refused():
    with pytest.raises(ValueError):
        numbers.compose("77", "59", 10 ** numbers.SEQUENCE_DIGITS)


def _response(rows, *, rows_in_manifest=None, body=None):
    body = body if body is not None else vendor_files.write_response(rows)
    manifest = vendor_files.response_manifest(7, "r.csv", vendor_files.write_response(rows),
                                              len(rows) if rows_in_manifest is None
                                              else rows_in_manifest)
    return body, manifest


GOOD = [(numbers.compose("77", "59", 1), "produced", None, date(2026, 11, 1)),
        (numbers.compose("77", "59", 2), "rejected", "Брак", date(2026, 11, 1))]


def test_a_good_response_reads_back():
    response = vendor_files.read_response(*_response(GOOD))
    assert response.batch_id == 7 and response.rows == GOOD


@pytest.mark.parametrize("broken, says", [
    (lambda b: b[: len(b) // 2], "контрольная сумма"),  # truncated
    (lambda b: b.replace(b"produced", b"producex"), "контрольная сумма"),  # altered
])
def test_a_truncated_or_altered_file_is_refused(broken, says):
    body, manifest = _response(GOOD)
    with pytest.raises(vendor_files.BadResponse, match=says):
        vendor_files.read_response(broken(body), manifest)


@pytest.mark.parametrize("row, says", [
    (("1234567812345678", "produced", "", "2026-11-01"), "неверный номер"),
    ((GOOD[0][0], "lost", "", "2026-11-01"), "неизвестный статус"),
    ((GOOD[0][0], "rejected", "", "2026-11-01"), "нет причины"),
    ((GOOD[0][0], "produced", "", "31.02.2026"), "неверная дата"),
])
def test_a_malformed_line_refuses_the_whole_file(row, says):
    body = ("card_number;status;reason;on\n" + ";".join(row) + "\n").encode()
    manifest = vendor_files.response_manifest(7, "r.csv", body, 1)
    with pytest.raises(vendor_files.BadResponse, match=says):
        vendor_files.read_response(body, manifest)


def test_rows_must_match_the_manifest():
    body = vendor_files.write_response(GOOD)
    manifest = vendor_files.response_manifest(7, "r.csv", body, 3)
    with pytest.raises(vendor_files.BadResponse, match="в манифесте 3"):
        vendor_files.read_response(body, manifest)
    with pytest.raises(vendor_files.BadResponse, match="манифест"):
        vendor_files.read_response(body, b"{not json")
    assert hashlib.sha256(body).hexdigest() in manifest.decode()
