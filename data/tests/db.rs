//! The results database against real servers: every case runs on SQLite (a file in a temp
//! dir) and on PostgreSQL (a fresh database per test, so tests run in parallel).
//!
//! PostgreSQL comes from `GNFC_TEST_POSTGRES_URL`; `scripts/postgres-for-tests.sh` starts a
//! throwaway server and prints the `export` line. Without it the PostgreSQL cases fail (they
//! never skip): the schema must keep working on both backends.

// Test helpers panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use gnfc_data::{
    Backend, ClassUpdate, Classification, ComboCount, DataError, Db, FlakeRow, FoundFlake,
    NewFlake, NewRepo, NewRun, NewSnapshot, Outcome, OutputRecord, OutputStatus, PlannedTest,
    Stage, StderrRecord, TestRecord,
};
use sha2::{Digest, Sha256};
use sqlx::Connection;

const POSTGRES_ENV: &str = "GNFC_TEST_POSTGRES_URL";

/// A database for one test, removed afterwards.
struct TestDb {
    db: Db,
    /// The URL the test opened, for direct checks that the typed API does not offer.
    url: String,
    /// PostgreSQL: drops the test's database when the test ends, even by a panic.
    _postgres: Option<DropDatabase>,
    _dir: Option<tempfile::TempDir>,
}

/// Drops a PostgreSQL test database on drop (also when a failed assertion unwinds).
struct DropDatabase {
    admin: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("gnfc.db").display());
        let db = Db::open(&url).await.expect("open SQLite");
        assert_eq!(db.backend(), Backend::Sqlite);
        TestDb {
            db,
            url,
            _postgres: None,
            _dir: Some(dir),
        }
    }

    async fn postgres(test: &str) -> TestDb {
        let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set, so the PostgreSQL half of the database tests cannot \
                 run. Start a throwaway server and set it with\n\n    eval \"$(scripts/postgres-for-tests.sh)\"\n\n\
                 (from the workspace root, as root on Debian; it installs PostgreSQL if needed), \
                 or point it at any server whose role may CREATE DATABASE, e.g. \
                 {POSTGRES_ENV}=postgres://postgres@127.0.0.1:54329/gnfc_test"
            )
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("gnfc_t_{}_{}_{nanos}", test, std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}={admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a test database on {admin} (the role needs CREATEDB): {e}")
            });
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        let guard = DropDatabase { admin, name };
        let db = Db::open(&url).await.expect("open PostgreSQL");
        assert_eq!(db.backend(), Backend::Postgres);
        TestDb {
            db,
            url,
            _postgres: Some(guard),
            _dir: None,
        }
    }

    /// Runs a scalar count directly, for facts the typed API has no reason to expose.
    async fn count(&self, sql: &str) -> i64 {
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        conn.close().await.ok();
        n
    }

    /// Closes the pool first, so the database (dropped with `self`) has no users left.
    async fn finish(self) {
        self.db.close().await;
    }
}

/// `admin` with its database name replaced by `name` (query parameters kept).
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Declares each case once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let t = super::TestDb::sqlite().await;
                    super::$case(&t).await;
                    t.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let t = super::TestDb::postgres(stringify!($case)).await;
                    super::$case(&t).await;
                    t.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    snapshots_are_added_once,
    run_plan_pending_and_attempts,
    records_dedup_lockfiles_and_replace_on_rerecord,
    counts_per_combo,
    stderr_round_trips_exact_bytes,
    reclassification_updates_tests_and_outputs,
    duplicate_run_name_is_refused_and_changes_nothing,
    scrape_pages_dedupe_across_sources_and_save_the_cursor,
    fetches_record_commit_or_failure,
    triage_lookups_name_what_is_held,
);

fn repo(name: &str) -> NewRepo {
    NewRepo {
        forge: "local".to_owned(),
        owner: "corpus".to_owned(),
        name: name.to_owned(),
        url: format!("file:///corpus/{name}"),
        stars: Some(3),
        default_branch: Some("main".to_owned()),
    }
}

fn flake(subdir: &str) -> NewFlake {
    NewFlake {
        subdir: subdir.to_owned(),
        flake_file: "flake.nix".to_owned(),
    }
}

/// A snapshot whose commit time is not known.
fn snapshot<'a>(revision: &'a str, source_dir: &'a str, flakes: &'a [NewFlake]) -> NewSnapshot<'a> {
    NewSnapshot {
        revision,
        source_dir,
        committed_at: None,
        flakes,
    }
}

fn class(id: &str, category: &str, detail: Option<&str>) -> Classification {
    Classification {
        class: id.to_owned(),
        category: category.to_owned(),
        detail: detail.map(str::to_owned),
    }
}

