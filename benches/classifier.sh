#!/usr/bin/env bash
# Classifier throughput: 1 GiB of synthetic stderr built from classifier/samples/ (default; pass
# another size in MiB as $1), classified by gnfc's single pass (one RegexSet per stage), by the
# naive loop trying each rule's regex in order (seed 001's classify_errors.py) twice: as the
# seed ran it, in Python's `re` (benches/classifier_seed.py), and in Rust's `regex` (the
# strongest form of the loop), and searched by ripgrep with the same patterns (records are
# NUL-separated; rg --null-data treats each as a line). Prints each method's time and the
# ratios, all measured in this run, and fails if the classifiers disagree on any verdict.
# Needs `rg` (Debian package ripgrep) and python3 >= 3.11 (tomllib).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
command -v rg >/dev/null || { echo "benches/classifier.sh needs ripgrep: apt-get install ripgrep" >&2; exit 1; }

cargo build --release --quiet -p gnfc-classifier --example classify_bench
bench=target/release/examples/classify_bench
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "generating ${size_mib} MiB of synthetic stderr..."
"$bench" generate "$work/stderr.bin" "$size_mib"
"$bench" patterns "$work/patterns.txt"
echo "$(wc -l < "$work/patterns.txt") rules"
cat "$work/stderr.bin" > /dev/null # warm the page cache for every method alike

seconds() { sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'; }
set_out="$("$bench" set "$work/stderr.bin")"; echo "set:     $set_out"
naive_out="$("$bench" naive "$work/stderr.bin")"; echo "naive:   $naive_out"
seed_out="$(python3 benches/classifier_seed.py classifier/rules "$work/stderr.bin")"; echo "seed:    $seed_out"
start=$(date +%s.%N)
rg_count="$(rg --null-data --no-mmap -c -f "$work/patterns.txt" "$work/stderr.bin" | tr -d '\0' || true)"
rg_seconds="$(echo "$(date +%s.%N) - $start" | bc -l)"
echo "ripgrep: records matching any pattern=$rg_count seconds=$(printf %.3f "$rg_seconds")"

set_s="$(echo "$set_out" | seconds)"
naive_s="$(echo "$naive_out" | seconds)"
checksum() { sed -n 's/.*checksum=\([0-9]*\).*/\1/p'; }
for other in "$naive_out" "$seed_out"; do
  if [ "$(echo "$set_out" | checksum)" != "$(echo "$other" | checksum)" ]; then
    echo "the set and a naive loop disagree on the verdicts" >&2
    exit 1
  fi
done
seed_s="$(echo "$seed_out" | seconds)"
printf 'seed (Python loop) / set: %.1fx\n' "$(echo "$seed_s / $set_s" | bc -l)"
printf 'naive (Rust loop) / set:  %.1fx\n' "$(echo "$naive_s / $set_s" | bc -l)"
printf 'ripgrep / set:            %.2fx\n' "$(echo "$rg_seconds / $set_s" | bc -l)"
