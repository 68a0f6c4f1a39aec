//! `gnfc fetch`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use gnfc_scrapers::fetch::{FetchOptions, FetchOutcome, Fetcher, ForgeUrls};
use gnfc_scrapers::{HttpOptions, SharedProgress, SourceStore};

use super::Context;
use crate::cli::FetchArgs;
use crate::exit::Status;
use crate::ui::{plural, BarProgress};

pub async fn fetch(ctx: &Context, args: FetchArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let settings = &ctx.config.config.fetch;
    let repos = db.repos_to_fetch(args.refetch).await?;
    if repos.is_empty() {
        println!(
            "nothing to fetch: every repo found is fetched (find more with `gnfc scrape`, or \
             pass --refetch)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let options = FetchOptions {
        jobs: args.jobs.unwrap_or(settings.jobs).max(1),
        per_host: args.per_host.unwrap_or(settings.per_host).max(1),
        method: args.method.unwrap_or(settings.method),
        pinned: args.pinned,
        forges: ForgeUrls {
            github: settings.github.clone(),
            github_api: settings.github_api.clone(),
            gitlab: settings.gitlab.clone(),
            sourcehut: settings.sourcehut.clone(),
        },
        http: HttpOptions {
            proxy: args.proxy.or_else(|| settings.proxy.clone()),
            ca_file: args
                .ca_file
                .or_else(|| settings.ca_file.as_ref().map(|p| ctx.config.path(p))),
            ..HttpOptions::default()
        },
    };
    let progress = Arc::new(BarProgress::new(ctx.quiet, Some(repos.len() as u64)));
    progress.bar.set_prefix("repos");
    let shared: SharedProgress = progress.clone();
    let store = SourceStore::new(ctx.storage().join("sources"));
    let fetcher = Fetcher::new(options, store, shared)?;
    let failures: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
    let bar = progress.bar.clone();
    let quiet = ctx.quiet;
    let on_done = |outcome: &FetchOutcome| {
        bar.inc(1);
        let r = &outcome.repo.repo;
        match &outcome.result {
            Ok(f) => {
                for p in &f.problems {
                    if !quiet {
                        bar.suspend(|| {
                            eprintln!(
                                "warning: {}/{}: {}: {}",
                                r.owner,
                                r.name,
                                p.path.display(),
                                p.message
                            )
                        });
                    }
                }
            }
            Err(e) => {
                if let Ok(mut f) = failures.lock() {
                    *f.entry(e.reason()).or_default() += 1;
                }
                bar.suspend(|| eprintln!("error: {} ({}/{}): {e}", r.url, r.owner, r.name));
            }
        }
    };
    let outcomes = fetcher.fetch_all(&db, repos, &on_done).await;
    progress.bar.finish_and_clear();
    db.close().await;
    let ok: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let flakes: usize = ok.iter().map(|f| f.flakes).sum();
    let new_flakes: usize = ok.iter().map(|f| f.new_flakes).sum();
    let failures = failures.into_inner().unwrap_or_default();
    let failed: u64 = failures.values().sum();
    let by_reason: Vec<String> = failures.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "fetched {} repo{} ({flakes} flakes, {new_flakes} new); {failed} failed{}",
        ok.len(),
        plural(ok.len() as u64),
        if by_reason.is_empty() {
            String::new()
        } else {
            format!(": {}", by_reason.join(", "))
        }
    );
    Ok(if failed > 0 {
        Status::Partial.into()
    } else {
        ExitCode::SUCCESS
    })
}