fn record(outcome: Outcome) -> TestRecord {
    TestRecord {
        outcome,
        exit_code: Some(if outcome == Outcome::Pass { 0 } else { 1 }),
        class: None,
        lock_ms: Some(11),
        enumerate_ms: Some(22),
        eval_ms: Some(33),
        total_ms: 70,
        lockfile: None,
        outputs: Vec::new(),
        stderr: Vec::new(),
    }
}

fn output(attr: &str, status: OutputStatus, class: Option<Classification>) -> OutputRecord {
    OutputRecord {
        attr_path: attr.to_owned(),
        status,
        drv_path: (status == OutputStatus::Pass)
            .then(|| format!("/nix/store/00000000000000000000000000000000-{attr}.drv")),
        eval_ms: 5,
        class,
    }
}

fn stderr(stage: Stage, attr: &str, kept: &[u8], total: u64) -> StderrRecord {
    StderrRecord {
        stage,
        attr_path: attr.to_owned(),
        kept: kept.to_vec(),
        total_bytes: total,
    }
}

/// Two repos, three flakes; returns the corpus.
async fn corpus(db: &Db) -> Vec<FlakeRow> {
    let flakes = [flake(""), flake("sub")];
    db.add_snapshot(&repo("a"), &snapshot("sha256-a1", "/store/a1", &flakes))
        .await
        .unwrap();
    db.add_snapshot(
        &repo("b"),
        &snapshot("sha256-b1", "/store/b1", &[flake("")]),
    )
    .await
    .unwrap();
    db.corpus().await.unwrap()
}

/// A run of every flake × nix-2.8 × {native, committed}; returns (run id, plan).
async fn planned_run(db: &Db, name: &str, flakes: &[FlakeRow]) -> (i64, Vec<PlannedTest>) {
    let mut plan = Vec::new();
    for f in flakes {
        for resolver in ["native", "committed"] {
            plan.push(PlannedTest {
                flake_id: f.id,
                implementation: "nix-2.8".to_owned(),
                resolver: resolver.to_owned(),
            });
        }
    }
    let run = NewRun {
        name: name.to_owned(),
        config: "[limits]\ntimeout_secs = 5\n".to_owned(),
        host: "{\"cpus\":2}".to_owned(),
    };
    (db.create_run(&run, &plan).await.unwrap(), plan)
}

