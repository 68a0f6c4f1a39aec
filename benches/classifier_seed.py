#!/usr/bin/env python3
"""The seed's classifier, as it ran: Python's `re`, each rule tried in precedence order.

Usage: classifier_seed.py RULES_DIR STDERR_FILE

Reads gnfc's rule files (`classifier/rules/*.toml`, in name order, like the built-in set),
keeps the rules covering the lock stage (what `classify_bench set` classifies under), and
classifies every NUL-separated record of STDERR_FILE with the loop of seed 001's
`classify_errors.py`: `re.search` with each rule until one matches, then the winner's
`detail` group. Prints the same `records=… checksum=… seconds=…` line as `classify_bench`,
so `benches/classifier.sh` can check that all methods reached the same verdicts.
"""

import pathlib
import re
import sys
import time
import tomllib


def load_rules(rules_dir):
    rules = []
    for path in sorted(pathlib.Path(rules_dir).glob("*.toml")):
        with open(path, "rb") as f:
            for rule in tomllib.load(f).get("rule", []):
                if rule.get("stage", "any") not in ("any", "lock"):
                    continue
                # Rust's `\z` (end of text) is spelled `\Z` in Python; rules match bytes.
                pattern = rule["pattern"].replace(r"\z", r"\Z").encode()
                rules.append((re.compile(pattern), rule["id"]))
    return rules


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    rules = load_rules(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        data = f.read()
    started = time.perf_counter()
    counts = {}
    details = 0
    records = 0
    for record in data.split(b"\0"):
        if not record:
            continue
        records += 1
        verdict = "unknown"
        for regex, rule_id in rules:
            found = regex.search(record)
            if found:
                verdict = rule_id
                if "detail" in regex.groupindex and found.group("detail") is not None:
                    # The length of the detail as gnfc stores it (lossy UTF-8).
                    text = found.group("detail").decode("utf-8", "replace")
                    details += len(text.encode())
                break
        counts[verdict] = counts.get(verdict, 0) + 1
    seconds = time.perf_counter() - started
    unknown = counts.get("unknown", 0)
    checksum = sum(sum(rule_id.encode()) * n for rule_id, n in counts.items()) ^ details
    print(
        f"records={records} classified={records - unknown} unknown={unknown} "
        f"classes={len(counts)} checksum={checksum} seconds={seconds:.3f} "
        f"mib_per_s={len(data) / 2**20 / seconds:.1f}"
    )


if __name__ == "__main__":
    main()
