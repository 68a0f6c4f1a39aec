//! Scrape ingest rate: results per second that `gnfc scrape sourcegraph` parses and stores
//! from a large recorded stream, against parsing alone in the same run.
//!
//! The stream (N flake files in N/2 repos, Sourcegraph's format) is served by a loopback
//! replay; the full path is HTTP + SSE parsing + storing every page in a fresh SQLite
//! database, exactly what the command does. Run by `benches/scrape_ingest.sh`.

use std::sync::Arc;
use std::time::Instant;

use gnfc_data::Db;
use gnfc_scrapers::fixtures::{FixtureServer, IndexedRepo, SourcegraphReplay};
use gnfc_scrapers::sources::sourcegraph::{parse_recorded, Sourcegraph, SourcegraphOptions};
use gnfc_scrapers::{scrape, Http, HttpOptions, Silent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let repos: Vec<IndexedRepo> = (0..files / 2)
        .map(|i| {
            IndexedRepo::new(
                &format!("github.com/owner{}/repo-{i}", i % 997),
                &["flake.nix", "nix/dev/flake.nix"],
            )
        })
        .collect();
    let replay = SourcegraphReplay::new(repos, usize::MAX);
    let body = replay.stream(r"file:(^|/)flake\.nix$ select:file count:all");
    println!(
        "recorded stream: {files} results, {} MB",
        body.len() / 1_000_000
    );
    let http = Http::new(HttpOptions::default(), Arc::new(Silent))?;

    // Baseline: SSE + JSON parsing of the same bytes, nothing stored.
    let start = Instant::now();
    let parsed = parse_recorded(body.as_bytes(), &http)?;
    let parse_secs = start.elapsed().as_secs_f64();
    assert_eq!(parsed.len(), files);

    // The whole command path: served over HTTP, parsed, stored page by page.
    let server = FixtureServer::start(move |r| replay.answer(r)).await?;
    let dir = tempfile::tempdir()?;
    let db = Db::open(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await?;
    let source = Sourcegraph::new(
        http,
        SourcegraphOptions {
            endpoint: server.url(),
            token: None,
            terms: String::new(),
        },
    );
    let start = Instant::now();
    let (report, error) = scrape(&source, &db, &Silent, false, &|_| {}).await?;
    let full_secs = start.elapsed().as_secs_f64();
    if let Some(e) = error {
        return Err(e.into());
    }
    assert_eq!(report.found as usize, files);
    assert_eq!(report.new_repos as usize, files / 2);
    db.close().await;

    let rate = |secs: f64| files as f64 / secs;
    println!(
        "parse only:            {:>10.0} results/s ({parse_secs:.2} s)",
        rate(parse_secs)
    );
    println!(
        "fetch + parse + store: {:>10.0} results/s ({full_secs:.2} s)",
        rate(full_secs)
    );
    println!(
        "store overhead ratio (full / parse-only time): {:.2}",
        full_secs / parse_secs
    );
    Ok(())
}