async fn snapshots_are_added_once(t: &TestDb) {
    let db = &t.db;
    let flakes = [flake(""), flake("sub"), flake("dir with space/ä!")];
    let committed = NewSnapshot {
        committed_at: Some(1_600_000_000_000),
        ..snapshot("sha256-r1", "/store/r1", &flakes)
    };
    let first = db.add_snapshot(&repo("a"), &committed).await.unwrap();
    assert_eq!(first, 3);
    let later = NewSnapshot {
        committed_at: Some(1_700_000_000_000),
        ..committed
    };
    let again = db.add_snapshot(&repo("a"), &later).await.unwrap();
    assert_eq!(again, 0, "the same snapshot again adds nothing");
    let corpus = db.corpus().await.unwrap();
    assert_eq!(corpus.len(), 3, "{corpus:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM repos").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM flakes").await, 3);
    let labels: Vec<String> = corpus.iter().map(FlakeRow::label).collect();
    assert_eq!(
        labels,
        ["corpus/a", "corpus/a/dir with space/ä!", "corpus/a/sub"]
    );
    for f in &corpus {
        assert_eq!(f.revision, "sha256-r1");
        assert_eq!(f.source_dir, "/store/r1");
        assert_eq!(f.url, "file:///corpus/a");
        assert_eq!(f.forge, "local");
        // The first recording's commit time stays: a re-run sees the time its run saw.
        assert_eq!(f.committed_at, Some(1_600_000_000_000));
    }

    // A new revision of the same repo (same URL) replaces it in the corpus; the old flakes
    // stay stored for the runs that used them.
    let newer = db
        .add_snapshot(
            &repo("a"),
            &snapshot("sha256-r2", "/store/r2", &[flake("")]),
        )
        .await
        .unwrap();
    assert_eq!(newer, 1);
    let corpus = db.corpus().await.unwrap();
    assert_eq!(corpus.len(), 1);
    assert_eq!(corpus[0].revision, "sha256-r2");
    assert_eq!(corpus[0].committed_at, None);
    assert_eq!(t.count("SELECT COUNT(*) FROM repos").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM flakes").await, 4);
}

async fn run_plan_pending_and_attempts(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    assert_eq!(flakes.len(), 3);
    let (run_id, plan) = planned_run(db, "nightly", &flakes).await;
    assert_eq!(plan.len(), 6);

    let run = db.run("nightly").await.unwrap();
    assert_eq!((run.id, run.planned, run.done), (run_id, 6, 0));
    assert_eq!(run.finished_at, None);
    assert_eq!(run.config, "[limits]\ntimeout_secs = 5\n");
    assert_eq!(db.run(&run_id.to_string()).await.unwrap().name, "nightly");
    assert!(matches!(
        db.run("nope").await,
        Err(DataError::NoSuchRun(n)) if n == "nope"
    ));
    assert_eq!(db.latest_run().await.unwrap().unwrap().id, run_id);

    let pending = db.pending_tests(run_id).await.unwrap();
    let got: Vec<PlannedTest> = pending
        .iter()
        .map(|p| PlannedTest {
            flake_id: p.flake.id,
            implementation: p.implementation.clone(),
            resolver: p.resolver.clone(),
        })
        .collect();
    assert_eq!(got, plan, "pending tests are the plan, in plan order");
    assert!(pending.iter().all(|p| p.attempt == 0));
    let by_id: BTreeMap<i64, &FlakeRow> = flakes.iter().map(|f| (f.id, f)).collect();
    for p in &pending {
        assert_eq!(p.flake.label(), by_id[&p.flake.id].label());
        assert_eq!(p.flake.source_dir, by_id[&p.flake.id].source_dir);
    }
    assert_eq!(db.run_flakes(run_id).await.unwrap().len(), 3);

    // Attempts count up; a started but unrecorded test stays pending (a killed run).
    let first = pending[0].test_id;
    assert_eq!(db.start_test(first).await.unwrap(), 1);
    assert_eq!(db.start_test(first).await.unwrap(), 2);
    let pending = db.pending_tests(run_id).await.unwrap();
    assert_eq!(pending.len(), 6);
    assert_eq!(pending[0].attempt, 2);

    db.record_test(first, &record(Outcome::Pass)).await.unwrap();
    let pending = db.pending_tests(run_id).await.unwrap();
    assert_eq!(pending.len(), 5);
    assert!(pending.iter().all(|p| p.test_id != first));
    let run = db.run("nightly").await.unwrap();
    assert_eq!((run.planned, run.done), (6, 1));

    for p in &pending {
        db.start_test(p.test_id).await.unwrap();
        db.record_test(p.test_id, &record(Outcome::LockFail))
            .await
            .unwrap();
    }
    assert!(db.pending_tests(run_id).await.unwrap().is_empty());
    db.finish_run(run_id).await.unwrap();
    let run = db.run("nightly").await.unwrap();
    assert_eq!(run.done, 6);
    assert!(run.finished_at.is_some_and(|f| f >= run.started_at));
    let tests = db.tests(run_id).await.unwrap();
    assert_eq!(tests[0].attempt, 2);
    assert_eq!(tests[0].outcome, Some(Outcome::Pass));
    assert_eq!(
        (tests[0].lock_ms, tests[0].enumerate_ms, tests[0].eval_ms),
        (Some(11), Some(22), Some(33))
    );
    assert_eq!((tests[0].total_ms, tests[0].exit_code), (Some(70), Some(0)));
    assert!(tests[1..].iter().all(|t| t.attempt == 1));
    let one = db.test(tests[1].id).await.unwrap().unwrap();
    assert_eq!((one.id, one.run_id), (tests[1].id, run_id));
    assert_eq!(one.flake, tests[1].flake);
    let missing = tests.iter().map(|t| t.id).max().unwrap() + 1;
    assert!(db.test(missing).await.unwrap().is_none());
}

async fn records_dedup_lockfiles_and_replace_on_rerecord(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    let (run_id, _) = planned_run(db, "locks", &flakes).await;
    let pending = db.pending_tests(run_id).await.unwrap();
    let lock =
        br#"{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"locked":{}}},"root":"root","version":7}"#;
    let other = br#"{"nodes":{"root":{}},"root":"root","version":7}"#;
    let hash = hex::encode(Sha256::digest(lock));

    let mut with_lock = record(Outcome::Pass);
    with_lock.lockfile = Some(lock.to_vec());
    with_lock.outputs = vec![output(
        "packages.x86_64-linux.default",
        OutputStatus::Pass,
        None,
    )];
    db.record_test(pending[0].test_id, &with_lock)
        .await
        .unwrap();
    db.record_test(pending[1].test_id, &with_lock)
        .await
        .unwrap();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM lockfiles").await,
        1,
        "two tests with the same lock content share one stored lockfile"
    );
    let mut with_other = record(Outcome::Pass);
    with_other.lockfile = Some(other.to_vec());
    db.record_test(pending[2].test_id, &with_other)
        .await
        .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM lockfiles").await, 2);

    let tests = db.tests(run_id).await.unwrap();
    assert_eq!(tests[0].lockfile_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(tests[1].lockfile_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(
        tests[2].lockfile_hash.as_deref(),
        Some(hex::encode(Sha256::digest(other)).as_str())
    );
    assert_eq!(tests[3].lockfile_hash, None);
    assert_eq!(
        t.count(&format!(
            "SELECT nodes FROM lockfiles WHERE hash = '{hash}'"
        ))
        .await,
        1,
        "locked inputs counted without the root"
    );

    // Recording a test again (a re-run after a crash) replaces its outputs and stderr.
    let test = pending[0].test_id;
    let mut rerun = record(Outcome::Partial);
    rerun.lockfile = Some(lock.to_vec());
    rerun.outputs = vec![
        output("packages.x86_64-linux.a", OutputStatus::Pass, None),
        output(
            "packages.x86_64-linux.b",
            OutputStatus::Fail,
            Some(class("thrown-error", "flake", None)),
        ),
    ];
    rerun.stderr = vec![stderr(
        Stage::Eval,
        "packages.x86_64-linux.b",
        b"error: no",
        9,
    )];
    db.record_test(test, &rerun).await.unwrap();
    db.record_test(test, &rerun).await.unwrap();
    let outputs: Vec<_> = db
        .outputs(run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.test_id == test)
        .collect();
    let attrs: Vec<&str> = outputs.iter().map(|o| o.attr_path.as_str()).collect();
    assert_eq!(
        attrs,
        ["packages.x86_64-linux.a", "packages.x86_64-linux.b"]
    );
    assert_eq!(outputs[0].status, OutputStatus::Pass);
    assert_eq!(
        outputs[0].drv_path.as_deref(),
        Some("/nix/store/00000000000000000000000000000000-packages.x86_64-linux.a.drv")
    );
    assert_eq!(outputs[1].class.as_deref(), Some("thrown-error"));
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM stderr WHERE test_id = {test}"
        ))
        .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM lockfiles").await, 2);
    let row = &db.tests(run_id).await.unwrap()[0];
    assert_eq!(row.outcome, Some(Outcome::Partial));
    assert_eq!((row.outputs_total, row.outputs_failed), (2, 1));
}

