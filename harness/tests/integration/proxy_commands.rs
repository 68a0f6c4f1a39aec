//! `gnfc forge init` and `gnfc proxy stats|export|import` from the command line: the same
//! sources give the same revisions, and bad input gets a clear error and changes nothing.

use std::process::Output;

use crate::common::{corpus_dir, repo_path, text, Workspace};

#[test]
fn forge_init_is_deterministic_and_cache_commands_refuse_bad_input() {
    let ws = Workspace::new();
    let forge = repo_path("forge");
    let forge = forge.to_str().unwrap();
    let first = ws.gnfc(&["forge", "init", "--from", forge, "--to", "m1"]);
    let second = ws.gnfc(&["forge", "init", "--from", forge, "--to", "m2"]);
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
    let lock = std::fs::read_to_string(corpus_dir().join("forge-github-input/flake.lock")).unwrap();
    assert!(revs(&first)
        .iter()
        .any(|l| l.ends_with("gnfc-forge/github-lib") && lock.contains(&l[..40])));

    let empty = ws.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = ws.gnfc(&["forge", "init", "--from", "empty", "--to", "m3"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("owner/repo"), "{}", text(&out));

    let out = ws.gnfc(&["proxy", "stats", "--cache", "nowhere"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no proxy cache"), "{}", text(&out));

    std::fs::write(ws.join("junk.tar.zst"), "junk").unwrap();
    let out = ws.gnfc(&["proxy", "import", "junk.tar.zst", "--cache", "c"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a gnfc proxy export"),
        "{}",
        text(&out)
    );
    let out = ws.gnfc(&["proxy", "stats", "--cache", "c"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("total: 0 entries"), "{}", text(&out));
}
