//! `gnfc forge init` and `gnfc proxy stats|export|import` from the command line: the same
//! sources give the same revisions, and bad input gets a clear error and changes nothing.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use common::{gnfc, text};

mod common;

#[test]
fn forge_init_is_deterministic_and_cache_commands_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let forge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../forge");
    let forge = forge.to_str().unwrap();
    let first = gnfc(
        dir.path(),
        &["forge", "init", "--from", forge, "--to", "m1"],
    );
    let second = gnfc(
        dir.path(),
        &["forge", "init", "--from", forge, "--to", "m2"],
    );
    assert!(first.status.success(), "{}", text(&first));
    let revs = |out: &Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.len() > 41)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(revs(&first).len() >= 4, "{}", text(&first));
    assert_eq!(revs(&first), revs(&second));
    // The committed lock of forge-github-input pins the revision forge init makes.
    let lock = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/forge-github-input/flake.lock"),
    )
    .unwrap();
    assert!(revs(&first)
        .iter()
        .any(|l| l.ends_with("gnfc-forge/github-lib") && lock.contains(&l[..40])));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = gnfc(
        dir.path(),
        &["forge", "init", "--from", "empty", "--to", "m3"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("owner/repo"), "{}", text(&out));

    let out = gnfc(dir.path(), &["proxy", "stats", "--cache", "nowhere"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no proxy cache"), "{}", text(&out));

    std::fs::write(dir.path().join("junk.tar.zst"), "junk").unwrap();
    let out = gnfc(
        dir.path(),
        &["proxy", "import", "junk.tar.zst", "--cache", "c"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a gnfc proxy export"),
        "{}",
        text(&out)
    );
    let out = gnfc(dir.path(), &["proxy", "stats", "--cache", "c"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("total: 0 entries"), "{}", text(&out));
}