async fn counts_per_combo(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    let (run_id, _) = planned_run(db, "counts", &flakes).await;
    let pending = db.pending_tests(run_id).await.unwrap();
    // 6 tests: 3 native, 3 committed, alternating in plan order. Leave the last pending.
    let outcomes = [
        (Outcome::Pass, None),
        (
            Outcome::LockFail,
            Some(class("committed-lock-missing", "resolver", None)),
        ),
        (
            Outcome::LockFail,
            Some(class("syntax-error", "flake", None)),
        ),
        (
            Outcome::LockFail,
            Some(class("committed-lock-missing", "resolver", None)),
        ),
        (Outcome::Timeout, Some(class("timeout", "limits", None))),
    ];
    for (p, (outcome, class)) in pending.iter().zip(outcomes) {
        let mut r = record(outcome);
        r.class = class;
        db.record_test(p.test_id, &r).await.unwrap();
    }
    let count = |resolver: &str, key: &str, category: Option<&str>, count: i64| ComboCount {
        implementation: "nix-2.8".to_owned(),
        resolver: resolver.to_owned(),
        key: key.to_owned(),
        category: category.map(str::to_owned),
        count,
    };
    assert_eq!(
        db.outcome_counts(run_id).await.unwrap(),
        [
            count("committed", "lock-fail", None, 2),
            count("native", "lock-fail", None, 1),
            count("native", "pass", None, 1),
            count("native", "timeout", None, 1),
        ],
        "recorded tests only, per combo and outcome"
    );
    assert_eq!(
        db.class_counts(run_id).await.unwrap(),
        [
            count("committed", "committed-lock-missing", Some("resolver"), 2),
            count("native", "syntax-error", Some("flake"), 1),
            count("native", "timeout", Some("limits"), 1),
        ],
        "most frequent first"
    );
}

