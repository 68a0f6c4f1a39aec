#!/usr/bin/env python3
"""Harness overhead: gnfc's wall time over the corpus vs the bare nix commands it runs.

Both sides run in this one script, on the same flakes, one test at a time:

* gnfc: `gnfc run --jobs 1 --resolver native` over the corpus, wall time.
* bare: for each flake, the same work by hand — copy the repo, delete flake.lock, make it a git
  tree, `nix flake lock`, one enumeration `nix eval`, one `nix eval` per output gnfc found —
  timing the nix commands alone (and, separately, the whole sequence).

Prints the ratios. Only flakes whose test needs neither a limit nor the network are timed; a
first, untimed gnfc run picks them. A flake gnfc stops at a limit (the never-finishing one)
would be run out by the bare side, and one that fetches (a `github:` input) meets gnfc's proxy,
which answers an offline miss at once, where bare Nix retries an unreachable host with
backoff: either would measure the limit or the network, not the harness.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GNFC = os.path.join(ROOT, "target", "release", "gnfc")
SKIP = {"never-finishes"}
# gnfc's timeout per test; the bare side gets the same per command.
TIMEOUT = 60


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


def main():
    sh(["cargo", "build", "--release", "--quiet", "-p", "gnfc"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="gnfc-bench-")
    try:
        cases = sorted(c for c in os.listdir(os.path.join(ROOT, "corpus"))
                       if os.path.isdir(os.path.join(ROOT, "corpus", c)) and c not in SKIP)
        probe = run_gnfc(work, "probe", cases)
        stopped = {t["flake"].split("/")[1] for t in probe["tests"] if limited_or_fetching(t)}
        cases = [c for c in cases if c not in stopped]

        start = time.monotonic()
        report = run_gnfc(work, "bench", cases)
        gnfc_wall = time.monotonic() - start
        nix_total, sequence_total = bare(report, work)
        tests = len(report["tests"])
        print(f"flakes: {tests}  (native resolver, --jobs 1, host executor; "
              f"left out, at a limit or fetching: {', '.join(sorted(stopped | SKIP))})")
        print(f"gnfc wall time:                 {gnfc_wall:8.2f} s")
        print(f"bare nix commands, summed:      {nix_total:8.2f} s")
        print(f"bare cp+git+nix sequence:       {sequence_total:8.2f} s")
        print(f"ratio gnfc / bare nix:          {gnfc_wall / nix_total:8.2f}")
        print(f"ratio gnfc / bare sequence:     {gnfc_wall / sequence_total:8.2f}")
        print(f"overhead per test vs bare nix:  {(gnfc_wall - nix_total) / tests * 1000:8.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_gnfc(work, name, cases):
    """A gnfc run over `cases` in a database of its own; returns its JSON report."""
    gnfc = [GNFC, "--quiet", "--db", os.path.join(work, name + ".db")]
    sh(gnfc + ["corpus", "add", "--repo"] + [os.path.join(ROOT, "corpus", c) for c in cases], cwd=work)
    sh(gnfc + ["run", "--name", name, "--jobs", "1", "--resolver", "native", "--executor", "host",
               "--impl", "nix-2.8", "--timeout", str(TIMEOUT)], cwd=work)
    return json.loads(sh(gnfc + ["report", "--run", name, "--format", "json"], cwd=work).stdout)


def limited_or_fetching(test):
    """Whether gnfc ended the test (or one of its outputs) at a limit or on a fetch."""
    spurious = ("limits", "network")
    return test["outcome"] == "timeout" or test["category"] in spurious or any(
        o["category"] in spurious or o["status"] in ("timeout", "skipped") for o in test["outputs"])


def bare(report, work):
    """Re-does every test of the report by hand; returns (nix seconds, whole-sequence seconds)."""
    outputs = {}
    for t in report["tests"]:
        outputs[t["id"]] = [o["attr_path"] for o in t["outputs"]]
    # Flakes are named corpus/<case>[/<subdir>]: the same repos, read from the corpus itself.
    sources = {}
    for t in report["tests"]:
        _owner, name, *sub = t["flake"].split("/", 2)
        sources[t["id"]] = (os.path.join(ROOT, "corpus", name), sub[0] if sub else "")
    nix_total = 0.0
    sequence_start = time.monotonic()
    for t in report["tests"]:
        repo, sub = sources[t["id"]]
        scratch = tempfile.mkdtemp(dir=work)
        env = {
            "PATH": os.environ["PATH"], "HOME": scratch, "XDG_CACHE_HOME": scratch + "/cache",
            "NIX_CONFIG": "experimental-features = nix-command flakes\nflake-registry = "
                          + scratch + "/registry.json\nsubstituters =\nwarn-dirty = false\n",
        }
        with open(scratch + "/registry.json", "w") as f:
            f.write('{"flakes":[],"version":2}')
        src = scratch + "/src"
        subprocess.run(["cp", "-a", repo, src], check=True)
        lock = os.path.join(src, sub, "flake.lock")
        if os.path.lexists(lock):
            os.remove(lock)
        for git in (["init", "-q"], ["add", "-A", "-f"], ["-c", "user.name=b", "-c", "user.email=b@b",
                                                         "commit", "-qm", "s", "--allow-empty"]):
            subprocess.run(["git"] + git, cwd=src, check=True, env=env, capture_output=True)
        ref = "git+file://" + src + (("?dir=" + sub.replace(" ", "%20").replace("!", "%21")) if sub else "")
        commands = [["nix", "flake", "lock", ref],
                    ["nix", "eval", "--json", "--impure", "--expr",
                     'builtins.attrNames (builtins.getFlake "%s").outputs' % ref]]
        for attr in outputs[t["id"]]:
            if attr.startswith("legacyPackages."):
                commands.append(["nix", "eval", "--json", ref + "#" + attr, "--apply", "builtins.attrNames"])
            else:
                commands.append(["nix", "eval", "--raw", ref + "#" + attr + ".drvPath"])
        for cmd in commands:
            start = time.monotonic()
            try:
                subprocess.run(cmd, cwd=src, env=env, capture_output=True, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            nix_total += time.monotonic() - start
        shutil.rmtree(scratch, ignore_errors=True)
    return nix_total, time.monotonic() - sequence_start


if __name__ == "__main__":
    sys.exit(main())
