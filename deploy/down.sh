#!/usr/bin/env bash
# Stop the services started by deploy/up.sh (pid files in var/run/).
#
#   deploy/down.sh          stop the nameko services
#   deploy/down.sh --all    ... and stop Keycloak, the object store, Mailpit, RabbitMQ and PostgreSQL
set -euo pipefail

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REESTR_ROOT"

ALL=0
case "${1:-}" in
    "") ;;
    --all) ALL=1 ;;
    -h | --help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option: $1 (use --all)" ;;
esac

# newest first: the gateway (last started) stops before the services behind it
shopt -s nullglob
pidfiles=("$RUN_DIR"/*.pid)
((${#pidfiles[@]})) && mapfile -t pidfiles < <(ls -1t -- "${pidfiles[@]}")
for f in "${pidfiles[@]}"; do
    name="$(basename "$f" .pid)"
    [[ "$name" == keycloak || "$name" == s3proxy || "$name" == mailpit ]] && continue # infrastructure: only with --all
    stop_service "$name"
done

if ((ALL)); then
    # Keycloak first: it holds connections to PostgreSQL
    stop_keycloak
    stop_s3proxy
    stop_mailpit
    [[ $EUID -eq 0 ]] || die "--all needs root (stops RabbitMQ and PostgreSQL)"
    if have rabbitmqctl && rabbit_running; then
        log "stopping RabbitMQ"
        # shutdown waits until the Erlang VM has exited; no pid file needed,
        # so it also stops a node started with 'rabbitmq-server -detached'
        rabbitmqctl -q shutdown >/dev/null || warn "rabbitmqctl shutdown failed"
        rm -f /run/rabbitmq/pid
    fi
    if have pg_ctlcluster && [[ "$(pg_cluster_status)" == online* ]]; then
        log "stopping PostgreSQL $PG_VERSION/$PG_CLUSTER"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop
    fi
fi
log "stopped"
