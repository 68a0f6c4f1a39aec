#!/usr/bin/env bash
# Scrape ingest rate: results/s parsed and stored from a large recorded Sourcegraph stream,
# with parse-only as the baseline measured in the same run. Usage: scrape_ingest.sh [RESULTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p gnfc-scrapers --features fixtures --example ingest_bench -- "${1:-200000}"
