#!/usr/bin/env bash
# Installs what gnfc needs on a Debian machine, once: Nix (the implementation under test) and
# git (Nix shells out to it for flakes in git trees). Idempotent; needs root for apt-get.
set -euo pipefail

missing=()
command -v nix >/dev/null || missing+=(nix-bin)
command -v git >/dev/null || missing+=(git)
command -v cp >/dev/null || missing+=(coreutils)
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "gnfc setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Nix run as root builds as the members of its `build-users-group`, `nixbld`. Debian's nix-bin
# leaves creating them to nix-setup-systemd (which needs systemd); without them every build on
# the host (import-from-derivation included) fails with "the group 'nixbld' specified in
# 'build-users-group' does not exist". The same group and users Nix's own installer makes.
if [ "$(id -u)" = 0 ]; then
  getent group nixbld >/dev/null || groupadd --system nixbld
  for i in $(seq 1 32); do
    id "nixbld$i" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/empty \
      --gid nixbld --groups nixbld --shell /usr/sbin/nologin --comment "Nix build user $i" "nixbld$i"
  done
fi
nix --version >&2
