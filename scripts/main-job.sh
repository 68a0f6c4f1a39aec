#!/usr/bin/env bash
# The main job on a fresh machine: install Nix and podman, build gnfc and the Nix 2.8 / 2.26 /
# 2.34 images, add the bundled conformance corpus, run it with the built-in defaults (SQLite in
# .gnfc/, podman, or the host's Nix when podman cannot run) and print the report.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --quiet -p gnfc
gnfc=target/release/gnfc

# Podman with the three Nix images when this machine can run it; otherwise `gnfc run`
# (executor "auto") says so in one line and uses the host's Nix.
if bash scripts/podman.sh; then
  "$gnfc" images build || echo "gnfc: image build failed; the run falls back to the host" >&2
fi

"$gnfc" corpus add corpus
# Upstream repos of the forge-* flakes, served offline by the proxy's mirror (default [proxy]).
"$gnfc" forge init --from forge --to .gnfc/mirror
"$gnfc" run
"$gnfc" corpus check
