#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (Nix, podman, PostgreSQL),
# checks formatting and lints, builds the Nix images, then runs every test, end-to-end ones
# (real Nix in real podman) included.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh prometheus curl chromium
bash scripts/podman.sh
# Captured first: under `eval "$(…)"` a failing setup would print nothing and the suite would
# go on without its PostgreSQL half.
postgres_env="$(bash scripts/postgres-for-tests.sh)"
eval "$postgres_env"

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The podman tests run real Nix 2.8, 2.26 and 2.34 images; build them first (reused when
# their recipes are unchanged).
cargo build --quiet -p gnfc
target/debug/gnfc images build
cargo test --workspace
