//! `gnfc diff OLD NEW`: what changed between two runs, with an exit code for CI.

use std::process::ExitCode;

use gnfc_reports::RunData;

use super::Context;
use crate::cli::{DiffArgs, DiffFormat};
use crate::exit::Status;
use crate::ui::spinner;

pub async fn diff(ctx: &Context, args: DiffArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let (old, new) = (db.run(&args.old).await?, db.run(&args.new).await?);
    let bar = spinner(ctx.quiet, "loading both runs", None);
    let old = RunData::load(&db, old).await?;
    let new = RunData::load(&db, new).await?;
    let diff = gnfc_reports::diff_runs(&db, &old, &new).await?;
    bar.finish_and_clear();
    match args.format {
        DiffFormat::Md => println!("{}", gnfc_reports::diff_markdown(&diff)),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&diff)?),
    }
    Ok(if args.fail_on_regression && diff.has_regression() {
        Status::CheckFailed.into()
    } else {
        ExitCode::SUCCESS
    })
}
