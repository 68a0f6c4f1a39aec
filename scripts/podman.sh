#!/usr/bin/env bash
# Makes podman usable by gnfc on this machine: installs podman, runc, debootstrap (image
# recipes) and socat, then makes sure podman's API service answers on its default socket.
# Idempotent; needs root. Exits non-zero (with the reason) when podman cannot run here, so
# callers can fall back to the host executor.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh podman runc debootstrap socat catatonit curl

socket=/run/podman/podman.sock
if ! curl -fsS --max-time 5 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
  mkdir -p /run/podman
  # From `/`: conmon runs in the service's working directory, and a checkout that is later
  # removed would break every container started after that ("write child: broken pipe").
  (cd / && exec nohup podman system service --time=0 "unix://$socket") \
    </dev/null >/var/log/gnfc-podman-service.log 2>&1 &
  for _ in $(seq 100); do
    curl -fsS --max-time 5 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
curl -fsS --max-time 5 --unix-socket "$socket" http://d/_ping >/dev/null \
  || { echo "podman's API service does not answer on $socket" >&2; exit 1; }
# The smallest proof that containers start here (runtime and ulimits are gnfc's to choose;
# this only catches a machine where podman cannot run at all).
podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupsVersion}}' >&2