async fn stderr_round_trips_exact_bytes(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    let (run_id, _) = planned_run(db, "stderr", &flakes).await;
    let pending = db.pending_tests(run_id).await.unwrap();

    // Not UTF-8, with NULs and a truncation marker: stored and returned byte for byte.
    let mut lock_err = b"warning: Git tree is dirty\n\xff\xfe\x00 latin1: caf\xe9\n".to_vec();
    lock_err
        .extend_from_slice(b"\n[gnfc: 1000 bytes omitted]\nerror: syntax error, unexpected '='\n");
    let lock_total = lock_err.len() as u64 + 1000;
    // Large and repetitive, as real stderr: compression must not lose anything.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

    let mut failed = record(Outcome::LockFail);
    failed.class = Some(class("syntax-error", "flake", None));
    failed.stderr = vec![
        stderr(Stage::Prepare, "", b"", 0),
        stderr(Stage::Lock, "", &lock_err, lock_total),
    ];
    db.record_test(pending[0].test_id, &failed).await.unwrap();

    let mut partial = record(Outcome::Partial);
    partial.class = Some(class("thrown-error", "flake", None));
    partial.outputs = vec![
        output("checks.x86_64-linux.ok", OutputStatus::Pass, None),
        output(
            "checks.x86_64-linux.bad",
            OutputStatus::Fail,
            Some(class("thrown-error", "flake", Some("boom"))),
        ),
    ];
    partial.stderr = vec![
        stderr(Stage::Lock, "", b"warning: only a warning\n", 24),
        stderr(Stage::Eval, "checks.x86_64-linux.ok", b"trace: fine\n", 12),
        stderr(
            Stage::Eval,
            "checks.x86_64-linux.bad",
            &big,
            big.len() as u64,
        ),
    ];
    db.record_test(pending[1].test_id, &partial).await.unwrap();
    db.record_test(pending[2].test_id, &record(Outcome::Pass))
        .await
        .unwrap();
    // An enumerate failure after a lock that only warned: its class is the enumerate stage's.
    let mut enumerate = record(Outcome::EnumerateFail);
    enumerate.class = Some(class("infinite-recursion", "flake", None));
    enumerate.stderr = vec![
        stderr(
            Stage::Lock,
            "",
            b"warning: creating lock file '/s/flake.lock'\n",
            44,
        ),
        stderr(
            Stage::Enumerate,
            "",
            b"error: infinite recursion encountered\n",
            38,
        ),
    ];
    db.record_test(pending[3].test_id, &enumerate)
        .await
        .unwrap();
    // Classes gnfc assigns itself (not the rules) have nothing to re-classify.
    let mut harness = record(Outcome::HarnessError);
    harness.class = Some(class("harness-error", "harness", Some("gnfc: cannot copy")));
    harness.stderr = vec![stderr(Stage::Prepare, "", b"gnfc: cannot copy\n", 18)];
    db.record_test(pending[4].test_id, &harness).await.unwrap();
    let mut timeout = record(Outcome::Timeout);
    timeout.class = Some(class("timeout", "limits", None));
    timeout.stderr = vec![stderr(Stage::Lock, "", b"still locking\n", 14)];
    db.record_test(pending[5].test_id, &timeout).await.unwrap();

    let rows = db.classified_stderr(run_id).await.unwrap();
    let keys: Vec<(i64, Stage, &str)> = rows
        .iter()
        .map(|r| (r.test_id, r.stage, r.attr_path.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (pending[0].test_id, Stage::Lock, ""),
            (pending[1].test_id, Stage::Eval, "checks.x86_64-linux.bad"),
            (pending[3].test_id, Stage::Enumerate, ""),
        ],
        "the failing stage of a failed test and each failed output; not another stage's \
         warnings, not the passing output, not timeouts or harness errors"
    );
    assert_eq!(rows[0].text.kept, lock_err);
    assert_eq!(rows[0].text.total_bytes, lock_total as i64);
    assert_eq!(rows[0].class.as_deref(), Some("syntax-error"));
    assert_eq!(rows[0].implementation, "nix-2.8");
    assert_eq!(rows[1].text.kept, big);
    assert_eq!(rows[1].class.as_deref(), Some("thrown-error"));
    assert_eq!(
        rows[2].text.kept,
        b"error: infinite recursion encountered\n"
    );
    assert_eq!(rows[2].class.as_deref(), Some("infinite-recursion"));

    // The per-stage reader gives the same bytes, and every stage that was stored.
    let lock = db
        .stderr(pending[0].test_id, Stage::Lock, "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock.kept, lock_err);
    let ok = db
        .stderr(pending[1].test_id, Stage::Eval, "checks.x86_64-linux.ok")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ok.kept.as_slice(), ok.total_bytes),
        (&b"trace: fine\n"[..], 12)
    );
    assert!(db
        .stderr(pending[2].test_id, Stage::Lock, "")
        .await
        .unwrap()
        .is_none());
    let outputs = db.outputs(run_id).await.unwrap();
    assert_eq!(
        outputs
            .iter()
            .find(|o| o.attr_path == "checks.x86_64-linux.bad")
            .and_then(|o| o.detail.as_deref()),
        Some("boom")
    );
}

