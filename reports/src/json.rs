//! The JSON report: every test with its outputs, then the analysis. Documented in
//! docs/REPORT-JSON.md; streamed one test per line, so its size is not bounded by memory.

use std::io::Write;

use gnfc_data::{Outcome, OutputStatus, RunRow};
use serde::Serialize;

use crate::dataset::{OutputResult, RunData, TestResult};
use crate::Analysis;

/// Bumped whenever a field changes meaning or disappears; adding fields does not bump it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct TestJson<'a> {
    id: i64,
    flake_id: i64,
    flake: &'a str,
    implementation: &'a str,
    resolver: &'a str,
    outcome: Option<Outcome>,
    class: Option<&'a str>,
    category: Option<&'a str>,
    detail: Option<&'a str>,
    exit_code: Option<i64>,
    lock_ms: Option<i64>,
    enumerate_ms: Option<i64>,
    eval_ms: Option<i64>,
    total_ms: Option<i64>,
    lockfile_hash: Option<&'a str>,
    attempt: i64,
    outputs_total: usize,
    outputs_failed: usize,
    flaky: bool,
    /// `outcome (class)`, as in schema version 1; the two parts follow.
    flaky_first: Option<String>,
    flaky_first_outcome: Option<Outcome>,
    flaky_first_class: Option<&'a str>,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    test_id: i64,
    attr_path: &'a str,
    status: OutputStatus,
    drv_path: Option<&'a str>,
    eval_ms: i64,
    class: Option<&'a str>,
    category: Option<&'a str>,
    detail: Option<&'a str>,
}

fn test_json<'a>(data: &'a RunData, t: &'a TestResult) -> TestJson<'a> {
    let (implementation, resolver) = data.implementation_resolver(t.combo);
    let outputs = data.outputs_of(t);
    TestJson {
        id: t.id,
        flake_id: t.flake_id,
        flake: data.flakes.get(t.flake as usize).map_or("", String::as_str),
        implementation,
        resolver,
        outcome: t.outcome,
        class: data.str(t.class),
        category: data.str(t.category),
        detail: t.detail.as_deref(),
        exit_code: t.exit_code,
        lock_ms: t.lock_ms,
        enumerate_ms: t.enumerate_ms,
        eval_ms: t.eval_ms,
        total_ms: t.total_ms,
        lockfile_hash: data.str(t.lockfile),
        attempt: t.attempt,
        outputs_total: outputs.len(),
        outputs_failed: outputs
            .iter()
            .filter(|o| o.status != OutputStatus::Pass)
            .count(),
        flaky: t.flaky,
        flaky_first: data.first_verdict(t),
        flaky_first_outcome: t.flaky_first,
        flaky_first_class: data.str(t.flaky_first_class),
        outputs: outputs.iter().map(|o| output_json(data, t, o)).collect(),
    }
}

fn output_json<'a>(data: &'a RunData, t: &TestResult, o: &'a OutputResult) -> OutputJson<'a> {
    OutputJson {
        test_id: t.id,
        attr_path: data.strings.get(o.attr),
        status: o.status,
        drv_path: o.drv_path.as_deref(),
        eval_ms: o.eval_ms,
        class: data.str(o.class),
        category: data.str(o.category),
        detail: o.detail.as_deref(),
    }
}

/// Writes `{schema_version, run, tests: [...], analysis}`.
pub fn json_report(
    out: &mut impl Write,
    data: &RunData,
    analysis: &Analysis,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Head<'a> {
        schema_version: u32,
        run: &'a RunRow,
    }
    let head = serde_json::to_string(&Head {
        schema_version: JSON_SCHEMA_VERSION,
        run: &data.run,
    })?;
    // The head without its closing brace, then the tests, then the analysis.
    out.write_all(head.strip_suffix('}').unwrap_or(&head).as_bytes())?;
    out.write_all(b",\"tests\":[\n")?;
    for (i, t) in data.tests.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, &test_json(data, t))?;
    }
    out.write_all(b"\n],\"analysis\":")?;
    serde_json::to_writer(&mut *out, analysis)?;
    out.write_all(b"}\n")?;
    Ok(())
}
