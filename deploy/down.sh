#!/usr/bin/env bash
# Stop the services started by deploy/up.sh (pid files in var/run/).
#
#   deploy/down.sh          stop the nameko services
#   deploy/down.sh --all    ... and stop RabbitMQ and PostgreSQL too
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

stop_service() {
    local name="$1" pid start
    if ! pid="$(service_pid "$name")"; then
        rm -f "$RUN_DIR/$name.pid"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - start >= STOP_TIMEOUT)); then
            warn "$name did not stop in ${STOP_TIMEOUT}s, killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    rm -f "$RUN_DIR/$name.pid"
}

# newest first: the gateway (last started) stops before the services behind it
shopt -s nullglob
pidfiles=("$RUN_DIR"/*.pid)
((${#pidfiles[@]})) && mapfile -t pidfiles < <(ls -1t -- "${pidfiles[@]}")
for f in "${pidfiles[@]}"; do
    stop_service "$(basename "$f" .pid)"
done

if ((ALL)); then
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
