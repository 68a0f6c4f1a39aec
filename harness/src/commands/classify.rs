//! `gnfc classify`: re-classify stored stderr after the rules changed, without re-running
//! (the work is in `crate::reclassify`). The triage views (`--explain`, `--unknown`, `--interactive`) live in `triage`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_classifier::{Overrides, RuleSet};

use super::{pick_run, Context};
use crate::reclassify::reclassify;

/// The built-in rules followed by the user's files from `classifier.rules`.
pub(crate) fn load_rules(ctx: &Context) -> anyhow::Result<RuleSet> {
    RuleSet::builtin_and(&user_rule_files(ctx))
        .context("cannot load the classifier rules (classifier.rules in gnfc.toml)")
}

/// The user's rule files (`classifier.rules`), resolved against the config's directory.
pub(crate) fn user_rule_files(ctx: &Context) -> Vec<PathBuf> {
    let files = &ctx.config.config.classifier.rules;
    files.iter().map(|f| ctx.config.path(f)).collect()
}

/// The reviewed overrides named by `classifier.overrides`, if any.
pub(crate) fn load_overrides(ctx: &Context, rules: &RuleSet) -> anyhow::Result<Overrides> {
    match &ctx.config.config.classifier.overrides {
        Some(file) => Overrides::load(&ctx.config.path(file), rules)
            .context("cannot load the reviewed overrides (classifier.overrides in gnfc.toml)"),
        None => Ok(Overrides::default()),
    }
}

pub async fn classify(ctx: &Context, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = load_rules(ctx)?;
    let overrides = load_overrides(ctx, &rules)?;
    let moved = reclassify(&db, &run, &rules, &overrides, ctx.quiet).await?;
    moved.print(&run, &rules, &overrides);
    Ok(ExitCode::SUCCESS)
}
