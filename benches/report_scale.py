#!/usr/bin/env python3
"""Report scale: `gnfc report` over a synthetic run of 1,000,000 tests.

Generates a database with gnfc's own schema (gnfc creates it, this script fills it): flakes ×
2 implementations × 2 resolvers, outcomes in realistic shares, one to two outputs per test,
a few hundred distinct lockfiles, stderr for failed tests. Then it times each report format and
reads its peak memory (max RSS), against a baseline measured in the same run: sqlite3 reading
the same rows (tests joined to flakes, and outputs) and writing them out as CSV.

usage: python3 benches/report_scale.py [--tests N] [--gnfc PATH] [--keep DIR]
"""

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import tempfile
import time

IMPLS = ["nix-2.26", "nix-2.34"]
RESOLVERS = ["native", "committed"]
# outcome, class, category, share
OUTCOMES = [
    ("pass", None, None, 0.55),
    ("partial", "assertion-failed", "flake", 0.12),
    ("skipped", None, None, 0.15),
    ("lock-fail", "http-404", "network", 0.03),
    ("lock-fail", "syntax-error", "flake", 0.05),
    ("enumerate-fail", "missing-attribute", "flake", 0.07),
    ("timeout", "timeout", "limits", 0.02),
    ("harness-error", "harness-error", "harness", 0.01),
]


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, check=True, capture_output=True).stdout


def lockfile(i: int) -> bytes:
    nodes = {"root": {"inputs": {}}}
    for n in range(i % 12 + 1):
        name = f"input{n}"
        nodes["root"]["inputs"][name] = name
        repo = "nixpkgs" if n % 4 == 0 else f"repo{n}"
        nodes[name] = {
            "locked": {"type": "github", "owner": "o", "repo": repo, "rev": f"{i:08x}{n:032x}",
                       "narHash": f"sha256-{i}-{n}"},
            "original": {"type": "github", "owner": "o", "repo": repo},
        }
    return json.dumps({"nodes": nodes, "root": "root", "version": 7}).encode()


