//! Grouping what the rules leave `unknown`: one key per kind of message.
//!
//! Two failures of the same kind differ in store paths, hashes, file names and line numbers;
//! masking those turns the first error line of each into a key that groups them, the way the
//! seed reviewed its leftovers by hand. [`unknown_groups`] groups a run's leftovers so, and
//! [`score`] says what a candidate rule would make of them.

mod candidate;
mod groups;

use std::sync::LazyLock;

use regex::Regex;

pub use candidate::{candidate_rule, score, Effect, CANDIDATE_ID};
pub use groups::{unknown_count, unknown_groups, Group};

/// The line that says what went wrong: the first `error:` line (Nix prints its traces after
/// it and warnings before it), else the first line that is not a warning or trace, else the
/// first non-empty line.
pub fn first_error_line(stderr: &[u8]) -> String {
    // One lazy pass over the lines: stderr can be hundreds of megabytes.
    let lines = stderr
        .split(|&b| b == b'\n')
        .map(|l| strip_ansi(&String::from_utf8_lossy(l)).trim().to_owned())
        .filter(|l| !l.is_empty());
    let mut first = None;
    let mut first_not_noise = None;
    for line in lines {
        if line.starts_with("error:") {
            return line;
        }
        let noise = line.starts_with("warning:") || line.starts_with("trace:");
        if first_not_noise.is_none() && !noise {
            first_not_noise = Some(line.clone());
        }
        if first.is_none() {
            first = Some(line);
        }
    }
    first_not_noise.or(first).unwrap_or_default()
}

/// The group key of a stderr: its first error line with store paths, URLs, paths, hashes and
/// numbers masked, cut to a readable length.
pub fn group_key(stderr: &[u8]) -> String {
    normalise(&first_error_line(stderr))
}

/// Masks what varies between two failures of the same kind.
pub fn normalise(line: &str) -> String {
    static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [
            (r"/nix/store/[0-9a-z]{32}-[^\s'`\x22:]*", "<store-path>"),
            (r"[a-z][a-z0-9+.-]*://[^\s'`\x22]*", "<url>"),
            (r"(?:sha256|sha512|sha1)[-:][A-Za-z0-9+/=]{20,}", "<hash>"),
            (
                r"\b[0-9a-f]{12,}\b|\b[0-9a-z]{52}\b|\b[0-9a-z]{32}\b",
                "<hash>",
            ),
            (r"(?:~|\.{1,2})?/[^\s'`\x22:]+", "<path>"),
            (r"\d+", "<n>"),
        ]
        .into_iter()
        .filter_map(|(pattern, mask)| Some((Regex::new(pattern).ok()?, mask)))
        .collect()
    });
    let mut out = line.to_owned();
    for (regex, mask) in MASKS.iter() {
        out = regex.replace_all(&out, *mask).into_owned();
    }
    const MAX: usize = 200;
    if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn strip_ansi(line: &str) -> String {
    static ANSI: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").ok());
    match ANSI.as_ref() {
        Some(ansi) => ansi.replace_all(line, "").into_owned(),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn first_error_line_skips_warnings_and_traces() {
        let stderr = b"warning: Git tree '/tmp/x' is dirty\ntrace: hi\n\x1b[31;1merror:\x1b[0m opening file '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source/x.json': No such file\n       at /tmp/f.nix:3:5\n";
        assert_eq!(
            first_error_line(stderr),
            "error: opening file '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source/x.json': No such file"
        );
        assert_eq!(
            first_error_line(b"warning: a\nsomething odd\n"),
            "something odd"
        );
        assert_eq!(first_error_line(b"warning: only\n"), "warning: only");
        assert_eq!(first_error_line(b"\xff\xfe\n"), "\u{fffd}\u{fffd}");
        assert_eq!(first_error_line(b""), "");
    }

    #[test]
    fn variable_parts_are_masked() {
        let a = group_key(b"error: opening file '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source/x.json': No such file or directory (errno 2)");
        let b = group_key(b"error: opening file '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-source/sub/y.json': No such file or directory (errno 2)");
        assert_eq!(a, b);
        assert_eq!(
            a,
            "error: opening file '<store-path>': No such file or directory (errno <n>)"
        );
        assert_eq!(
            normalise("error: unable to download 'https://x.org/a?b=1': code 37 in /home/u/f.nix at line 12, rev 0123456789abcdef0123"),
            "error: unable to download '<url>': code <n> in <path> at line <n>, rev <hash>"
        );
        assert_eq!(
            normalise("hash mismatch: got sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "hash mismatch: got <hash>"
        );
        assert!(normalise(&"é".repeat(300)).ends_with('…'));
    }
}
