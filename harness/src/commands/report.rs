//! `gnfc status` and `gnfc report`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_reports::RunData;

use super::{pick_run, Context};
use crate::cli::{ReportArgs, ReportFormat};
use crate::ui::spinner;

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

pub async fn report(ctx: &Context, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, args.run.as_deref()).await?;
    let bar = spinner(ctx.quiet, format!("loading run '{}'", run.name), None);
    let started = std::time::Instant::now();
    let data = RunData::load(&db, run).await?;
    tracing::info!(
        "loaded {} tests in {:?}",
        data.tests.len(),
        started.elapsed()
    );
    bar.set_message("analysing");
    let analysis = gnfc_reports::analyse(&db, &data).await?;
    tracing::info!("analysed at {:?}", started.elapsed());
    bar.set_message("writing");
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written: anyhow::Result<()> = if args.retry_list {
        gnfc_reports::retry_list(&data, &analysis.pairs)
            .iter()
            .try_for_each(|f| writeln!(out, "{f}"))
            .map_err(Into::into)
    } else {
        match args.format {
            ReportFormat::Md => {
                let md = gnfc_reports::report_markdown(&db, &data.run, &analysis).await?;
                writeln!(out, "{md}").map_err(Into::into)
            }
            ReportFormat::Json => {
                gnfc_reports::json_report(&mut out, &data, &analysis).map_err(Into::into)
            }
            ReportFormat::Html => gnfc_reports::html_report(&mut out, &db, &data, &analysis)
                .await
                .map_err(Into::into),
            ReportFormat::Csv => gnfc_reports::tests_csv(&mut out, &data).map_err(Into::into),
            ReportFormat::CsvOutputs => {
                gnfc_reports::outputs_csv(&mut out, &data).map_err(Into::into)
            }
        }
    };
    written
        .and_then(|()| out.flush().map_err(Into::into))
        .with_context(|| match &args.output {
            Some(path) => format!("cannot write the report to {}", path.display()),
            None => "cannot write the report to standard output".to_owned(),
        })?;
    bar.finish_and_clear();
    tracing::info!("written at {:?}", started.elapsed());
    Ok(ExitCode::SUCCESS)
}
