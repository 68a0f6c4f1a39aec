#!/usr/bin/env bash
# The main job on a fresh machine: install Nix, build gnfc, add the bundled conformance corpus,
# run it with the built-in defaults (SQLite in .gnfc/, host executor) and print the report.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --quiet -p gnfc
gnfc=target/release/gnfc

"$gnfc" corpus add corpus
# Upstream repos of the forge-* flakes, served offline by the proxy's mirror (default [proxy]).
"$gnfc" forge init --from forge --to .gnfc/mirror
"$gnfc" run
"$gnfc" corpus check
