#!/usr/bin/env bash
# Stop the private dockerd started by setup.sh (and its managed containerd).
# Leaves the caches (images, debootstrap rootfs) in place so the next setup is
# fast; --purge also removes containers left in podman's private storage.
#   scripts/containers/teardown.sh [--purge]
set -euo pipefail
RUN=${PYINIT_CI_RUN:-/run/pyinit-ci}
CACHE=${PYINIT_CI_CACHE:-/var/cache/pyinit-ci}
SOCK=$RUN/docker.sock
PIDFILE=$RUN/docker.pid
CPIDFILE=$RUN/docker-exec/containerd/containerd.pid

log() { printf '[pyinit-ci] %s\n' "$*" >&2; }
pid_is() {  # pid, comm, string expected in cmdline
    [ -n "$1" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm")" = "$2" ] &&
        tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$3"
}
stop_pid() {  # pid, comm, marker, what
    local pid=$1
    pid_is "$pid" "$2" "$3" || return 0
    log "stopping $4 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do pid_is "$pid" "$2" "$3" || return 0; sleep 0.2; done
    log "$4 did not stop in 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 25); do pid_is "$pid" "$2" "$3" || return 0; sleep 0.2; done
}

if [ "${1:-}" = --purge ] && [ -x /usr/bin/podman ]; then
    CONTAINERS_CONF=$CACHE/podman/containers.conf \
    CONTAINERS_STORAGE_CONF=$CACHE/podman/storage.conf \
    CONTAINERS_REGISTRIES_CONF=$CACHE/podman/registries.conf \
        /usr/bin/podman rm -af >/dev/null 2>&1 || true
fi

# dockerd stops its containers (10 s grace each) and its containerd.
stop_pid "$(cat "$PIDFILE" 2>/dev/null || true)" dockerd "$SOCK" dockerd
# containerd normally exits with dockerd; catch an orphan.
stop_pid "$(cat "$CPIDFILE" 2>/dev/null || true)" containerd "$RUN/docker-exec" "managed containerd"
rm -f "$PIDFILE" "$CPIDFILE"
log "private dockerd stopped"