async fn reclassification_updates_tests_and_outputs(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    let (run_id, _) = planned_run(db, "reclassify", &flakes).await;
    let pending = db.pending_tests(run_id).await.unwrap();
    let mut failed = record(Outcome::LockFail);
    failed.class = Some(class("unknown", "unknown", None));
    db.record_test(pending[0].test_id, &failed).await.unwrap();
    let mut partial = record(Outcome::Partial);
    partial.class = Some(class("unknown", "unknown", None));
    partial.outputs = vec![
        output(
            "packages.x86_64-linux.a",
            OutputStatus::Fail,
            Some(class("unknown", "unknown", None)),
        ),
        output(
            "packages.x86_64-linux.b",
            OutputStatus::Fail,
            Some(class("unknown", "unknown", None)),
        ),
    ];
    db.record_test(pending[1].test_id, &partial).await.unwrap();

    db.update_classes(&[
        ClassUpdate {
            test_id: pending[0].test_id,
            attr_path: None,
            class: class("registry-lookup-failed", "flake", Some("flake:nixpkgs")),
        },
        ClassUpdate {
            test_id: pending[1].test_id,
            attr_path: Some("packages.x86_64-linux.b".to_owned()),
            class: class("missing-attribute", "flake", Some("foo")),
        },
    ])
    .await
    .unwrap();

    let tests = db.tests(run_id).await.unwrap();
    assert_eq!(tests[0].class.as_deref(), Some("registry-lookup-failed"));
    assert_eq!(tests[0].category.as_deref(), Some("flake"));
    assert_eq!(tests[0].detail.as_deref(), Some("flake:nixpkgs"));
    assert_eq!(
        tests[1].class.as_deref(),
        Some("unknown"),
        "only what was named changes"
    );
    let outputs = db.outputs(run_id).await.unwrap();
    let of = |attr: &str| outputs.iter().find(|o| o.attr_path == attr).unwrap();
    assert_eq!(
        of("packages.x86_64-linux.a").class.as_deref(),
        Some("unknown")
    );
    let b = of("packages.x86_64-linux.b");
    assert_eq!(
        (
            b.class.as_deref(),
            b.category.as_deref(),
            b.detail.as_deref()
        ),
        (Some("missing-attribute"), Some("flake"), Some("foo"))
    );
    let classes: Vec<(String, i64)> = db
        .class_counts(run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key, c.count))
        .collect();
    assert!(
        classes.contains(&("registry-lookup-failed".to_owned(), 1)),
        "{classes:?}"
    );

    // An empty update is a no-op, not an error.
    db.update_classes(&[]).await.unwrap();
}

async fn duplicate_run_name_is_refused_and_changes_nothing(t: &TestDb) {
    let db = &t.db;
    let flakes = corpus(db).await;
    let (run_id, _) = planned_run(db, "same", &flakes).await;
    let err = db
        .create_run(
            &NewRun {
                name: "same".to_owned(),
                config: "other".to_owned(),
                host: "{}".to_owned(),
            },
            &[PlannedTest {
                flake_id: flakes[0].id,
                implementation: "nix-2.34".to_owned(),
                resolver: "native".to_owned(),
            }],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DataError::RunExists(n) if n == "same"),
        "{err:?}"
    );
    assert!(err.to_string().contains("--resume"), "{err}");
    let runs = db.runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].id, runs[0].planned), (run_id, 6));
    assert_eq!(runs[0].config, "[limits]\ntimeout_secs = 5\n");
    assert_eq!(t.count("SELECT COUNT(*) FROM tests").await, 6);
}

// ------------------------------------------------------------------------ SQLite only

/// Deterministic garbage (xorshift), so a failure is reproducible.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn dir_listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn sqlite_garbage_file_is_not_a_database_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let bytes = garbage(64 * 1024, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(&path, &bytes).unwrap();
    for url in [
        format!("sqlite://{}", path.display()),
        format!("sqlite:{}", path.display()),
    ] {
        let err = Db::open(&url).await.unwrap_err();
        match &err {
            DataError::NotADatabase { path: p, .. } => assert_eq!(p, &path),
            other => panic!("expected NotADatabase for {url}, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("untouched"),
            "{message}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
    }
    assert_eq!(
        dir_listing(dir.path()),
        ["results.db"],
        "no journal or WAL files left beside it"
    );
}

#[tokio::test]
async fn sqlite_damaged_database_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gnfc.db");
    let url = format!("sqlite://{}", path.display());
    {
        let db = Db::open(&url).await.unwrap();
        db.add_snapshot(&repo("a"), &snapshot("sha256-a", "/s/a", &[flake("")]))
            .await
            .unwrap();
        db.close().await;
    }
    // Fold the WAL into the file and leave WAL mode, so the file alone is the database.
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(dir_listing(dir.path()), ["gnfc.db"]);
    // Keep SQLite's header (so it is recognisably SQLite) and destroy the rest.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    let noise = garbage(bytes.len() - 100, 42);
    bytes[100..].copy_from_slice(&noise);
    std::fs::write(&path, &bytes).unwrap();

    let err = Db::open(&url).await.unwrap_err();
    assert!(
        matches!(&err, DataError::NotADatabase { path: p, .. } if *p == path),
        "expected NotADatabase, got {err:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
}

#[tokio::test]
async fn sqlite_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/gnfc.db").display()
    );
    let db = Db::open(&url).await.unwrap();
    let flakes = corpus(&db).await;
    planned_run(&db, "kept", &flakes).await;
    db.close().await;
    let db = Db::open(&url).await.unwrap();
    assert_eq!(db.corpus().await.unwrap().len(), 3);
    assert_eq!(db.run("kept").await.unwrap().planned, 6);
    db.close().await;
}

#[test]
fn database_name_is_replaced_in_postgres_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:54329/gnfc_test", "x"),
        "postgres://postgres@127.0.0.1:54329/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(
        with_database("postgres:///db?host=/run/postgresql", "x"),
        "postgres:///x?host=/run/postgresql"
    );
}

