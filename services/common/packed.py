"""Large RPC answers as gzipped, base64-encoded JSON columns.

A national answer (75,000 organizations, their counts) is tens of MB as rows of JSON objects;
columns repeat no keys, and gzip takes most of the rest, so the broker carries a few MB.
"""

import base64
import gzip
from collections.abc import Sequence
from typing import Any

from services.common import serialization


def pack_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    return base64.b64encode(gzip.compress(serialization.dumps(data), compresslevel=1,
                                          mtime=0)).decode()


def unpack_columns(payload: str) -> dict[str, list[Any]]:
    return serialization.loads(gzip.decompress(base64.b64decode(payload)))
