"""The database's roles: per service a schema owner used only by its migrations, and a runtime
login that owns nothing.

The runtime login reaches its own schema alone: USAGE on it, SELECT/INSERT/UPDATE/DELETE on its
tables, USAGE/SELECT on its sequences, EXECUTE on its functions (among them the SECURITY DEFINER
ones of `services.common.maintenance`, the only way it does what needs ownership), and on its
audit log INSERT and SELECT only. It cannot create anything anywhere (TEMP tables aside), disable
a trigger or read another service's tables. Default privileges give the tables, sequences and
functions of later migrations the same grants.

Roles are cluster-wide and privileges per database, so the names carry the database's name
(`reestr_membership`, `reestr_membership_owner` for the database `reestr`): databases sharing a
server (the tests', run at once) never share a role. `apply` makes everything so, idempotently;
the login it runs as owns the database and has CREATEROLE (it becomes a member of each owner, to
create the schema for it and run its migrations with SET ROLE).
"""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import Connection, text

# Services with a schema of their own (sso keeps nothing in PostgreSQL). A new service's schema
# is added here, and nowhere else.
SERVICES: tuple[str, ...] = ("registry", "membership", "cards", "reports", "notify",
                               "library", "events")
# Extensions the migrations use; made by the admin login here, since the owners may not create
# them (they would need CREATE on the database).
EXTENSIONS: tuple[str, ...] = ("ltree", "pg_trgm")
# Tables of any schema the runtime login only appends to and reads
APPEND_ONLY: tuple[str, ...] = ("audit_log",)
# Tables of any schema the runtime login never touches (what a SECURITY DEFINER function keeps)
OWNER_ONLY: tuple[str, ...] = ("index_set_aside",)
MAX_NAME = 63  # PostgreSQL cuts longer identifiers, and two databases' names would collide


@dataclass(frozen=True)
class ServiceRoles:
    service: str
    owner: str
    runtime: str


def roles(database: str, service: str) -> ServiceRoles:
    found = ServiceRoles(service, f"{database}_{service}_owner", f"{database}_{service}")
    if len(found.owner) > MAX_NAME:
        raise ValueError(f"database name {database!r} too long for the role {found.owner!r}")
    return found


def password_env(service: str, owner: bool = False) -> str:
    """PG_MEMBERSHIP_PASSWORD, PG_MEMBERSHIP_OWNER_PASSWORD: the deploy's secrets."""
    return f"PG_{service.upper()}{'_OWNER' if owner else ''}_PASSWORD"


def passwords_from_env(database: str, services: Iterable[str] = SERVICES) -> dict[str, str]:
    """{role: password} of the roles whose password variable is set."""
    found = {}
    for service in services:
        names = roles(database, service)
        for role, owner in ((names.runtime, False), (names.owner, True)):
            if password := os.environ.get(password_env(service, owner)):
                found[role] = password
    return found


def revoke_granted_sql(table: str, privileges: str = "ALL") -> str:
    """Take `privileges` on `table` from every role but its owner, whatever granted them (the
    default privileges of `apply` among them). Run by the owner in the migration that makes
    the table, so that no moment exists in which the runtime login holds them."""
    return f"""
    DO $revoke$ DECLARE grantee text; BEGIN
        FOR grantee IN SELECT DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                            ELSE a.grantee::regrole::text END
                       FROM pg_class c, aclexplode(c.relacl) a
                       WHERE c.oid = '{table}'::regclass AND a.grantee <> c.relowner LOOP
            EXECUTE format('REVOKE {privileges} ON {table} FROM %s', grantee);
        END LOOP;
    END $revoke$;
    """


def _role(conn: Connection, role: str, password: str | None) -> None:
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if not exists:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    # whatever someone set by hand: none of these is ever needed by a service's role (the
    # others only a superuser may change: refused here rather than kept)
    conn.execute(text(f'ALTER ROLE "{role}" NOCREATEDB NOCREATEROLE INHERIT'))
    if conn.execute(text("SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles "
                         "WHERE rolname = :r"), {"r": role}).scalar_one():
        raise RuntimeError(f"role {role} is a superuser or bypasses RLS or replicates: "
                           "take that from it first")
    if password is not None:
        # on the driver's cursor: a password is a literal psycopg quotes, never SQL text
        with conn.connection.driver_connection.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))


