//! `gnfc classify`: re-classify stored stderr after the rules changed, without re-running
//! (the work is in `crate::reclassify`). The triage views (`--explain`, `--unknown`,
//! `--interactive`) live in `triage`.

use std::process::ExitCode;

use super::{pick_run, Context};
use crate::reclassify::reclassify;
use crate::wiring::{load_overrides, load_rules};

pub async fn classify(ctx: &Context, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = load_rules(ctx)?;
    let overrides = load_overrides(ctx, &rules)?;
    let moved = reclassify(&db, &run, &rules, &overrides, ctx.quiet).await?;
    moved.print(&run, &rules, &overrides);
    Ok(ExitCode::SUCCESS)
}
