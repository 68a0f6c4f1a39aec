//! `gnfc lock-diff TEST TEST`: two tests' lockfiles compared node by node.

use std::process::ExitCode;

use gnfc_data::{verdict, Db, TestRow};

use super::Context;
use crate::cli::ViewFormat;

pub async fn lock_diff(
    ctx: &Context,
    a: i64,
    b: i64,
    format: ViewFormat,
) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let (a, b) = (db.get_test(a).await?, db.get_test(b).await?);
    let diff = gnfc_reports::lock_diff(&lockfile(&db, &a).await?, &lockfile(&db, &b).await?)?;
    match format {
        ViewFormat::Text => {
            println!("a: {}\nb: {}\n", describe(&a), describe(&b));
            print!("{}", gnfc_reports::lock_diff_text(&diff, "a", "b"));
        }
        ViewFormat::Json => {
            let side = |t: &TestRow| {
                serde_json::json!({
                    "test": t.id,
                    "run_id": t.run_id,
                    "flake": t.flake,
                    "implementation": t.implementation,
                    "resolver": t.resolver,
                    "lockfile_hash": t.lockfile_hash,
                })
            };
            let out = serde_json::json!({ "a": side(&a), "b": side(&b), "diff": diff });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(test: &TestRow) -> String {
    format!(
        "test {} ({}, {}/{}, run {}): {}",
        test.id,
        test.flake,
        test.implementation,
        test.resolver,
        test.run_id,
        verdict(test.outcome, test.class.as_deref())
    )
}

async fn lockfile(db: &Db, test: &TestRow) -> anyhow::Result<Vec<u8>> {
    let stored = match &test.lockfile_hash {
        Some(hash) => db.lockfile(hash).await?,
        None => None,
    };
    match stored {
        Some(lock) => Ok(lock.content),
        None => anyhow::bail!(
            "test {} recorded no lockfile ({}): pick a test that locked",
            test.id,
            verdict(test.outcome, test.class.as_deref())
        ),
    }
}
