//! The analyses on a real SQLite database filled through gnfc-data: per-output comparison of
//! partial tests, drvPath divergence, lock agreement and duplicated inputs, flaky marks, and
//! the formats that carry them (and how writing one fails).

#![allow(clippy::unwrap_used)]

use gnfc_data::{
    Classification, Db, NewFlake, NewRepo, NewRun, NewSnapshot, Outcome, OutputRecord,
    OutputStatus, PlannedTest, TestRecord,
};
use gnfc_reports::{compare_pair, Comparison, PairSide, ReportError, RunData};

fn class(id: &str, category: &str) -> Option<Classification> {
    Some(Classification {
        class: id.to_owned(),
        category: category.to_owned(),
        detail: None,
    })
}

fn output(attr: &str, status: OutputStatus, drv: &str) -> OutputRecord {
    OutputRecord {
        attr_path: attr.to_owned(),
        status,
        drv_path: (status == OutputStatus::Pass).then(|| format!("/nix/store/{drv}.drv")),
        eval_ms: 3,
        class: (status == OutputStatus::Fail)
            .then(|| class("assertion-failed", "flake"))
            .flatten(),
    }
}

fn lock(pins: &[(&str, &str)]) -> Vec<u8> {
    let mut nodes = serde_json::json!({"root": {"inputs": {}}});
    for (i, (repo, hash)) in pins.iter().enumerate() {
        nodes[format!("n{i}")] = serde_json::json!({
            "locked": {"type": "github", "owner": "o", "repo": repo, "narHash": hash},
            "original": {"type": "github", "owner": "o", "repo": repo},
        });
    }
    serde_json::to_vec(&serde_json::json!({"nodes": nodes, "root": "root", "version": 7})).unwrap()
}

fn record(outputs: Vec<OutputRecord>, lockfile: Vec<u8>) -> TestRecord {
    let failed = outputs.iter().any(|o| o.status != OutputStatus::Pass);
    TestRecord {
        outcome: if failed {
            gnfc_data::Outcome::Partial
        } else {
            gnfc_data::Outcome::Pass
        },
        exit_code: Some(i64::from(failed)),
        class: failed.then(|| class("assertion-failed", "flake")).flatten(),
        lock_ms: Some(10),
        enumerate_ms: Some(10),
        eval_ms: Some(10),
        total_ms: 30,
        lockfile: Some(lockfile),
        outputs,
        stderr: Vec::new(),
    }
}

/// The run's first combo against its second.
fn a_vs_b(data: &RunData) -> gnfc_reports::PairComparison {
    compare_pair(PairSide { data, combo: 0 }, PairSide { data, combo: 1 })
}