fn found(owner: &str, name: &str, path: &str, commit: Option<&str>) -> FoundFlake {
    FoundFlake {
        repo: NewRepo {
            forge: "github".to_owned(),
            owner: owner.to_owned(),
            name: name.to_owned(),
            url: format!("https://github.com/{owner}/{name}").to_lowercase(),
            stars: None,
            default_branch: None,
        },
        path: path.to_owned(),
        commit: commit.map(str::to_owned),
    }
}

async fn scrape_pages_dedupe_across_sources_and_save_the_cursor(t: &TestDb) {
    let db = &t.db;
    assert_eq!(db.scrape_state("sourcegraph", "q").await.unwrap(), None);
    db.start_scrape("sourcegraph", "q", "{\"todo\":1}")
        .await
        .unwrap();
    // Two files of one repo, plus the same row twice in one page: one repo, two discoveries.
    let page = [
        found("NixOS", "nix", "flake.nix", Some("abc")),
        found("NixOS", "nix", "sub/flake.nix", None),
        found("NixOS", "nix", "sub/flake.nix", None),
        found("a", "b", "flake.nix", None),
    ];
    let counts = db
        .record_scrape_page("sourcegraph", "q", &page, Some("{\"todo\":2}"))
        .await
        .unwrap();
    assert_eq!((counts.new_repos, counts.known_repos), (2, 0));
    let state = db.scrape_state("sourcegraph", "q").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("{\"todo\":2}"));
    assert_eq!(state.pages, 1);

    // Another source finds one of them again: known, not a new repo, a second discovery.
    db.start_scrape("grep-app", "q", "0").await.unwrap();
    let counts = db
        .record_scrape_page(
            "grep-app",
            "q",
            &[found("nixos", "NIX", "flake.nix", None)],
            None,
        )
        .await
        .unwrap();
    assert_eq!((counts.new_repos, counts.known_repos), (0, 1));
    assert_eq!(
        db.scrape_state("grep-app", "q")
            .await
            .unwrap()
            .unwrap()
            .cursor,
        None
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM repos").await, 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM discoveries").await, 4);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM scrapes WHERE finished_at IS NOT NULL")
            .await,
        1
    );

    // Re-storing a page (a resumed scrape redoing it) adds nothing.
    db.record_scrape_page("sourcegraph", "q", &page, None)
        .await
        .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM repos").await, 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM discoveries").await, 4);
    let to_fetch = db.repos_to_fetch(false).await.unwrap();
    assert_eq!(to_fetch.len(), 2);
    let nix = to_fetch
        .iter()
        .find(|r| r.repo.url == "https://github.com/nixos/nix")
        .unwrap();
    assert_eq!(nix.found_commit.as_deref(), Some("abc"));
}

async fn fetches_record_commit_or_failure(t: &TestDb) {
    let db = &t.db;
    db.start_scrape("list", "l", "0").await.unwrap();
    let page = [
        found("o", "one", "flake.nix", None),
        found("o", "two", "flake.nix", None),
    ];
    db.record_scrape_page("list", "l", &page, None)
        .await
        .unwrap();
    let repos = db.repos_to_fetch(false).await.unwrap();
    assert_eq!(repos.len(), 2);
    let added = db
        .record_fetch(
            &repos[0].repo,
            "c0ffee",
            &snapshot("sha256-x", "/store/x", &[flake(""), flake("sub")]),
        )
        .await
        .unwrap();
    assert_eq!(added, 2);
    db.record_fetch_failure(repos[1].id, "not found")
        .await
        .unwrap();
    assert_eq!(db.corpus().await.unwrap().len(), 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM repos WHERE head_commit = 'c0ffee'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM repos WHERE fetch_error = 'not found'")
            .await,
        1
    );
    let left: Vec<String> = db
        .repos_to_fetch(false)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.repo.name)
        .collect();
    assert_eq!(
        left,
        ["two"],
        "a failed repo is tried again, a fetched one is not"
    );
    assert_eq!(db.repos_to_fetch(true).await.unwrap().len(), 2);
}

