//! A 200 MB stderr, alone in its test binary so the process's peak memory is its own.

#![allow(clippy::unwrap_used)]

use gnfc_classifier::{triage, RuleSet};
use gnfc_data::Stage;

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// 200 MB of evaluation noise with the real error at the very end: classified correctly, and
/// the classifier's own memory stays bounded (no copy of the input, a bounded DFA cache).
#[test]
fn huge_stderr_is_classified_in_bounded_memory() {
    let rules = RuleSet::builtin().unwrap();
    const SIZE: usize = 200 << 20;
    let mut stderr = Vec::with_capacity(SIZE + 256);
    let mut n = 0u64;
    while stderr.len() < SIZE {
        stderr.extend_from_slice(
            format!("trace: building package set {n} of /nix/store/0123abcd-x\n").as_bytes(),
        );
        n += 1;
    }
    stderr.extend_from_slice(
        b"error: attribute 'frobnicate' missing\n\n       at /nix/store/x-source/flake.nix:3:5:\n",
    );
    let before = peak_rss();
    let class = rules.classify(Stage::Eval, &stderr);
    assert_eq!(class.id, "missing-attribute");
    assert_eq!(class.detail.as_deref(), Some("frobnicate"));
    assert_eq!(
        triage::first_error_line(&stderr),
        "error: attribute 'frobnicate' missing"
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "classifying 200 MB of stderr raised peak memory by {} MB",
        grown >> 20
    );
}
