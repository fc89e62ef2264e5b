#!/usr/bin/env bash
# Bring the whole registry up on one Debian 12 host (developer machine, CI,
# a single-server install). Idempotent: installs what is missing, starts what
# is not running, waits until each part answers. A second run is a no-op.
#
#   deploy/up.sh                 infra + migrate + start services
#   deploy/up.sh --infra-only    PostgreSQL, RabbitMQ, .venv only (tests)
#   deploy/up.sh --demo N        like the default, then load demo data (N orgs)
#
# Configuration: environment variables, see deploy/lib.sh and deploy/README.md.
set -euo pipefail

# Services: NAME=module:Class. One line per service; started in this order.
SERVICES=(
    "registry=services.registry.service:RegistryService"
    "gateway=gateway.service:GatewayService"
)

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REESTR_ROOT"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

INFRA_ONLY=0
DEMO_ORGS=""
while (($#)); do
    case "$1" in
        --infra-only) INFRA_ONLY=1 ;;
        --demo)
            [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--demo needs a number of organizations"
            DEMO_ORGS="$2"
            shift
            ;;
        --demo=*)
            DEMO_ORGS="${1#--demo=}"
            [[ "$DEMO_ORGS" =~ ^[0-9]+$ ]] || die "--demo needs a number of organizations"
            ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
((INFRA_ONLY)) && [[ -n "$DEMO_ORGS" ]] && die "--demo and --infra-only exclude each other"

T0=$SECONDS
mkdir -p "$RUN_DIR" "$LOG_DIR"

MANAGE_PG=0 MANAGE_RABBIT=0
is_local_host "$PG_HOST" && MANAGE_PG=1
is_local_host "$RABBIT_HOST" && MANAGE_RABBIT=1

