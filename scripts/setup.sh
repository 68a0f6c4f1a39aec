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
nix --version >&2
