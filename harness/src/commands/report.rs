//! `gnfc status` and `gnfc report`.

use std::process::ExitCode;

use super::{pick_run, Context};
use crate::cli::ReportFormat;

pub async fn status(ctx: &Context, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    if let Some(run) = run {
        let run = db.run(run).await?;
        println!("{}", gnfc_reports::summary_markdown(&db, &run).await?);
        return Ok(ExitCode::SUCCESS);
    }
    let runs = db.runs().await?;
    if runs.is_empty() {
        println!("no runs recorded yet: start one with `gnfc run`");
    }
    for run in runs {
        let state = if run.finished_at.is_some() {
            "finished"
        } else {
            "unfinished"
        };
        println!(
            "{:>4}  {:<32} {:>6}/{:<6} {state}",
            run.id, run.name, run.done, run.planned
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn report(
    ctx: &Context,
    run: Option<&str>,
    format: ReportFormat,
) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let text = match format {
        ReportFormat::Md => gnfc_reports::summary_markdown(&db, &run).await?,
        ReportFormat::Json => gnfc_reports::json_report(&db, &run).await?,
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
