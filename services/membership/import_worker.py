"""A members import in a process of its own (see services.common.load_worker)."""

import sys
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.common.db import make_engine
from services.common.load_worker import serve
from services.membership import bulk_import


def load(session: Session, content: bytes, options: dict[str, Any]) -> dict[str, Any]:
    progress_engine = make_engine(pool_size=1, service="membership")
    try:
        return bulk_import.load(
            session, options["actor"], content, options["filename"], options.get("org_id"),
            options.get("scope"), options["load_good_rows"],
            date.fromisoformat(options["today"]) if options.get("today") else None,
            progress_engine=progress_engine, paper_consent=options.get("paper_consent", False),
            mapping=options.get("mapping"), check_only=options.get("check_only", False))
    finally:
        progress_engine.dispose()


if __name__ == "__main__":
    sys.exit(serve(load, "membership"))
