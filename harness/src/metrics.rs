//! Prometheus metrics of a run, rendered for `gnfc metrics` (stdout or a node-exporter
//! textfile) and served live at `/metrics` by `gnfc run --metrics-listen`.
//!
//! Every value is read from the database at render time, so the textfile of a finished run
//! and the endpoint of a running one say the same thing, and a resumed run continues where
//! its counters were. Labels are bounded by the configuration and the rules (run,
//! implementation, resolver, stage, outcome, status, class, category): never a flake name or
//! a test id.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context as _;
use gnfc_data::{class, Category, Db, Outcome, RunRow, TestRow};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Stage durations span a trivial flake's 0.1 s lock to a nixpkgs evaluation's minutes.
const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The run's metrics, then those of `extra` registries (the proxy's), in the text format.
pub(crate) async fn render(db: &Db, run_id: i64, extra: &[Registry]) -> anyhow::Result<String> {
    let run = db.run(&run_id.to_string()).await?;
    let registry = run_registry(db, &run).await?;
    let mut families = registry.gather();
    for other in extra {
        families.extend(other.gather());
    }
    let mut out = Vec::new();
    TextEncoder::new().encode(&families, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// Builds the families of one run from what the database holds now.
async fn run_registry(db: &Db, run: &RunRow) -> anyhow::Result<Registry> {
    let registry = Registry::new();
    let tests_total = IntCounterVec::new(
        Opts::new("gnfc_tests_total", "Recorded tests by outcome"),
        &["run", "implementation", "resolver", "outcome"],
    )?;
    let failures_total = IntCounterVec::new(
        Opts::new(
            "gnfc_test_failures_total",
            "Failed tests by the stage that failed and their error class",
        ),
        &[
            "run",
            "implementation",
            "resolver",
            "stage",
            "class",
            "category",
        ],
    )?;
    let outputs_total = IntCounterVec::new(
        Opts::new("gnfc_outputs_total", "Evaluated outputs by status"),
        &["run", "implementation", "resolver", "status"],
    )?;
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "gnfc_test_duration_seconds",
            "Wall-clock time of each test stage",
        )
        .buckets(DURATION_BUCKETS.to_vec()),
        &["run", "implementation", "resolver", "stage"],
    )?;
    let planned = IntGaugeVec::new(
        Opts::new("gnfc_run_tests_planned", "Tests in the run's plan"),
        &["run"],
    )?;
    let done = IntGaugeVec::new(
        Opts::new("gnfc_run_tests_done", "Tests of the run recorded so far"),
        &["run"],
    )?;
    registry.register(Box::new(tests_total.clone()))?;
    registry.register(Box::new(failures_total.clone()))?;
    registry.register(Box::new(outputs_total.clone()))?;
    registry.register(Box::new(duration.clone()))?;
    registry.register(Box::new(planned.clone()))?;
    registry.register(Box::new(done.clone()))?;

    let name = run.name.as_str();
    planned.with_label_values(&[name]).set(run.planned);
    done.with_label_values(&[name]).set(run.done);
    let tests = db.tests(run.id).await?;
    let mut combo_of: HashMap<i64, (&str, &str)> = HashMap::new();
    for test in &tests {
        let (imp, res) = (test.implementation.as_str(), test.resolver.as_str());
        combo_of.insert(test.id, (imp, res));
        let Some(outcome) = test.outcome else {
            continue;
        };
        tests_total
            .with_label_values(&[name, imp, res, outcome.as_str()])
            .inc();
        if let Some(stage) = failed_stage(test, outcome) {
            failures_total
                .with_label_values(&[
                    name,
                    imp,
                    res,
                    stage,
                    test.class.as_deref().unwrap_or(class::UNKNOWN),
                    test.category
                        .as_deref()
                        .unwrap_or(Category::Unknown.as_str()),
                ])
                .inc();
        }
        for (stage, ms) in [
            ("lock", test.lock_ms),
            ("enumerate", test.enumerate_ms),
            ("eval", test.eval_ms),
        ] {
            if let Some(ms) = ms {
                duration
                    .with_label_values(&[name, imp, res, stage])
                    .observe(ms as f64 / 1000.0);
            }
        }
    }
    for output in db.outputs(run.id).await? {
        if let Some((imp, res)) = combo_of.get(&output.test_id) {
            outputs_total
                .with_label_values(&[name, imp, res, output.status.as_str()])
                .inc();
        }
    }
    Ok(registry)
}

/// The stage a test failed at, `None` when it passed or did not apply.
fn failed_stage(test: &TestRow, outcome: Outcome) -> Option<&'static str> {
    Some(match outcome {
        Outcome::Pass | Outcome::Skipped => return None,
        Outcome::LockFail => "lock",
        Outcome::EnumerateFail => "enumerate",
        Outcome::Partial => "eval",
        Outcome::HarnessError => "prepare",
        // A stage's time is recorded when it ends: the first stage without one ran out.
        Outcome::Timeout if test.lock_ms.is_none() => "lock",
        Outcome::Timeout if test.enumerate_ms.is_none() => "enumerate",
        Outcome::Timeout => "eval",
    })
}

/// Serves `/metrics` for a run until the returned task is aborted.
pub(crate) async fn serve(
    addr: SocketAddr,
    db: Db,
    run_id: i64,
    extra: Vec<Registry>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for --metrics-listen (is the port in use?)")
    })?;
    let extra = std::sync::Arc::new(extra);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (db, extra) = (db.clone(), extra.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (db, extra) = (db.clone(), extra.clone());
                    async move { Ok::<_, Infallible>(respond(req, &db, run_id, &extra).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    tracing::debug!("metrics connection: {e}");
                }
            });
        }
    }))
}

type Body = http_body_util::Full<bytes::Bytes>;

async fn respond(
    req: hyper::Request<hyper::body::Incoming>,
    db: &Db,
    run_id: i64,
    extra: &[Registry],
) -> hyper::Response<Body> {
    let reply = |status: u16, content_type: &str, body: String| {
        let mut response = hyper::Response::new(Body::new(body.into()));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    if req.uri().path() != "/metrics" {
        return reply(404, "text/plain", "gnfc serves /metrics only\n".to_owned());
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return reply(405, "text/plain", "use GET /metrics\n".to_owned());
    }
    match render(db, run_id, extra).await {
        Ok(text) => reply(200, prometheus::TEXT_FORMAT, text),
        Err(e) => reply(
            500,
            "text/plain",
            format!("cannot read the run's metrics: {e:#}\n"),
        ),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Other components' registries (the proxy registers its counters on one) are served
    /// after the run's own families.
    #[tokio::test]
    async fn extra_registries_are_included() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let run = gnfc_data::NewRun {
            name: "night \"1\"".to_owned(),
            config: String::new(),
            host: "{}".to_owned(),
        };
        let run_id = db.create_run(&run, &[]).await.unwrap();
        let proxy = Registry::new();
        let hits = prometheus::IntCounter::new("gnfc_proxy_cache_hits_total", "hits").unwrap();
        proxy.register(Box::new(hits.clone())).unwrap();
        hits.inc_by(3);
        let text = render(&db, run_id, &[proxy]).await.unwrap();
        assert!(
            text.contains("gnfc_run_tests_planned{run=\"night \\\"1\\\"\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("gnfc_proxy_cache_hits_total 3\n"), "{text}");
    }
}
