"""A bulk load in a process of its own: `python -m services.registry.load_worker`.

The service hands big loads to this process rather than running them on its eventlet hub: many
seconds of pure Python there would stall every other call the service is answering, and here
psycopg's COPY runs with its C wait function and a real writer thread. Input: the options as JSON
in argv[1], the file at the path they name.
Output: the report as JSON on stdout, or a domain error as {"error": …} with exit code 3.
"""

import sys

import orjson
from nameko.exceptions import serialize
from sqlalchemy.orm import Session

from services.common.db import make_engine
from services.common.errors import DomainError
from services.registry import bulk_load

DOMAIN_ERROR_EXIT = 3


def main() -> int:
    options = orjson.loads(sys.argv[1])
    with open(options["path"], "rb") as upload:
        content = upload.read()
    engine = make_engine(pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            report = bulk_load.load(session, options["actor"], content, options["filename"],
                                    options["load_good_rows"])
    except DomainError as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": serialize(exc)}))
        return DOMAIN_ERROR_EXIT
    finally:
        engine.dispose()
    sys.stdout.buffer.write(orjson.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
