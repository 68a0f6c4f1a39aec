#!/usr/bin/env python3
"""Container overhead: the podman executor's wall time over the host executor's, same corpus,
same Nix 2.8, same script; then CPU utilisation during a `--jobs <cores>` podman run.

* host:   `gnfc run --executor host --impl nix-2.8 --jobs 1 --resolver native`
* podman: `gnfc run --executor podman --impl nix-2.8 --jobs 1 --resolver native`
  (the gnfc/nix-2.8 image is Debian bookworm's nix-bin 2.8.0, the same build as the host's)
* busy:   `gnfc run --executor podman --impl nix-2.8 --jobs <cores>`, with /proc/stat sampled
  before and after: busy = 1 - (idle + iowait) / total over the run.

Prints per-test overhead (podman - host) / tests and the ratio. Needs podman and the image:
`bash scripts/podman.sh && target/release/gnfc images build --impl nix-2.8`. The
never-finishing corpus flake is left out: it measures the timeout, not the executor.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GNFC = os.path.join(ROOT, "target", "release", "gnfc")
SKIP = {"never-finishes"}


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return idle, sum(fields)


def timed_run(gnfc, work, name, executor, jobs):
    start = time.monotonic()
    idle0, total0 = cpu_times()
    sh(gnfc + ["run", "--name", name, "--executor", executor, "--impl", "nix-2.8",
               "--resolver", "native", "--jobs", str(jobs)], cwd=work)
    idle1, total1 = cpu_times()
    wall = time.monotonic() - start
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    report = json.loads(sh(gnfc + ["report", "--run", name, "--format", "json"], cwd=work).stdout)
    outcomes = sorted((t["flake"], t["outcome"], t["class"] or "") for t in report["tests"])
    return wall, busy, outcomes


def main():
    sh(["cargo", "build", "--release", "--quiet", "-p", "gnfc"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="gnfc-bench-")
    cores = os.cpu_count() or 1
    try:
        cases = sorted(c for c in os.listdir(os.path.join(ROOT, "corpus"))
                       if os.path.isdir(os.path.join(ROOT, "corpus", c)) and c not in SKIP)
        gnfc = [GNFC, "--quiet", "--db", os.path.join(work, "bench.db")]
        sh(gnfc + ["corpus", "add", "--repo"] + [os.path.join(ROOT, "corpus", c) for c in cases],
           cwd=work)
        host_wall, _, host = timed_run(gnfc, work, "host", "host", 1)
        podman_wall, _, podman = timed_run(gnfc, work, "podman", "podman", 1)
        if host != podman:
            diff = [(h, p) for h, p in zip(host, podman) if h != p]
            raise SystemExit(f"host and podman disagree on {len(diff)} tests: {diff[:5]}")
        busy_wall, busy, _ = timed_run(gnfc, work, "busy", "podman", cores)
        tests = len(host)
        print(f"tests: {tests}  (corpus minus never-finishes, native resolver, Nix 2.8)")
        print(f"host executor,   --jobs 1:      {host_wall:8.2f} s")
        print(f"podman executor, --jobs 1:      {podman_wall:8.2f} s")
        print(f"ratio podman / host:            {podman_wall / host_wall:8.2f}")
        print(f"overhead per test:              {(podman_wall - host_wall) / tests:8.3f} s")
        print(f"podman, --jobs {cores}:               {busy_wall:8.2f} s "
              f"({podman_wall / busy_wall:.2f}x the --jobs 1 throughput)")
        print(f"CPU busy during --jobs {cores}:       {busy * 100:8.1f} %")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
