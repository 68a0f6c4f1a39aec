//! Triage of a run's failures: why a test got its class (`--explain`), what the rules leave
//! unnamed (`--unknown`), and writing rules for it (`--interactive`).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_classifier::triage::{self, candidate_rule, unknown_count, unknown_groups};
use gnfc_classifier::{Category, Input, RuleSetBuilder, RuleSpec};
use gnfc_data::{Classification, Db, RunRow, StderrRow, TestRow};

use super::{pick_run, Context};
use crate::reclassify::{classify_rows, reclassify};
use crate::ui::MatchedLine;
use crate::wiring::{load_overrides, load_rules, user_rule_files};

/// `gnfc classify --explain TEST_ID`.
pub async fn explain(ctx: &Context, run: Option<&str>, test_id: i64) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let rules = load_rules(ctx)?;
    let overrides = load_overrides(ctx, &rules)?;
    let (run, test, rows) = find_test(&db, run, test_id).await?;
    println!(
        "test {} of run '{}': {} with {}/{}: {}, class {}",
        test.id,
        run.name,
        test.flake,
        test.implementation,
        test.resolver,
        test.outcome.map_or("pending", |o| o.as_str()),
        test.class.as_deref().unwrap_or("-"),
    );
    if let Some(pinned) = overrides.get(test_id) {
        println!(
            "override: pinned to {} ({}) by the reviewed overrides, winning over every rule: {}",
            pinned.class, pinned.category, pinned.note
        );
    }
    if rows.is_empty() {
        println!(
            "no classified stderr: the test passed, timed out, is pending or failed on gnfc's side"
        );
    }
    for row in &rows {
        let where_ = match row.attr_path.as_str() {
            "" => format!("{} stderr", row.stage),
            attr => format!("{} stderr of {attr}", row.stage),
        };
        println!(
            "\n{where_} ({} bytes kept of {}), stored class {}:",
            row.text.kept.len(),
            row.text.total_bytes,
            row.class.as_deref().unwrap_or("-")
        );
        let why = rules.explain(Input::from(row));
        if why.hits.is_empty() {
            println!("  no rule matches: unknown");
            println!(
                "  first error line: {}",
                triage::first_error_line(&row.text.kept)
            );
            continue;
        }
        let mut won = false;
        for hit in &why.hits {
            let verdict = if !hit.applies {
                "skipped (not for this implementation)"
            } else if !won {
                won = true;
                "WINS"
            } else {
                "matches too (an earlier rule wins)"
            };
            let rule = hit.rule;
            println!(
                "  {} [{}] {verdict}: {} ({}, rule #{})",
                rule.id, rule.category, rule.description, rule.origin, rule.position
            );
            if let Some(link) = &rule.tracking {
                println!("    tracking: {link}");
            }
            let line = MatchedLine::of(&row.text.kept, hit.span.clone());
            println!(
                "{}",
                line.underlined(&format!("    line {}: ", line.number))
            );
        }
        println!(
            "  → {}{}",
            why.class.id,
            why.class
                .detail
                .map(|d| format!(" (detail: {d})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A test with its run and its classified stderr; the run must be `run` when one is named.
async fn find_test(
    db: &Db,
    run: Option<&str>,
    test_id: i64,
) -> anyhow::Result<(RunRow, TestRow, Vec<StderrRow>)> {
    let test = db.get_test(test_id).await?;
    let run = match run {
        Some(named) => {
            let run = pick_run(db, Some(named)).await?;
            if run.id != test.run_id {
                anyhow::bail!(
                    "test {test_id} is not of run '{named}'; leave out --run to explain it"
                );
            }
            run
        }
        None => db.run(&test.run_id.to_string()).await?,
    };
    let rows = db
        .test_stderr(test_id)
        .await?
        .into_iter()
        .filter_map(|(row, classifying)| classifying.then_some(row))
        .collect();
    Ok((run, test, rows))
}

/// `gnfc classify --unknown`.
pub async fn unknown(ctx: &Context, run: Option<&str>, top: usize) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = load_rules(ctx)?;
    let rows = db.classified_stderr(run.id).await?;
    let classes = classify_rows(&rules, &rows, ctx.quiet);
    let groups = unknown_groups(&rows, &classes);
    let unknown = unknown_count(&groups);
    println!(
        "run '{}': {unknown} of {} classified stderr are unknown with the current rules, in {} groups",
        run.name,
        rows.len(),
        groups.len()
    );
    for group in groups.iter().take(top) {
        let mut combos: Vec<String> = group
            .rows
            .iter()
            .map(|r| format!("{}/{}", r.implementation, r.stage))
            .collect();
        combos.sort();
        combos.dedup();
        println!(
            "{:>6}  {}\n        e.g. test {} · {}",
            group.rows.len(),
            group.key,
            group.rows[0].test_id,
            combos.join(", ")
        );
    }
    if groups.len() > top {
        println!(
            "…and {} smaller groups (--top N shows more)",
            groups.len() - top
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `gnfc classify --interactive`.
pub async fn interactive(
    ctx: &Context,
    run: Option<&str>,
    top: usize,
    rules_file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let user_files = user_rule_files(ctx);
    let target = match rules_file {
        Some(file) => file,
        None => user_files.first().cloned().context(
            "--interactive appends rules to a file: name it with --rules-file FILE or list it \
             under classifier.rules in gnfc.toml",
        )?,
    };
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = load_rules(ctx)?;
    let rows = db.classified_stderr(run.id).await?;
    let classes = classify_rows(&rules, &rows, ctx.quiet);
    let builder = RuleSetBuilder::new(&user_files).with_target(&target);
    let session = Session {
        rows: &rows,
        classes,
        target: &target,
        rules: builder.clone(),
        top,
    };
    let stdin = std::io::stdin();
    let added = session.run(&mut stdin.lock(), &mut std::io::stdout().lock())?;
    if added > 0 {
        // Take the new rules into account at once, as `gnfc classify` would; a `--rules-file`
        // outside the config takes part too.
        let rules = builder
            .build()
            .context("cannot load the classifier rules (classifier.rules in gnfc.toml)")?;
        let overrides = load_overrides(ctx, &rules)?;
        let moved = reclassify(&db, &run, &rules, &overrides, ctx.quiet).await?;
        moved.print(&run, &rules, &overrides);
    }
    Ok(ExitCode::SUCCESS)
}

/// An interactive walk over the unknown groups, reading answers from `input`.
struct Session<'a> {
    rows: &'a [StderrRow],
    classes: Vec<Classification>,
    target: &'a Path,
    /// The configured rules and the target file, read afresh for every rule tried.
    rules: RuleSetBuilder,
    top: usize,
}

/// What the person typed at a prompt.
enum Answer {
    Text(String),
    Quit,
}

fn ask(input: &mut impl BufRead, out: &mut impl Write, prompt: &str) -> anyhow::Result<Answer> {
    write!(out, "{prompt}")?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(Answer::Quit);
    }
    let line = line.trim().to_owned();
    Ok(if line == "q" {
        Answer::Quit
    } else {
        Answer::Text(line)
    })
}

impl Session<'_> {
    /// Returns how many rules were appended.
    fn run(mut self, input: &mut impl BufRead, out: &mut impl Write) -> anyhow::Result<usize> {
        let mut added = 0;
        let mut skipped: Vec<String> = Vec::new();
        for round in 0..self.top {
            let groups = unknown_groups(self.rows, &self.classes);
            let Some(group) = groups.iter().find(|g| !skipped.contains(&g.key)) else {
                writeln!(out, "no unknown failures left to review")?;
                break;
            };
            let unknown = unknown_count(&groups);
            writeln!(
                out,
                "\n[{}/{}] {} failures ({unknown} unknown in all): {}",
                round + 1,
                self.top,
                group.rows.len(),
                group.key
            )?;
            let example = group.rows[0];
            writeln!(
                out,
                "  e.g. test {} ({} {}):",
                example.test_id, example.implementation, example.stage
            )?;
            for line in String::from_utf8_lossy(&example.text.kept).lines().take(8) {
                writeln!(out, "  | {line}")?;
            }
            let key = group.key.clone();
            match self.propose(input, out)? {
                Some(true) => added += 1,
                Some(false) => skipped.push(key),
                None => break,
            }
        }
        Ok(added)
    }

    /// Asks for a rule for the current group. `Some(true)`: appended; `Some(false)`: skipped;
    /// `None`: quit.
    fn propose(
        &mut self,
        input: &mut impl BufRead,
        out: &mut impl Write,
    ) -> anyhow::Result<Option<bool>> {
        let candidate = loop {
            let pattern = match ask(input, out, "regex (empty: skip this group, q: quit)> ")? {
                Answer::Quit => return Ok(None),
                Answer::Text(t) if t.is_empty() => return Ok(Some(false)),
                Answer::Text(t) => t,
            };
            match self.rules.build_with(&candidate_rule(&pattern)) {
                Ok(rules) => break (pattern, rules),
                Err(e) => writeln!(out, "  not a usable rule: {e:#}")?,
            }
        };
        let (pattern, candidate_rules) = candidate;
        let effect = triage::score(&candidate_rules, self.rows, &self.classes);
        writeln!(
            out,
            "  catches {} of {} unknown failures; steals {} from existing rules; {} already-classified failures also match but keep their earlier rule",
            effect.caught, effect.unknown, effect.stolen, effect.overlap
        )?;
        let id = loop {
            let Answer::Text(id) = ask(input, out, "rule id (kebab-case)> ")? else {
                return Ok(None);
            };
            match self
                .rules
                .build_with(&RuleSpec::new(&id, &pattern, Category::Unknown, "check"))
            {
                Ok(_) => break id,
                Err(e) => writeln!(out, "  {e:#}")?,
            }
        };
        let category = loop {
            let Answer::Text(text) = ask(input, out, "category (implementation, resolver, flake, network, deprecated, harness, limits, unknown)> ")? else {
                return Ok(None);
            };
            match text.parse::<Category>() {
                Ok(c) => break c,
                Err(_) => {
                    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                    writeln!(
                        out,
                        "  unknown category '{text}' (one of: {})",
                        names.join(", ")
                    )?
                }
            }
        };
        let description = loop {
            let Answer::Text(text) = ask(input, out, "description> ")? else {
                return Ok(None);
            };
            if !text.is_empty() {
                break text;
            }
        };
        let prompt = format!("append rule '{id}' to {}? [y/N]> ", self.target.display());
        let Answer::Text(yes) = ask(input, out, &prompt)? else {
            return Ok(None);
        };
        if !yes.eq_ignore_ascii_case("y") {
            return Ok(Some(false));
        }
        let rule = RuleSpec::new(&id, &pattern, category, &description);
        let rules = self.rules.build_with(&rule)?;
        append_rule(self.target, &rule.to_toml()?)?;
        self.classes = classify_rows(&rules, self.rows, true);
        writeln!(out, "  appended to {}", self.target.display())?;
        Ok(Some(true))
    }
}

fn append_rule(file: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("cannot open {} to append the rule", file.display()))?;
    let separator = if f.metadata()?.len() > 0 { "\n" } else { "" };
    write!(f, "{separator}{text}")
        .with_context(|| format!("cannot append to {}", file.display()))?;
    f.sync_all()?;
    Ok(())
}
