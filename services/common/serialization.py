"""The wire format of RPC and events: JSON written and read by orjson.

kombu's own JSON serializer escapes every Cyrillic letter to six bytes and is several times
slower; a region's subtree is a few hundred kilobytes of Russian names, so it matters.
"""

from datetime import date, datetime
from typing import Any

import orjson

CONTENT_TYPE = "application/x-orjson"

NAMEKO_SERIALIZERS = {
    "orjson": {
        "encoder": "services.common.serialization.dumps",
        "decoder": "services.common.serialization.loads",
        "content_type": CONTENT_TYPE,
        "content_encoding": "binary",
    }
}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A database row with its dates and moments as ISO text."""
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}
