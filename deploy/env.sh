#!/usr/bin/env bash
# The local deploy's environment (addresses, the generated secrets) for a command of the
# harness: tests, benchmarks, the operator's command line.
#
#   bash deploy/env.sh .venv/bin/python -m pytest tests/api -q    run a command in it
#   eval "$(bash deploy/env.sh)"                                    export it into a shell
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REESTR_ROOT"
export PG_USER PG_PASSWORD RABBIT_USER RABBIT_PASSWORD
if (($#)); then
    exec "$@"
fi
for v in DATABASE_URL AMQP_URI TEST_AMQP_URI HARNESS_AMQP_BASE RABBIT_MGMT_URL RABBIT_ADMIN_USER \
    RABBIT_ADMIN_PASSWORD PG_USER PG_PASSWORD RABBIT_USER RABBIT_PASSWORD TRUST_KEYS_DIR \
    PORTAL_SECRET PORTAL_CSRF_SECRET MAILING_SECRET KEYCLOAK_URL KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD \
    S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY PSYCOPG_WAIT_FUNC WEB_SERVER_ADDRESS DEMO_PASSWORD \
    PGBACKREST_CONFIG PGBACKREST_STANZA PG_VERSION; do
    printf 'export %s=%q\n' "$v" "${!v}"
done
for p in $BUS_PRINCIPALS; do v="RABBIT_PASSWORD_${p^^}"; printf 'export %s=%q\n' "$v" "${!v}"; done
