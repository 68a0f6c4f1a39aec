use std::collections::BTreeMap;

use gnfc_data::{DataError, Db, OutputRow, RunRow, TestRow};
use serde::Serialize;

/// Bumped whenever a field changes meaning or disappears; adding fields does not bump it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    run: &'a RunRow,
    tests: Vec<TestWithOutputs>,
}

#[derive(Serialize)]
struct TestWithOutputs {
    #[serde(flatten)]
    test: TestRow,
    outputs: Vec<OutputRow>,
}

/// Every test of a run with its outcome, class, timings, lockfile hash and outputs.
pub async fn json_report(db: &Db, run: &RunRow) -> Result<String, DataError> {
    let tests = db.tests(run.id).await?;
    let mut outputs: BTreeMap<i64, Vec<OutputRow>> = BTreeMap::new();
    for o in db.outputs(run.id).await? {
        outputs.entry(o.test_id).or_default().push(o);
    }
    let report = Report {
        schema_version: JSON_SCHEMA_VERSION,
        run,
        tests: tests
            .into_iter()
            .map(|test| TestWithOutputs {
                outputs: outputs.remove(&test.id).unwrap_or_default(),
                test,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report)
        .map_err(|e| DataError::Corrupt(format!("cannot serialise the report: {e}")))
}