def _own_schema(conn: Connection, schema: str, owner: str) -> None:
    """The schema and what is in it belong to the owner (a database made before the roles has
    them owned by the admin login)."""
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION "{owner}"'))
    conn.execute(text(f'ALTER SCHEMA {schema} OWNER TO "{owner}"'))
    conn.execute(text(f"""
    DO $own$ DECLARE o record; BEGIN
        FOR o IN
            SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                  WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                  ELSE 'TABLE' END AS kind, c.oid::regclass::text AS name
            FROM pg_class c
            WHERE c.relnamespace = '{schema}'::regnamespace
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
              AND c.relowner <> '"{owner}"'::regrole
              -- a column's sequence follows its table
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                              AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                              AND d.refclassid = 'pg_class'::regclass)
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                   p.oid::regprocedure::text
            FROM pg_proc p
            WHERE p.pronamespace = '{schema}'::regnamespace AND p.proowner <> '"{owner}"'::regrole
            UNION ALL
            SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text
            FROM pg_type t
            WHERE t.typnamespace = '{schema}'::regnamespace AND t.typowner <> '"{owner}"'::regrole
              AND (t.typtype IN ('e', 'd', 'r')
                   OR t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid
                                                  AND r.relkind = 'c'))
        LOOP
            EXECUTE format('ALTER %s %s OWNER TO %I', o.kind, o.name, '{owner}');
        END LOOP;
    END $own$;
    """))


def _grants(conn: Connection, schema: str, names: ServiceRoles) -> None:
    owner, runtime = f'"{names.owner}"', f'"{names.runtime}"'
    for statement in (
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {schema} TO {runtime}",
        # what the owner's migrations make from now on
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT EXECUTE ON FUNCTIONS TO {runtime}",
        # only for the whole database does this take PUBLIC's EXECUTE off new functions
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
        # what is there already
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {runtime}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {runtime}",
        f"REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} FROM PUBLIC",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {runtime}",
    ):
        conn.execute(text(statement))
    tables = conn.execute(text("""
        SELECT c.oid::regclass::text, c.relname FROM pg_class c
        WHERE c.relnamespace = CAST(:schema AS regnamespace) AND c.relkind = 'r'
          AND c.relname = ANY(:names)
    """), {"schema": schema, "names": [*APPEND_ONLY, *OWNER_ONLY]}).all()
    for table, name in tables:
        conn.execute(text(revoke_granted_sql(
            table, "UPDATE, DELETE, TRUNCATE" if name in APPEND_ONLY else "ALL")))


def apply(conn: Connection, services: Iterable[str] = SERVICES,
          passwords: Mapping[str, str] | None = None) -> list[ServiceRoles]:
    """Make the roles of `services` in the connection's database, their schemas and grants as
    described above; set the passwords given ({role: password}; a role without one keeps its
    own, or cannot log in if new). Idempotent: run before the migrations and after them. Run
    inside one transaction, so that nobody sees a grant before its revoke."""
    passwords = passwords or {}
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    admin = conn.execute(text("SELECT current_user")).scalar_one()
    made = []
    for extension in EXTENSIONS:
        conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{extension}" SCHEMA public'))
    # nothing but the service roles (and the admin, who owns the database) connects; nobody
    # creates in public
    conn.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC'))
    conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    for service in services:
        names = roles(database, service)
        _role(conn, names.owner, passwords.get(names.owner))
        _role(conn, names.runtime, passwords.get(names.runtime))
        conn.execute(text(f'GRANT "{names.owner}" TO "{admin}"'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{names.owner}"'))
        conn.execute(text(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" '
                          f'TO "{names.runtime}"'))
        _own_schema(conn, service, names.owner)
        _grants(conn, service, names)
        made.append(names)
    return made
