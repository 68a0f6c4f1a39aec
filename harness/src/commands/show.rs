//! `gnfc show TEST`: everything recorded about one test, with the classifier's reason for its
//! class marked in the stderr it came from.

use std::process::ExitCode;

use gnfc_classifier::{Input, Overrides, RuleSet};
use gnfc_data::{verdict, Db, StderrRow, TestRow};

use super::Context;
use crate::ui::MatchedLine;
use crate::wiring::{load_overrides, load_rules};

pub async fn show(ctx: &Context, test_id: i64) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let test = db.get_test(test_id).await?;
    let rules = load_rules(ctx)?;
    let overrides = load_overrides(ctx, &rules)?;
    print_summary(&db, &test, &overrides).await?;
    for (row, classifying) in db.test_stderr(test.id).await? {
        print_stderr(&row, classifying.then_some(&rules));
    }
    print_lockfile(&db, &test).await?;
    print_outputs(&db, &test).await?;
    Ok(ExitCode::SUCCESS)
}

async fn print_summary(db: &Db, test: &TestRow, overrides: &Overrides) -> anyhow::Result<()> {
    let run = db.run(&test.run_id.to_string()).await?;
    let revision = db
        .flake_snapshots(&test.flake_id.to_string())
        .await?
        .into_iter()
        .find(|f| f.id == test.flake_id)
        .map(|f| f.revision)
        .unwrap_or_default();
    println!("test {} of run '{}'", test.id, run.name);
    println!(
        "flake     {} (snapshot {}, revision {revision})",
        test.flake, test.flake_id
    );
    println!("combo     {}/{}", test.implementation, test.resolver);
    println!("outcome   {}", verdict(test.outcome, test.class.as_deref()));
    if let Some(category) = &test.category {
        println!("category  {category}");
    }
    if let Some(detail) = &test.detail {
        println!("detail    {detail}");
    }
    if let Some(pinned) = overrides.get(test.id) {
        println!(
            "override  pinned to {} ({}) by the reviewed overrides: {}",
            pinned.class, pinned.category, pinned.note
        );
    }
    let flaky = if test.flaky {
        format!(
            " (flaky: the first attempt ended {})",
            verdict(test.flaky_first_outcome, test.flaky_first_class.as_deref())
        )
    } else {
        String::new()
    };
    println!("attempt   {}{flaky}", test.attempt);
    let ms = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
    println!(
        "timings   lock {}, enumerate {}, eval {}, total {}",
        ms(test.lock_ms),
        ms(test.enumerate_ms),
        ms(test.eval_ms),
        ms(test.total_ms)
    );
    if let Some(code) = test.exit_code {
        println!("exit code {code}");
    }
    Ok(())
}

/// One stage's stderr, its lines numbered; for the stderr a class was taken from (`rules`
/// given), the rule that wins now and the line it matched, marked `>` and underlined.
fn print_stderr(row: &StderrRow, rules: Option<&RuleSet>) {
    let stage = match row.attr_path.as_str() {
        "" => row.stage.to_string(),
        attr => format!("{} of {attr}", row.stage),
    };
    println!(
        "\n== {stage} stderr ({} bytes kept of {})",
        row.text.kept.len(),
        row.text.total_bytes
    );
    let explanation = rules.map(|rules| rules.explain(Input::from(row)));
    let winner = explanation
        .as_ref()
        .and_then(|e| e.hits.iter().find(|h| h.applies));
    let marked = winner.map(|hit| MatchedLine::of(&row.text.kept, hit.span.clone()));
    if let Some(why) = &explanation {
        let stored = row.class.as_deref().unwrap_or("-");
        match winner {
            Some(hit) => println!(
                "class {stored}; the rule that wins: {} [{}] {} ({}, rule #{})",
                hit.rule.id,
                hit.rule.category,
                hit.rule.description,
                hit.rule.origin,
                hit.rule.position
            ),
            None => println!("class {stored}; no rule matches"),
        }
        if why.class.id != stored {
            println!(
                "  (the rules now say {}: `gnfc classify --run RUN` re-classifies)",
                why.class.id
            );
        }
    }
    let text = String::from_utf8_lossy(&row.text.kept);
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        match &marked {
            Some(m) if m.number == number => {
                println!("{}", m.underlined(&format!(">{number:>5} | ")));
            }
            _ => println!("{number:>6} | {line}"),
        }
    }
}

async fn print_lockfile(db: &Db, test: &TestRow) -> anyhow::Result<()> {
    let Some(hash) = &test.lockfile_hash else {
        println!("\n== lockfile: none recorded");
        return Ok(());
    };
    let Some(lock) = db.lockfile(hash).await? else {
        println!("\n== lockfile {hash}: not stored");
        return Ok(());
    };
    println!("\n== lockfile ({} inputs, sha256 {hash})", lock.nodes);
    match serde_json::from_slice::<serde_json::Value>(&lock.content) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{}", String::from_utf8_lossy(&lock.content)),
    }
    Ok(())
}

async fn print_outputs(db: &Db, test: &TestRow) -> anyhow::Result<()> {
    let outputs = db.test_outputs(test.id).await?;
    println!(
        "\n== outputs ({} evaluated, {} failed)",
        outputs.len(),
        test.outputs_failed
    );
    for o in &outputs {
        let result = match (&o.drv_path, &o.class) {
            (Some(drv), _) => drv.clone(),
            (None, Some(class)) => format!(
                "class {class}{}",
                o.category
                    .as_ref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default()
            ),
            (None, None) => "-".to_owned(),
        };
        println!(
            "{:<8} {}  {result}  ({} ms)",
            o.status.as_str(),
            o.attr_path,
            o.eval_ms
        );
    }
    Ok(())
}