#[tokio::test]
async fn partial_outputs_drv_paths_locks_and_flaky() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let repo = NewRepo {
        forge: "local".into(),
        owner: "o".into(),
        name: "r".into(),
        url: "file:///r".into(),
        stars: None,
        default_branch: None,
    };
    let flakes: Vec<NewFlake> = ["", "x"]
        .iter()
        .map(|s| NewFlake {
            subdir: (*s).into(),
            flake_file: "flake.nix".into(),
        })
        .collect();
    let snapshot = NewSnapshot {
        revision: "rev",
        source_dir: "/src",
        committed_at: None,
        flakes: &flakes,
    };
    db.add_snapshot(&repo, &snapshot).await.unwrap();
    let corpus = db.corpus().await.unwrap();
    let mut plan = Vec::new();
    for f in &corpus {
        for imp in ["nix-a", "nix-b"] {
            plan.push(PlannedTest {
                flake_id: f.id,
                implementation: imp.into(),
                resolver: "native".into(),
            });
        }
    }
    let run = NewRun {
        name: "r".into(),
        config: String::new(),
        host: "{}".into(),
    };
    let run_id = db.create_run(&run, &plan).await.unwrap();
    let pending = db.pending_tests(run_id).await.unwrap();
    // o/r: nix-a passes both outputs; nix-b fails one, and the other's drvPath differs; the
    // locks pin nixpkgs differently, and nix-b's locks it twice.
    // o/r/x: identical on both.
    for t in &pending {
        let b = t.implementation == "nix-b";
        let rec = if t.flake.subdir.is_empty() {
            if b {
                record(
                    vec![
                        output("packages.p", OutputStatus::Pass, "bbb-p"),
                        output("checks.c", OutputStatus::Fail, ""),
                    ],
                    lock(&[("nixpkgs", "h2"), ("nixpkgs", "h3")]),
                )
            } else {
                record(
                    vec![
                        output("packages.p", OutputStatus::Pass, "aaa-p"),
                        output("checks.c", OutputStatus::Pass, "aaa-c"),
                    ],
                    lock(&[("nixpkgs", "h1")]),
                )
            }
        } else {
            record(
                vec![output("packages.q", OutputStatus::Pass, "same-q")],
                lock(&[("nixpkgs", "h1"), ("utils", "u1")]),
            )
        };
        db.record_test(t.test_id, &rec).await.unwrap();
    }
    db.finish_run(run_id).await.unwrap();

    let data = RunData::load(&db, db.run("r").await.unwrap())
        .await
        .unwrap();
    assert_eq!(data.combos, vec!["nix-a/native", "nix-b/native"]);
    let pair = a_vs_b(&data);
    assert_eq!(pair.count(Comparison::Regressed), 1);
    assert_eq!(pair.count(Comparison::SamePass), 1);
    let change = &pair.changes[0];
    assert_eq!(change.flake, "o/r");
    assert_eq!(change.class.as_deref(), Some("assertion-failed"));
    assert_eq!(change.outputs.len(), 1, "{:?}", change.outputs);
    assert_eq!(change.outputs[0].attr_path, "checks.c");
    assert_eq!(change.outputs[0].comparison, Comparison::Regressed);

    let analysis = gnfc_reports::analyse(&db, &data).await.unwrap();
    let drv = &analysis.drv_divergence[0];
    assert_eq!(drv.count, 1);
    assert_eq!(drv.outputs[0].attr_path, "packages.p");
    let locks = &analysis.lockfiles;
    assert_eq!((locks.flakes_compared, locks.flakes_agreeing), (2, 1));
    assert_eq!(locks.disagreements[0].flake, "o/r");
    assert!(locks.disagreements[0].differing_inputs[0].contains("nixpkgs"));
    assert_eq!(locks.per_combo[0].mean, 1.5);
    assert_eq!(locks.per_combo[1].mean, 2.0);
    assert_eq!(locks.per_combo[1].locks_with_duplicates, 1);
    assert_eq!(locks.duplicated_inputs.len(), 1);

    // The JSON report parses and carries the analysis; CSV has a row per test and output.
    let mut json = Vec::new();
    gnfc_reports::json_report(&mut json, &data, &analysis).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["tests"].as_array().unwrap().len(), 4);
    assert_eq!(json["analysis"]["pairs"][0]["counts"]["regressed"], 1);
    let mut csv = Vec::new();
    gnfc_reports::outputs_csv(&mut csv, &data).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1 + 6);

    // A test marked flaky compares as flaky, whatever its result.
    let b_test = pair.changes[0].b_test.unwrap();
    db.mark_flaky(b_test, Outcome::Partial, Some("assertion-failed"))
        .await
        .unwrap();
    let data = RunData::load(&db, db.run("r").await.unwrap())
        .await
        .unwrap();
    let pair = a_vs_b(&data);
    assert_eq!(pair.count(Comparison::Flaky), 1);
    assert_eq!(pair.count(Comparison::Regressed), 0);
    let mut html = Vec::new();
    gnfc_reports::html_report(&mut html, &db, &data, &analysis)
        .await
        .unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("flaky: first attempt was partial (assertion-failed)"));

    // A report that cannot be written says so, not that the database is corrupt.
    let failed = gnfc_reports::html_report(&mut Full, &db, &data, &analysis)
        .await
        .unwrap_err();
    assert!(
        matches!(&failed, ReportError::Io { what: "the report", source }
            if source.kind() == std::io::ErrorKind::StorageFull),
        "{failed:?}"
    );
}

/// A writer on a full disk.
struct Full;

impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::StorageFull.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