async fn triage_lookups_name_what_is_held(t: &TestDb) {
    let db = &t.db;
    let missing = db.get_test(1).await.unwrap_err();
    assert!(
        matches!(missing, DataError::NoSuchTest { id: 1, held: None }),
        "{missing:?}"
    );
    let flakes = corpus(db).await;
    let (first_run, _) = planned_run(db, "first", &flakes).await;
    let pending = db.pending_tests(first_run).await.unwrap();
    let ids: Vec<i64> = pending.iter().map(|p| p.test_id).collect();
    let (low, high) = (*ids.iter().min().unwrap(), *ids.iter().max().unwrap());
    assert_eq!(db.get_test(ids[0]).await.unwrap().id, ids[0]);
    let missing = db.get_test(high + 100).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "no test {} (the database holds tests {low}–{high})",
            high + 100
        )
    );

    // A lock failure: its class comes from the lock stage, not the prepare stage's warning;
    // the stderr comes back in stage order whatever the order it was recorded in.
    let mut lock_fail = record(Outcome::LockFail);
    lock_fail.class = Some(class("unknown", "unknown", None));
    lock_fail.stderr = vec![
        stderr(Stage::Lock, "", b"error: cannot lock", 18),
        stderr(Stage::Prepare, "", b"warning: dirty", 14),
    ];
    db.record_test(ids[0], &lock_fail).await.unwrap();
    let rows = db.test_stderr(ids[0]).await.unwrap();
    let got: Vec<(Stage, bool, &[u8])> = rows
        .iter()
        .map(|(r, classifying)| (r.stage, *classifying, r.text.kept.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (Stage::Prepare, false, &b"warning: dirty"[..]),
            (Stage::Lock, true, &b"error: cannot lock"[..]),
        ]
    );

    // A partial test: only the failed output's eval stderr named a class.
    let mut partial = record(Outcome::Partial);
    let missing_attr = class("missing-attribute", "flake", Some("x"));
    partial.outputs = vec![
        output(
            "packages.x86_64-linux.b",
            OutputStatus::Fail,
            Some(missing_attr.clone()),
        ),
        output("packages.x86_64-linux.a", OutputStatus::Pass, None),
    ];
    partial.stderr = vec![
        stderr(Stage::Eval, "packages.x86_64-linux.a", b"warning: x", 10),
        stderr(
            Stage::Eval,
            "packages.x86_64-linux.b",
            b"error: attribute 'x' missing",
            28,
        ),
    ];
    db.record_test(ids[1], &partial).await.unwrap();
    let outputs: Vec<String> = db
        .test_outputs(ids[1])
        .await
        .unwrap()
        .into_iter()
        .map(|o| format!("{} {}", o.attr_path, o.status))
        .collect();
    assert_eq!(
        outputs,
        [
            "packages.x86_64-linux.b fail",
            "packages.x86_64-linux.a pass"
        ],
        "in the order they were evaluated"
    );
    let classified: Vec<(String, bool, Option<String>)> = db
        .test_stderr(ids[1])
        .await
        .unwrap()
        .into_iter()
        .map(|(r, classifying)| (r.attr_path, classifying, r.class))
        .collect();
    assert_eq!(
        classified,
        [
            ("packages.x86_64-linux.a".to_owned(), false, None),
            (
                "packages.x86_64-linux.b".to_owned(),
                true,
                Some("missing-attribute".to_owned())
            ),
        ]
    );
    assert!(db.test_outputs(ids[2]).await.unwrap().is_empty());

    // Flakes by label and by id; a new snapshot is the same flake.
    let root = db.flake_snapshots("corpus/a").await.unwrap();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].subdir, "");
    let sub = db.flake_snapshots("corpus/a/sub").await.unwrap();
    assert_eq!(
        sub.iter().map(|f| f.label()).collect::<Vec<_>>(),
        ["corpus/a/sub"]
    );
    for unknown in ["corpus/zzz", "corpus", "99999", "corpus/a/sub/deeper"] {
        let err = db.flake_snapshots(unknown).await.unwrap_err();
        let DataError::NoSuchFlake { known, corpus, .. } = &err else {
            panic!("{unknown}: {err:?}");
        };
        assert_eq!(*corpus, 3, "{err}");
        assert_eq!(known.len(), 3, "{err}");
    }
    let err = db.flake_snapshots("sub").await.unwrap_err().to_string();
    assert!(
        err.starts_with("no flake 'sub' (the corpus holds corpus/a/sub, "),
        "the flakes whose name holds what was asked come first: {err}"
    );

    db.add_snapshot(
        &repo("a"),
        &snapshot("sha256-a2", "/store/a2", &[flake("")]),
    )
    .await
    .unwrap();
    let both = db.flake_snapshots(&root[0].id.to_string()).await.unwrap();
    let revisions: Vec<&str> = both.iter().map(|f| f.revision.as_str()).collect();
    assert_eq!(revisions, ["sha256-a1", "sha256-a2"], "oldest first");
    assert_eq!(db.flake_snapshots("corpus/a").await.unwrap().len(), 2);
    // A flake's tests across runs: runs in start order, then by combo.
    let (later_run, _) = planned_run(db, "later", &db.corpus().await.unwrap()).await;
    let tests = db.flake_tests(root[0].repo_id, "").await.unwrap();
    let got: Vec<(i64, &str, i64)> = tests
        .iter()
        .map(|t| (t.run_id, t.resolver.as_str(), t.flake_id))
        .collect();
    let (old, new) = (both[0].id, both[1].id);
    assert_eq!(
        got,
        [
            (first_run, "committed", old),
            (first_run, "native", old),
            (later_run, "committed", new),
            (later_run, "native", new),
        ]
    );
}
