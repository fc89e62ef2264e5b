"""A bulk load of organizations in a process of its own (see services.common.load_worker)."""

import sys
from typing import Any

from sqlalchemy.orm import Session

from services.common.load_worker import serve
from services.registry import bulk_load


def load(session: Session, content: bytes, options: dict[str, Any]) -> dict[str, Any]:
    return bulk_load.load(session, options["actor"], content, options["filename"],
                          options["load_good_rows"], options.get("scope_roots"))


if __name__ == "__main__":
    sys.exit(serve(load, "registry"))
