"""The files exchanged with the card vendor through the bucket (the format is in README.md).

    outbound/<batch>/cards.csv              our batch: one card per line
    outbound/<batch>/manifest.json          written last: the batch is complete
    inbound/<batch>/<name>.csv              the vendor's response for that batch
    inbound/<batch>/<name>.manifest.json    written after it: rows and SHA-256 of the response

A response is read whole and checked before anything is applied: its manifest must name the
batch, its size in rows and its SHA-256 must match, every line must be well formed and name a
card of the batch. Anything else refuses the whole file, which changes no card.
"""

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.cards import numbers

FORMAT = "reestr-cards/1"
BATCH_COLUMNS = ("card_number", "holder", "org_registry_number", "org_name")
RESPONSE_COLUMNS = ("card_number", "status", "reason", "on")
RESPONSE_STATUSES = ("produced", "rejected", "delivered")


def batch_prefix(batch_id: int, region_code: str) -> str:
    return f"batch-{batch_id:08d}-{region_code}"


def outbound(prefix: str, name: str) -> str:
    return f"outbound/{prefix}/{name}"


def inbound(prefix: str, name: str) -> str:
    return f"inbound/{prefix}/{name}"


def manifest(batch_id: int, region_code: str, name: str, body: bytes, rows: int) -> bytes:
    return json.dumps({
        "format": FORMAT, "batch": batch_id, "region_code": region_code,
        "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": [{"name": name, "rows": rows, "sha256": hashlib.sha256(body).hexdigest()}],
    }, ensure_ascii=False, indent=1).encode()


class BadResponse(Exception):
    """A response file that cannot be applied; the message says why, in Russian."""


@dataclass
class Response:
    batch_id: int
    rows: list[tuple[str, str, str | None, date]]  # (card number, status, reason, on)


def _day(value: str) -> date:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    raise ValueError(value)


def read_response(body: bytes, manifest_body: bytes) -> Response:
    """The response file checked against its manifest, or BadResponse."""
    try:
        meta: dict[str, Any] = json.loads(manifest_body)
        batch_id = int(meta["batch"])
        (entry,) = meta["files"]
        rows_expected, sha = int(entry["rows"]), str(entry["sha256"])
    except (ValueError, KeyError, TypeError):
        raise BadResponse("манифест ответа повреждён или неполон") from None
    if hashlib.sha256(body).hexdigest() != sha:
        raise BadResponse("контрольная сумма файла не совпадает с манифестом "
                          "(файл обрезан или изменён)")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadResponse("файл не в кодировке UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != RESPONSE_COLUMNS:
        raise BadResponse("заголовок должен быть: " + ";".join(RESPONSE_COLUMNS))
    rows = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(RESPONSE_COLUMNS):
            raise BadResponse(f"строка {line}: ожидается {len(RESPONSE_COLUMNS)} поля")
        number, status, reason, on = (v.strip() for v in values)
        if not numbers.is_valid(number):
            raise BadResponse(f"строка {line}: неверный номер карты «{number[:20]}»")
        if status not in RESPONSE_STATUSES:
            raise BadResponse(f"строка {line}: неизвестный статус «{status[:20]}»")
        if status == "rejected" and not reason:
            raise BadResponse(f"строка {line}: у отказа нет причины")
        try:
            day = _day(on)
        except ValueError:
            raise BadResponse(f"строка {line}: неверная дата «{on[:20]}»") from None
        rows.append((number, status, reason or None, day))
    if len(rows) != rows_expected:
        raise BadResponse(f"в файле {len(rows)} строк, в манифесте {rows_expected}")
    return Response(batch_id=batch_id, rows=rows)


def write_response(rows: list[tuple[str, str, str | None, date]]) -> bytes:
    """A response file as the vendor writes it (the simulated vendor, tests)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(RESPONSE_COLUMNS)
    writer.writerows((n, s, r or "", on.isoformat()) for n, s, r, on in rows)
    return out.getvalue().encode()


def response_manifest(batch_id: int, name: str, body: bytes, rows: int) -> bytes:
    return json.dumps({"format": FORMAT, "batch": batch_id, "files": [
        {"name": name, "rows": rows, "sha256": hashlib.sha256(body).hexdigest()}]}).encode()
