#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (Nix, PostgreSQL), checks
# formatting and lints, then runs every test, end-to-end ones included.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh chromium
eval "$(bash scripts/postgres-for-tests.sh)"

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
