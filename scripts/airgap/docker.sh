#!/usr/bin/env bash
# Ensure a Docker engine answers on this host (no systemd here: dockerd is started by hand).
# Idempotent: does nothing when `docker info` already works.
# Privileged containers (kind nodes) need the runc wrapper runc-capwrap as dockerd's default
# runtime on hosts whose capability bounding set lacks some capabilities (CAP_SYS_RESOURCE here).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNTIME=seclab-runc
LOG=$CACHE/log/dockerd.log

# keep the installed wrapper current (a running dockerd calls it by path)
if [ -f "$CACHE/bin/$RUNTIME" ] && ! cmp -s "$AIRGAP_DIR/runc-capwrap" "$CACHE/bin/$RUNTIME"; then
  install -m 0755 "$AIRGAP_DIR/runc-capwrap" "$CACHE/bin/$RUNTIME"
fi

if timeout 20 docker info >/dev/null 2>&1; then
  rt=$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true)
  if [ "$rt" != "$RUNTIME" ]; then
    # Only a problem where the bounding set is not full.
    if [ "$(awk '/^CapBnd:/ {print $2}' /proc/self/status)" != "$(printf '%016x' $(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 )))" ]; then
      warn "docker answers, but its default runtime is '$rt', not the $RUNTIME wrapper: privileged containers (kind nodes) may fail with 'operation not permitted' on capabilities. Stop that dockerd and re-run $0."
    fi
  fi
  say "docker engine answers (default runtime: ${rt:-?})"
  exit 0
fi

command -v dockerd >/dev/null 2>&1 || apt_install docker.io
command -v docker >/dev/null 2>&1 || apt_install docker.io
command -v jq >/dev/null 2>&1 || apt_install jq
mkdir -p "$CACHE/bin" "$CACHE/log"
install -m 0755 "$AIRGAP_DIR/runc-capwrap" "$CACHE/bin/$RUNTIME"

if ! pgrep -x dockerd >/dev/null; then
  say "starting dockerd (log: $LOG)"
  nohup dockerd --add-runtime "$RUNTIME=$CACHE/bin/$RUNTIME" --default-runtime "$RUNTIME" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! > "$CACHE/log/dockerd.pid"
else
  say "dockerd is running but not answering yet; waiting"
fi
for _ in $(seq 1 120); do
  if timeout 5 docker info >/dev/null 2>&1; then
    say "docker engine answers (default runtime: $(docker info --format '{{.DefaultRuntime}}'))"
    exit 0
  fi
  sleep 1
done
tail -n 30 "$LOG" >&2 || true
die "dockerd did not answer within 120 s (log: $LOG)"