need_root() {
    [[ $EUID -eq 0 ]] && return 0
    die "deploy/up.sh must run as root: it installs Debian packages and manages the local
       PostgreSQL and RabbitMQ servers (needed: $*). Run it as root, e.g. 'sudo -E bash deploy/up.sh',
       or point PG_HOST/RABBIT_HOST at servers that are already provisioned."
}

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
ensure_packages() {
    local pkgs=()
    if ((MANAGE_PG)); then
        # (pg_ctlcluster lives in postgresql-common, which can outlive the server)
        if ! have pg_ctlcluster || [[ ! -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]]; then
            pkgs+=(postgresql postgresql-contrib)
        fi
    else
        have pg_isready || pkgs+=(postgresql-client)
    fi
    ((MANAGE_RABBIT)) && ! have rabbitmq-server && pkgs+=(rabbitmq-server)
    have curl || pkgs+=(curl)
    ((${#pkgs[@]})) || return 0

    need_root "apt-get install ${pkgs[*]}"
    log "installing Debian packages: ${pkgs[*]}"
    local t=$SECONDS
    # a locale for pg_createcluster in the package's postinst: UTF8 cluster
    export LANG="${LANG:-C.UTF-8}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    log "packages installed in $((SECONDS - t))s"
}

# ---------------------------------------------------------------------------
# 2. PostgreSQL
# ---------------------------------------------------------------------------
pg_su() { # psql as the postgres superuser over the local socket
    (cd / && runuser -u postgres -- env PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@")
}

pg_tcp_ok() { # can the app role log in with its password over TCP?
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" \
        -U "$PG_USER" -d "$PG_DB" -c 'select 1' >/dev/null 2>&1
}

pg_restart() {
    log "restarting PostgreSQL $PG_VERSION/$PG_CLUSTER to apply settings"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    wait_until "$WAIT_TIMEOUT" "PostgreSQL" pg_isready -q -h "$PG_HOST" -p "$PG_PORT" ||
        die "PostgreSQL did not come back; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
}

ensure_postgres() {
    if ((!MANAGE_PG)); then
        log "PostgreSQL at $PG_HOST:$PG_PORT is external: only waiting for it"
        wait_until "$WAIT_TIMEOUT" "PostgreSQL at $PG_HOST:$PG_PORT" \
            pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || exit 1
        return 0
    fi
    local status
    status="$(pg_cluster_status)"
    if [[ -z "$status" ]]; then
        need_root "pg_createcluster"
        log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
        pg_createcluster --locale C.UTF-8 -p "$PG_PORT" "$PG_VERSION" "$PG_CLUSTER"
        status=down
    fi
    if [[ "$status" != online* ]]; then
        need_root "pg_ctlcluster start"
        log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
        install -d -o postgres -g postgres -m 2775 /var/run/postgresql
        # retried: right after a crash the old postmaster may not be reaped yet,
        # and its socket lock file still names a live pid
        local try
        for try in 1 2 3 4 5; do
            pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start && break
            ((try < 5)) || die "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed"
            warn "pg_ctlcluster start failed, retrying in 3s ($try/5)"
            sleep 3
        done
    fi
    wait_until "$WAIT_TIMEOUT" "PostgreSQL on port $PG_PORT" pg_isready -q -h "$PG_HOST" -p "$PG_PORT" ||
        die "PostgreSQL is not answering; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"

    need_root "PostgreSQL superuser setup"
    local enc
    enc="$(pg_su -At -d template1 -c "select pg_encoding_to_char(encoding) from pg_database where datname = 'template1'")"
    [[ "$enc" == UTF8 ]] || die "template1 has encoding $enc; recreate the cluster with a UTF-8 locale (LANG=C.UTF-8 pg_createcluster ...)"

    # role, extensions in template1 (inherited by test databases), database
    local ext_sql="" e
    for e in $PG_EXTENSIONS; do ext_sql+="CREATE EXTENSION IF NOT EXISTS \"$e\";"$'\n'; done
    pg_su -d postgres -v role="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" <<SQL
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS need_role \gset
\if :need_role
  \echo '==> creating role' :role
  CREATE ROLE :"role" LOGIN CREATEDB PASSWORD :'pw';
\else
  SELECT NOT (rolcanlogin AND rolcreatedb) AS fix_role FROM pg_roles WHERE rolname = :'role' \gset
  \if :fix_role
    ALTER ROLE :"role" LOGIN CREATEDB;
  \endif
\endif
\connect template1
$ext_sql
\connect postgres
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
  \echo '==> creating database' :db
  CREATE DATABASE :"db" OWNER :"role";
\endif
\connect :"db"
$ext_sql
SQL

    # password auth over TCP (Debian's pg_hba has scram-sha-256 for 127.0.0.1)
    if ! pg_tcp_ok; then
        log "setting the password of role $PG_USER"
        pg_su -d postgres -v role="$PG_USER" -v pw="$PG_PASSWORD" <<<"ALTER ROLE :\"role\" PASSWORD :'pw';"
        if ! pg_tcp_ok; then
            local hba
            hba="$(pg_su -At -d postgres -c 'show hba_file')"
            if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' "$hba"; then
                log "adding a scram-sha-256 line for 127.0.0.1 to $hba"
                printf 'host    all    all    127.0.0.1/32    scram-sha-256\n' >>"$hba"
                pg_su -d postgres -c 'select pg_reload_conf()' >/dev/null
                sleep 1
            fi
            pg_tcp_ok || die "cannot log in as $PG_USER@$PG_HOST:$PG_PORT/$PG_DB with the password; check $hba"
        fi
    fi

    # light tuning for bulk loads; compare with what ALTER SYSTEM wrote before
    [[ -n "$PG_TUNING" ]] || return 0
    local current restart=0 reload=0 kv name val ctx
    current="$(pg_su -At -d postgres -c "select name || '=' || setting from pg_file_settings
        where sourcefile = current_setting('data_directory') || '/postgresql.auto.conf'")"
    for kv in $PG_TUNING; do
        name="${kv%%=*}" val="${kv#*=}"
        grep -qxF -- "$name=$val" <<<"$current" && continue
        log "ALTER SYSTEM SET $name = '$val'"
        ctx="$(pg_su -At -d postgres -v name="$name" -v val="$val" <<'SQL'
ALTER SYSTEM SET :"name" = :'val';
SELECT context FROM pg_settings WHERE name = :'name';
SQL
        )"
        if [[ "$ctx" == postmaster ]]; then restart=1; else reload=1; fi
    done
    [[ "$(pg_su -At -d postgres -c 'select bool_or(pending_restart) from pg_settings')" == t ]] && restart=1
    if ((restart)); then
        pg_restart
    elif ((reload)); then
        pg_su -d postgres -c 'select pg_reload_conf()' >/dev/null
    fi
}

# ---------------------------------------------------------------------------
# 3. RabbitMQ
# ---------------------------------------------------------------------------
rabbit_api() { # GET a management API path as the app user
    curl -fsS --max-time 5 -u "$RABBIT_USER:$RABBIT_PASSWORD" \
        "http://$RABBIT_HOST:$RABBIT_MGMT_PORT/api/$1"
}

rabbit_provisioned() { # user, tag and permissions on every vhost, via the API
    rabbit_api whoami 2>/dev/null | grep -q administrator || return 1
    local vh
    for vh in $RABBIT_VHOSTS; do
        rabbit_api "permissions/$(urlencode "$vh")/$(urlencode "$RABBIT_USER")" 2>/dev/null |
            grep -qF '"configure":".*"' || return 1
    done
}

ensure_rabbitmq() {
    if ((!MANAGE_RABBIT)); then
        log "RabbitMQ at $RABBIT_HOST is external: only waiting for its management API"
        wait_until "$WAIT_TIMEOUT" "RabbitMQ management API" rabbit_api overview || exit 1
        return 0
    fi
    need_root "RabbitMQ management"
    if ! rabbit_running; then
        log "starting RabbitMQ"
        # No systemd here: the sysv init script works (start-stop-daemon
        # --chuid rabbitmq --background, pid file /run/rabbitmq/pid).
        if [[ -x /etc/init.d/rabbitmq-server ]]; then
            /etc/init.d/rabbitmq-server start || warn "init script failed, trying rabbitmq-server -detached"
        fi
        # fallback: Debian's wrapper su's to the rabbitmq user by itself
        rabbit_running || rabbitmq-server -detached
    fi
    rabbitmqctl -q await_startup --timeout "$WAIT_TIMEOUT" ||
        die "RabbitMQ did not start; see /var/log/rabbitmq/"

    if ! grep -qs rabbitmq_management /etc/rabbitmq/enabled_plugins; then
        log "enabling rabbitmq_management"
        rabbitmq-plugins -q enable rabbitmq_management >/dev/null
    fi
    wait_until "$WAIT_TIMEOUT" "RabbitMQ management on :$RABBIT_MGMT_PORT" \
        curl -s -o /dev/null --max-time 2 "http://$RABBIT_HOST:$RABBIT_MGMT_PORT/" ||
        die "the RabbitMQ management plugin is not listening on :$RABBIT_MGMT_PORT"

    if ! rabbit_provisioned; then
        log "provisioning RabbitMQ user $RABBIT_USER and vhosts: $RABBIT_VHOSTS"
        if rabbitmqctl -q list_users --no-table-headers | awk '{print $1}' | grep -qxF -- "$RABBIT_USER"; then
            rabbitmqctl -q change_password "$RABBIT_USER" "$RABBIT_PASSWORD"
        else
            rabbitmqctl -q add_user "$RABBIT_USER" "$RABBIT_PASSWORD"
        fi
        rabbitmqctl -q set_user_tags "$RABBIT_USER" administrator
        local vhosts vh
        vhosts="$(rabbitmqctl -q list_vhosts --no-table-headers)"
        for vh in $RABBIT_VHOSTS; do
            grep -qxF -- "$vh" <<<"$vhosts" || rabbitmqctl -q add_vhost "$vh"
            rabbitmqctl -q set_permissions -p "$vh" "$RABBIT_USER" ".*" ".*" ".*"
        done
    fi
    wait_until "$WAIT_TIMEOUT" "RabbitMQ management API" rabbit_api overview ||
        die "curl -u $RABBIT_USER:*** http://$RABBIT_HOST:$RABBIT_MGMT_PORT/api/overview does not answer"
    rabbit_provisioned || die "RabbitMQ user $RABBIT_USER lacks the administrator tag or permissions"
}

# ---------------------------------------------------------------------------
# 4. Python virtualenv
# ---------------------------------------------------------------------------
ensure_venv() {
    local py="$PYTHON"
    if ! have "$py"; then
        if have python3 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            py=python3
        else
            die "Python 3.11 not found (set PYTHON=/path/to/python3.11)"
        fi
    fi
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        log "creating $VENV with $py"
        rm -rf "$VENV"
        rm -f "$VAR_DIR"/.deps-*
        "$py" -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    fi
    local stamp
    stamp="$VAR_DIR/.deps-$(sha1sum pyproject.toml | cut -d' ' -f1)"
    if [[ ! -e "$stamp" ]]; then
        log "pip install -e '.[dev]'"
        local t=$SECONDS
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        rm -f "$VAR_DIR"/.deps-*
        touch "$stamp"
        log "Python dependencies installed in $((SECONDS - t))s"
    fi
}

# ---------------------------------------------------------------------------
# 6.-8. migrate, services, demo
# ---------------------------------------------------------------------------
migrate() {
    [[ -x "$VENV/bin/reestr" ]] || die "$VENV/bin/reestr is missing (pip install -e . failed?)"
    log "reestr migrate"
    "$VENV/bin/reestr" migrate
}

show_logs() {
    local entry name
    for entry in "${SERVICES[@]}"; do
        name="${entry%%=*}"
        [[ -f "$LOG_DIR/$name.log" ]] || continue
        echo "----- tail $LOG_DIR/$name.log -----" >&2
        tail -n 40 "$LOG_DIR/$name.log" >&2
    done
}

start_services() {
    local entry name target pid
    for entry in "${SERVICES[@]}"; do
        name="${entry%%=*}" target="${entry#*=}"
        if pid="$(service_pid "$name")"; then
            log "$name already running (pid $pid)"
            continue
        fi
        if [[ "$name" == gateway ]] &&
            curl -s -o /dev/null --max-time 2 "http://$GATEWAY_HOST:$GATEWAY_PORT/"; then
            die "port $GATEWAY_HOST:$GATEWAY_PORT is taken by a process up.sh did not start
       (a gateway from another checkout?); stop it or set GATEWAY_PORT"
        fi
        printf '\n===== %s starting %s =====\n' "$(date '+%F %T')" "$target" >>"$LOG_DIR/$name.log"
        # setsid: own session, so the service outlives this shell and its job
        setsid "$VENV/bin/nameko" run --config "$NAMEKO_CONFIG" "$target" \
            >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
        echo $! >"$RUN_DIR/$name.pid"
        log "started $name (pid $!), log $LOG_DIR/$name.log"
    done
}

healthy() {
    curl -fsS --max-time 2 -o /dev/null "http://$GATEWAY_HOST:$GATEWAY_PORT/healthz"
}

wait_healthy() {
    local start=$SECONDS entry name
    until healthy 2>/dev/null; do
        for entry in "${SERVICES[@]}"; do
            name="${entry%%=*}"
            if ! service_pid "$name" >/dev/null; then
                show_logs
                die "service $name exited; see $LOG_DIR/$name.log"
            fi
        done
        if ((SECONDS - start >= HEALTH_TIMEOUT)); then
            show_logs
            die "http://$GATEWAY_HOST:$GATEWAY_PORT/healthz did not answer within ${HEALTH_TIMEOUT}s"
        fi
        sleep 1
    done
}

summary() {
    echo
    log "ready in $((SECONDS - T0))s"
    echo "  PostgreSQL   postgresql://$PG_USER:***@$PG_HOST:$PG_PORT/$PG_DB"
    echo "  RabbitMQ     amqp://$RABBIT_HOST:$RABBIT_PORT  vhosts: $RABBIT_VHOSTS"
    echo "  management   http://$RABBIT_HOST:$RABBIT_MGMT_PORT  ($RABBIT_USER/***)"
    echo "  Python       $VENV"
    if ((!INFRA_ONLY)); then
        echo "  gateway      http://$GATEWAY_HOST:$GATEWAY_PORT/api/v1/"
        echo "  OpenAPI      http://$GATEWAY_HOST:$GATEWAY_PORT/api/v1/openapi.json"
        echo "  logs         $LOG_DIR/NAME.log for: ${SERVICES[*]%%=*}"
        echo "  stop         bash deploy/down.sh   (--all also stops PostgreSQL and RabbitMQ)"
    fi
}

ensure_packages
ensure_postgres
ensure_rabbitmq
ensure_venv
if ((!INFRA_ONLY)); then
    migrate
    start_services
    wait_healthy
    if [[ -n "$DEMO_ORGS" ]]; then
        log "reestr demo --orgs $DEMO_ORGS"
        "$VENV/bin/reestr" demo --orgs "$DEMO_ORGS"
    fi
fi
summary
