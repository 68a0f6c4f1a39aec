//! `gnfc history FLAKE`: one flake's results across runs, and where they changed.

use std::process::ExitCode;

use super::Context;
use crate::cli::ViewFormat;

pub async fn history(ctx: &Context, flake: &str, format: ViewFormat) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let snapshots = db.flake_snapshots(flake).await?;
    // Every snapshot is of the same repo and subdir: that is what names a flake over time.
    let tests = match snapshots.first() {
        Some(first) => db.flake_tests(first.repo_id, &first.subdir).await?,
        None => Vec::new(),
    };
    let history = gnfc_reports::flake_history(&db.runs().await?, &snapshots, &tests);
    match format {
        ViewFormat::Text if history.runs.is_empty() => {
            println!("{}: no run has tested it yet", history.flake);
        }
        ViewFormat::Text => print!("{}", gnfc_reports::history_text(&history)),
        ViewFormat::Json => println!("{}", serde_json::to_string_pretty(&history)?),
    }
    Ok(ExitCode::SUCCESS)
}