def generate(db: str, tests: int) -> None:
    rng = random.Random(1)
    flakes = tests // (len(IMPLS) * len(RESOLVERS))
    locks = [(f"{i:064x}", lockfile(i)) for i in range(400)]
    stderr_blob = zstd(b"warning: Git tree is dirty\nerror: something went wrong in the flake\n" * 3)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    now = int(time.time() * 1000)
    con.executemany(
        "INSERT INTO lockfiles (hash, content, size, nodes) VALUES (?, ?, ?, ?)",
        [(h, zstd(c), len(c), len(json.loads(c)["nodes"]) - 1) for h, c in locks],
    )
    repos = max(1, flakes // 2)
    con.executemany(
        "INSERT INTO repos (id, forge, owner, name, url, revision, added_at) VALUES (?,?,?,?,?,?,?)",
        ((r + 1, "github", f"owner{r % 5000}", f"repo{r}", f"https://example.invalid/{r}", "rev", now)
         for r in range(repos)),
    )
    con.executemany(
        "INSERT INTO flakes (id, repo_id, subdir, revision, flake_file, source_dir, added_at)"
        " VALUES (?,?,?,?,?,?,?)",
        ((f + 1, f % repos + 1, "" if f < repos else f"sub{f}", "rev", "flake.nix", "/nonexistent", now)
         for f in range(flakes)),
    )
    con.execute("INSERT INTO runs (id, name, config, host, started_at, finished_at) "
                "VALUES (1, 'synthetic', '', '{}', ?, ?)", (now, now))
    weights = [o[3] for o in OUTCOMES]
    test_rows, output_rows, stderr_rows = [], [], []
    tid = 0
    for f in range(flakes):
        for imp in IMPLS:
            for res in RESOLVERS:
                tid += 1
                outcome, cls, cat, _ = rng.choices(OUTCOMES, weights)[0]
                locked = outcome not in ("lock-fail", "harness-error")
                lock = locks[(f * 7 + (imp == IMPLS[1])) % len(locks)][0] if locked else None
                test_rows.append((tid, 1, f + 1, imp, res, outcome, cls, cat, None, 0 if outcome == "pass" else 1,
                                  rng.randint(20, 4000) if locked else None, rng.randint(5, 500),
                                  rng.randint(10, 60000), rng.randint(50, 70000), lock, 1, now))
                if outcome in ("pass", "partial"):
                    drv = f"/nix/store/{f:032x}-{'a' if imp == IMPLS[0] else 'b'}.drv"
                    output_rows.append((tid, "packages.x86_64-linux.default", "pass", drv, rng.randint(5, 900),
                                        None, None))
                    if outcome == "partial":
                        output_rows.append((tid, "checks.x86_64-linux.test", "fail", None, 40,
                                            "assertion-failed", "flake"))
                        stderr_rows.append((tid, "eval", "checks.x86_64-linux.test", stderr_blob, 210, 210))
                elif outcome in ("lock-fail", "enumerate-fail"):
                    stage = "lock" if outcome == "lock-fail" else "enumerate"
                    stderr_rows.append((tid, stage, "", stderr_blob, 210, 210))
        if len(test_rows) >= 100_000:
            flush(con, test_rows, output_rows, stderr_rows)
    flush(con, test_rows, output_rows, stderr_rows)
    con.commit()
    con.close()


def flush(con, test_rows, output_rows, stderr_rows):
    con.executemany(
        "INSERT INTO tests (id, run_id, flake_id, implementation, resolver, outcome, error_class,"
        " error_category, error_detail, exit_code, lock_ms, enumerate_ms, eval_ms, total_ms,"
        " lockfile_hash, attempt, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        test_rows)
    con.executemany(
        "INSERT INTO outputs (test_id, attr_path, status, drv_path, eval_ms, error_class, error_category)"
        " VALUES (?,?,?,?,?,?,?)", output_rows)
    con.executemany(
        "INSERT INTO stderr (test_id, stage, attr_path, content, total_bytes, kept_bytes)"
        " VALUES (?,?,?,?,?,?)", stderr_rows)
    test_rows.clear()
    output_rows.clear()
    stderr_rows.clear()


def measure(cmd, stdout_path):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one child process."""
    with open(stdout_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=1_000_000)
    ap.add_argument("--gnfc", default="target/release/gnfc")
    ap.add_argument("--keep", help="directory for the database and reports (default: a temp dir)")
    ap.add_argument("--formats", default="html,md,json,csv", help="comma-separated report formats")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="gnfc-report-scale-")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "synthetic.db")
    if os.path.exists(db):
        os.remove(db)
    subprocess.run([args.gnfc, "--quiet", "--db", db, "status"], check=True, capture_output=True)
    t = time.monotonic()
    generate(db, args.tests)
    print(f"generated {args.tests} tests in {time.monotonic() - t:.1f} s "
          f"({os.path.getsize(db) / 2**20:.0f} MiB database)")

    base_sql = ("SELECT t.*, r.owner, r.name, f.subdir FROM tests t JOIN flakes f ON f.id = t.flake_id "
                "JOIN repos r ON r.id = f.repo_id WHERE t.run_id = 1 ORDER BY t.id; "
                "SELECT o.* FROM outputs o JOIN tests t ON t.id = o.test_id WHERE t.run_id = 1 "
                "ORDER BY o.test_id, o.id;")
    base_wall, base_cpu, base_rss = measure(["sqlite3", "-csv", db, base_sql],
                                            os.path.join(work, "baseline.csv"))
    load = os.getloadavg()[0]
    print(f"\nload average at start: {load:.1f} on {os.cpu_count()} CPUs (wall times stretch with it;"
          " CPU times do not)")
    print("\n| measure | wall | CPU | max RSS | CPU / baseline CPU |\n|---|---:|---:|---:|---:|")
    print(f"| baseline: sqlite3 reads the same rows as CSV | {base_wall:.1f} s | {base_cpu:.1f} s "
          f"| {base_rss:.0f} MiB | 1.00 |")
    for fmt in args.formats.split(","):
        out = os.path.join(work, f"report.{fmt}")
        wall, cpu, rss = measure([args.gnfc, "--quiet", "--db", db, "report", "--format", fmt], out)
        print(f"| gnfc report --format {fmt} ({os.path.getsize(out) / 2**20:.0f} MiB) | {wall:.1f} s "
              f"| {cpu:.1f} s | {rss:.0f} MiB | {cpu / base_cpu:.2f} |")


if __name__ == "__main__":
    main()
