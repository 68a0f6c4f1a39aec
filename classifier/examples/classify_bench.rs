//! The classifier benchmark's workhorse (driven by `benches/classifier.sh`).
//!
//! - `generate OUT MIB`: synthetic stderr built from `classifier/samples/`: NUL-separated
//!   records, each a sample's stderr behind a few lines of the noise real runs print
//!   (dirty-tree warnings, traces); every tenth record is an error outside the samples.
//! - `patterns OUT`: every rule's pattern, one per line, in precedence order (for ripgrep).
//! - `set FILE` / `naive FILE`: classify every record, printing records, seconds and a
//!   checksum of the verdicts. `set` is gnfc's single pass (one `RegexSet` per stage, the
//!   winner's regex only for its capture); `naive` tries each rule's regex in order until one
//!   matches (the seed's classify_errors.py, in Rust's engine), then captures. Both, and
//!   `benches/classifier_seed.py` (the same loop in Python's `re`), must agree.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use gnfc_classifier::{Class, Input, RuleSet};
use gnfc_data::Stage;
use regex::bytes::{Regex, RegexBuilder};

const NOISE: &[&str] = &[
    "warning: Git tree '/build/source' is dirty\n",
    "trace: evaluating packages for x86_64-linux\n",
    "warning: unknown setting 'experimental-features'\n",
    "trace: using overlay 'default' from /nix/store/4x1ilwqkz1vz3bd3kx0mz5r9g2kkcfd1-source\n",
];

/// Errors outside the samples, every tenth record: the first two no rule names, the third is
/// `file-system-error`'s.
const UNKNOWN: &[&str] = &[
    "error: [json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing object key\n       at /nix/store/ab3x-source/flake.nix:12:5:\n",
    "error: unknown hash algorithm 'md7'\n(use '--show-trace' to show detailed location information)\n",
    "error: opening file '/nix/store/7bhxxmvdcqbbw0pqv4zsvw35gh3lkk8b-source/data.json': Permission denied\n",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rules = RuleSet::builtin()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", out, mib] => generate(Path::new(out), mib.parse::<usize>()? << 20),
        ["patterns", out] => {
            // ripgrep joins the patterns into one regex, where the repeated `detail` group
            // name is an error; unnamed groups match the same text.
            let mut text = String::new();
            for rule in rules.rules() {
                text.push_str(&rule.pattern.replace("(?P<detail>", "(?:"));
                text.push('\n');
            }
            std::fs::write(out, text)?;
            Ok(())
        }
        ["set", file] => time(file, |record| rules.classify_input(eval(record))),
        ["naive", file] => {
            let naive = Naive::new(&rules)?;
            time(file, |record| naive.classify(record))
        }
        _ => Err(
            "usage: classify_bench generate OUT MIB | patterns OUT | set FILE | naive FILE".into(),
        ),
    }
}

/// Lock stage: every rule covers it, so both methods try the same rules.
fn eval(stderr: &[u8]) -> Input<'_> {
    Input {
        stage: Stage::Lock,
        implementation: Some("nix-2.8"),
        stderr,
    }
}

/// The samples' stderr, header lines removed.
fn samples() -> Result<Vec<Vec<u8>>, std::io::Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read(path)?;
        let body: Vec<u8> = text
            .split_inclusive(|&b| b == b'\n')
            .skip_while(|l| l.first() == Some(&b'#'))
            .flatten()
            .copied()
            .filter(|&b| b != 0)
            .collect();
        out.push(body);
    }
    Ok(out)
}

fn generate(out: &Path, size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let samples = samples()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let (mut written, mut n) = (0, 0usize);
    while written < size {
        let mut record = Vec::new();
        for line in NOISE.iter().take(n % (NOISE.len() + 1)) {
            record.extend_from_slice(line.as_bytes());
        }
        if n % 10 == 9 {
            record.extend_from_slice(UNKNOWN[(n / 10) % UNKNOWN.len()].as_bytes());
        } else {
            record.extend_from_slice(&samples[n % samples.len()]);
        }
        record.push(0);
        file.write_all(&record)?;
        written += record.len();
        n += 1;
    }
    file.flush()?;
    println!("{n} records, {written} bytes");
    Ok(())
}

/// Classifies every NUL-separated record of `file`, single-threaded, and reports.
fn time(file: &str, classify: impl Fn(&[u8]) -> Class) -> Result<(), Box<dyn std::error::Error>> {
    let data = std::fs::read(file)?;
    let started = Instant::now();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut details = 0u64;
    let mut records = 0u64;
    for record in data.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let class = classify(record);
        details += class.detail.map_or(0, |d| d.len() as u64);
        *counts.entry(class.id).or_default() += 1;
        records += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let unknown = counts.get("unknown").copied().unwrap_or(0);
    // A checksum of the verdicts, so the two methods can be compared for agreement.
    let checksum: u64 = counts
        .iter()
        .map(|(id, n)| id.bytes().map(u64::from).sum::<u64>() * n)
        .sum::<u64>()
        ^ details;
    println!(
        "records={records} classified={} unknown={unknown} classes={} checksum={checksum} seconds={seconds:.3} mib_per_s={:.1}",
        records - unknown,
        counts.len(),
        data.len() as f64 / f64::from(1 << 20) / seconds
    );
    Ok(())
}

/// The seed's method with Rust's regex engine: each rule's regex in precedence order until
/// one matches. `benches/classifier_seed.py` is the same loop with Python's `re`, as the seed
/// ran it.
struct Naive {
    rules: Vec<NaiveRule>,
}

struct NaiveRule {
    regex: Regex,
    id: String,
    category: gnfc_classifier::Category,
    has_detail: bool,
}

impl Naive {
    fn new(rules: &RuleSet) -> Result<Naive, regex::Error> {
        let rules = rules
            .rules()
            .map(|r| {
                // The same matching semantics as the set: bytes, no Unicode classes.
                let regex = RegexBuilder::new(&r.pattern).unicode(false).build()?;
                let has_detail = regex.capture_names().any(|n| n == Some("detail"));
                Ok(NaiveRule {
                    regex,
                    id: r.id.clone(),
                    category: r.category,
                    has_detail,
                })
            })
            .collect::<Result<_, regex::Error>>()?;
        Ok(Naive { rules })
    }

    fn classify(&self, stderr: &[u8]) -> Class {
        // is_match first, captures for a winner with a detail only: the fastest form of the
        // loop, doing exactly the set's work once the winner is known.
        let Some(rule) = self.rules.iter().find(|r| r.regex.is_match(stderr)) else {
            return Class::unknown();
        };
        Class {
            id: rule.id.clone(),
            category: rule.category,
            detail: rule
                .has_detail
                .then(|| rule.regex.captures(stderr))
                .flatten()
                .and_then(|c| c.name("detail"))
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()),
        }
    }
}
