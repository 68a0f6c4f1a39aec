//! `gnfc scrape sourcegraph | grep-app | github | list`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use gnfc_scrapers::sources::github::{Github, GithubOptions};
use gnfc_scrapers::sources::grep_app::{GrepApp, GrepAppOptions};
use gnfc_scrapers::sources::list::List;
use gnfc_scrapers::sources::sourcegraph::{Sourcegraph, SourcegraphOptions};
use gnfc_scrapers::{Http, HttpOptions, ScrapeReport, SharedProgress, Source};

use super::Context;
use crate::cli::{ScrapeArgs, ScrapeCommand};
use crate::config::Secret;
use crate::exit::Status;
use crate::ui::{plural, BarProgress};

/// An environment variable, else the config's token.
fn token(env: &str, config: Option<&Secret>) -> Option<String> {
    std::env::var(env)
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| config.map(|s| s.0.clone()))
}

fn terms(args: &ScrapeArgs, default: &str) -> String {
    if args.terms.is_empty() {
        default.to_owned()
    } else {
        args.terms.join(" ")
    }
}

pub async fn scrape(ctx: &Context, command: ScrapeCommand) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let settings = &ctx.config.config.scrape;
    let progress = Arc::new(BarProgress::new(ctx.quiet, None));
    let shared: SharedProgress = progress.clone();
    let http = || Http::new(HttpOptions::default(), shared.clone());
    let (source, restart): (Box<dyn Source>, bool) = match command {
        ScrapeCommand::Sourcegraph { endpoint, common } => (
            Box::new(Sourcegraph::new(
                http()?,
                SourcegraphOptions {
                    endpoint: endpoint.unwrap_or_else(|| settings.sourcegraph.endpoint.clone()),
                    token: token("SRC_ACCESS_TOKEN", settings.sourcegraph.token.as_ref()),
                    terms: terms(&common, &settings.sourcegraph.terms),
                },
            )),
            common.restart,
        ),
        ScrapeCommand::GrepApp {
            endpoint,
            page_cap,
            common,
        } => (
            Box::new(GrepApp::new(
                http()?,
                GrepAppOptions {
                    endpoint: endpoint.unwrap_or_else(|| settings.grep_app.endpoint.clone()),
                    terms: terms(&common, &settings.grep_app.terms),
                    page_cap: page_cap.unwrap_or(settings.grep_app.page_cap),
                },
            )),
            common.restart,
        ),
        ScrapeCommand::Github { api, common } => (
            Box::new(Github::new(
                GithubOptions {
                    api: api.unwrap_or_else(|| settings.github.api.clone()),
                    token: token("GITHUB_TOKEN", settings.github.token.as_ref()),
                    terms: terms(&common, &settings.github.terms),
                    min_wait_secs: settings.github.min_wait_secs,
                    // Code search indexes files below 384 KiB.
                    max_size: 384 * 1024,
                },
                shared.clone(),
            )?),
            common.restart,
        ),
        ScrapeCommand::List { file, restart } => {
            (Box::new(List::open(file, shared.clone())?), restart)
        }
    };
    let name = source.name();
    progress.bar.set_prefix(name);
    let bar = progress.bar.clone();
    let on_page = move |r: &ScrapeReport| {
        bar.set_prefix(format!(
            "{name}: {} pages, {} found, {} new repos",
            r.pages, r.found, r.new_repos
        ));
    };
    let result = gnfc_scrapers::scrape(source.as_ref(), &db, progress.as_ref(), restart, &on_page)
        .await
        .with_context(|| format!("the {name} scrape stopped"));
    progress.bar.finish_and_clear();
    db.close().await;
    let (report, stopped) = result?;
    println!(
        "{}: {} page{}, {} flake file{} found: {} new repo{}, {} already known{}",
        report.source,
        report.pages,
        plural(report.pages),
        report.found,
        plural(report.found),
        report.new_repos,
        plural(report.new_repos),
        report.duplicates,
        if report.resumed {
            " (resumed an interrupted scrape)"
        } else {
            ""
        }
    );
    match stopped {
        Some(e) => {
            eprintln!("error: the {name} scrape stopped: {e}");
            Ok(Status::Partial.into())
        }
        None => {
            if !ctx.quiet {
                println!("`gnfc fetch` fetches the new repos");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
