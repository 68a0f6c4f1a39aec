//! The host executor with real processes: exit codes, timeouts that kill the whole process
//! group, bounded stderr capture, the isolated environment and Nix configuration, the private
//! source copy, and cleanup.
//!
//! Every command has a time limit and every polling loop a bound, so a broken executor fails
//! these tests instead of hanging them.

// Test helpers panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gnfc_containers::{
    Command, ExecError, ExecOutput, Executor, Exit, FlakeRegistry, HostExecutor, Limits, Sandbox,
    SandboxSpec,
};

const LIMITS: Limits = Limits {
    stderr_bytes: 64 * 1024,
    stdout_bytes: 1024 * 1024,
};

/// A small repo snapshot: a flake, a lockfile, a subdirectory and two symlinks.
fn source_tree(root: &Path) -> PathBuf {
    let src = root.join("repo");
    std::fs::create_dir_all(src.join("locks")).unwrap();
    std::fs::create_dir_all(src.join("sub dir")).unwrap();
    std::fs::write(src.join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    std::fs::write(src.join("flake.lock"), "{\"nodes\":{},\"version\":7}\n").unwrap();
    std::fs::write(src.join("locks/real.lock"), "real lock\n").unwrap();
    std::fs::write(src.join("sub dir/flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    symlink("../locks/real.lock", src.join("sub dir/flake.lock")).unwrap();
    symlink("does-not-exist", src.join("dangling")).unwrap();
    src
}

fn spec(source: &Path) -> SandboxSpec {
    SandboxSpec {
        source: source.to_owned(),
        image: None,
        nix_config: vec!["max-jobs = 1".to_owned()],
        env: vec![("GNFC_EXTRA".to_owned(), "passed through".to_owned())],
        proxy: None,
        registry: FlakeRegistry::Empty,
        limits: LIMITS,
    }
}

struct World {
    _tmp: tempfile::TempDir,
    scratch: PathBuf,
    source: PathBuf,
    sandbox: Box<dyn Sandbox>,
}

async fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let source = source_tree(tmp.path());
    let scratch = tmp.path().join("scratch");
    let sandbox = HostExecutor::new(&scratch)
        .sandbox(&spec(&source))
        .await
        .expect("sandbox");
    World {
        _tmp: tmp,
        scratch,
        source,
        sandbox,
    }
}

/// The sandbox's own directory: the parent of the source copy.
fn sandbox_root(sandbox: &dyn Sandbox) -> PathBuf {
    Path::new(sandbox.source_dir())
        .parent()
        .expect("source copy has a parent")
        .to_owned()
}

async fn sh(sandbox: &dyn Sandbox, script: &str, timeout: Duration) -> ExecOutput {
    sandbox
        .run(&Command::new("sh").arg("-c").arg(script), timeout)
        .await
        .expect("sh runs")
}

/// Command lines of every live process that mentions `marker` (zombies have an empty one).
fn processes_mentioning(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{}: {cmdline}", name.to_string_lossy()));
            }
        }
    }
    found
}

fn unique_marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // A sleep duration nobody else uses: `sleep 300.<pid><nanos>` is its own marker.
    format!("300.{}{:09}", std::process::id(), nanos)
}

#[tokio::test]
async fn exit_codes_and_signals_pass_through() {
    let w = world().await;
    let t = Duration::from_secs(10);
    let ok = sh(w.sandbox.as_ref(), "exit 0", t).await;
    assert_eq!(ok.exit, Exit::Code(0));
    assert!(ok.exit.success());
    for code in [1, 3, 42, 255] {
        let out = sh(w.sandbox.as_ref(), &format!("exit {code}"), t).await;
        assert_eq!(out.exit, Exit::Code(code));
        assert_eq!(out.exit.code(), code);
        assert!(!out.exit.success());
    }
    let killed = sh(w.sandbox.as_ref(), "kill -TERM $$", t).await;
    assert_eq!(killed.exit, Exit::Signal(15));
    assert_eq!(killed.exit.code(), 143);
    // stdout and stderr are captured separately.
    let out = sh(w.sandbox.as_ref(), "echo out; echo err >&2", t).await;
    assert_eq!(out.stdout.text(), "out\n");
    assert_eq!(out.stderr.text(), "err\n");
    // stdin is /dev/null: `cat` ends at once instead of waiting for the test's terminal.
    let cat = w
        .sandbox
        .run(&Command::new("cat"), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(cat.exit, Exit::Code(0));
    assert!(cat.duration < Duration::from_secs(4), "{:?}", cat.duration);
    // A program that does not exist is the executor's error, not an exit code.
    let missing = w
        .sandbox
        .run(&Command::new("/nonexistent/nix"), t)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, ExecError::Spawn { program, .. } if program == "/nonexistent/nix"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let w = world().await;
    let marker = unique_marker();
    let started = Instant::now();
    let script = format!("sleep {marker} & sleep {marker}");
    // Watch the processes appear while the command runs, so the check below that they are
    // gone afterwards cannot pass by looking in the wrong place.
    let seen = async {
        for _ in 0..40 {
            let found = processes_mentioning(&marker).len();
            if found >= 2 {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        processes_mentioning(&marker).len()
    };
    let (out, seen) = tokio::join!(
        sh(w.sandbox.as_ref(), &script, Duration::from_secs(1)),
        seen
    );
    let elapsed = started.elapsed();
    assert!(
        seen >= 2,
        "the shell and its background sleep were running ({seen} seen)"
    );
    assert_eq!(out.exit, Exit::TimedOut);
    assert_eq!(out.exit.code(), 124);
    assert!(
        elapsed < Duration::from_secs(5),
        "a 1 s timeout took {elapsed:?} to return"
    );
    assert!(out.duration >= Duration::from_secs(1), "{:?}", out.duration);
    // SIGKILL is delivered at once but a process takes a moment to go; wait a bounded time.
    let mut left = processes_mentioning(&marker);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = processes_mentioning(&marker);
    }
    assert!(
        left.is_empty(),
        "the command's background child survived the timeout: {left:?}"
    );
}

#[tokio::test]
async fn finite_flood_of_stderr_is_capped_and_counted_exactly() {
    let w = world().await;
    let cap = LIMITS.stderr_bytes;
    let total: u64 = 200 * 1024 * 1024;
    let out = sh(
        w.sandbox.as_ref(),
        "head -c 200M /dev/zero >&2",
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(out.exit, Exit::Code(0));
    assert_eq!(out.stderr.total(), total);
    assert!(out.stderr.truncated());
    let kept = out.stderr.bytes();
    let marker = format!("\n[gnfc: {} bytes omitted]\n", total - cap as u64);
    assert_eq!(kept.len(), cap + marker.len());
    assert!(
        kept[..cap / 2].iter().all(|&b| b == 0),
        "head is the output"
    );
    assert_eq!(&kept[cap / 2..cap / 2 + marker.len()], marker.as_bytes());
    assert!(kept[cap / 2 + marker.len()..].iter().all(|&b| b == 0));
    assert_eq!(out.stdout.total(), 0);
}

#[tokio::test]
async fn endless_stderr_stays_bounded_until_the_timeout() {
    let w = world().await;
    let cap = LIMITS.stderr_bytes;
    let out = sh(w.sandbox.as_ref(), "yes error >&2", Duration::from_secs(2)).await;
    assert_eq!(out.exit, Exit::TimedOut);
    let total = out.stderr.total();
    assert!(
        total > 10 * cap as u64,
        "yes wrote only {total} bytes in 2 s"
    );
    let kept = out.stderr.text();
    let marker = format!("\n[gnfc: {} bytes omitted]\n", total - cap as u64);
    assert_eq!(kept.len(), cap + marker.len());
    assert!(kept.starts_with("error\nerror\n"), "{}", &kept[..40]);
    assert!(kept.contains(&marker));
}

#[tokio::test]
async fn environment_is_the_sandbox_and_nothing_of_the_host() {
    // Set in this process only; the command must not see it.
    std::env::set_var("GNFC_TEST_HOST_SECRET", "leaked-from-the-host");
    let w = world().await;
    let sandbox = w.sandbox.as_ref();
    let root = sandbox_root(sandbox);
    assert!(root.starts_with(&w.scratch), "{}", root.display());

    let env = sh(sandbox, "env", Duration::from_secs(10)).await;
    assert_eq!(env.exit, Exit::Code(0));
    let env = env.stdout.text();
    assert!(
        !env.contains("GNFC_TEST_HOST_SECRET") && !env.contains("leaked-from-the-host"),
        "host environment leaked into the sandbox:\n{env}"
    );
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    assert_eq!(var("GNFC_EXTRA").as_deref(), Some("passed through"));
    for name in [
        "HOME",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "TMPDIR",
        "NIX_CONF_DIR",
    ] {
        let value = var(name).unwrap_or_else(|| panic!("{name} is not set:\n{env}"));
        let path = Path::new(&value);
        assert!(
            path.starts_with(&root) && path.is_dir(),
            "{name}={value} is not a directory inside the sandbox {}",
            root.display()
        );
    }
    let pwd = sh(sandbox, "pwd", Duration::from_secs(10)).await;
    assert_eq!(pwd.stdout.text().trim(), sandbox.source_dir());

    // The nix.conf gnfc wrote.
    let conf_dir = PathBuf::from(var("NIX_CONF_DIR").unwrap());
    let conf = std::fs::read_to_string(conf_dir.join("nix.conf")).unwrap();
    let setting = |key: &str| {
        conf.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("nix.conf sets no {key}:\n{conf}"))
    };
    let features = setting("experimental-features");
    assert!(
        features.split_whitespace().any(|f| f == "flakes")
            && features.split_whitespace().any(|f| f == "nix-command"),
        "{conf}"
    );
    assert_eq!(setting("substituters"), "", "{conf}");
    assert_eq!(
        setting("max-jobs"),
        "1",
        "the spec's extra lines follow: {conf}"
    );
    let registry = PathBuf::from(setting("flake-registry"));
    assert!(registry.starts_with(&root), "{}", registry.display());
    let registry_text = std::fs::read_to_string(&registry).unwrap();
    let compact: String = registry_text.split_whitespace().collect();
    assert_eq!(compact, r#"{"flakes":[],"version":2}"#);

    // And the real nix reads exactly that configuration.
    let shown = sandbox
        .run(
            &Command::new("nix").arg("show-config"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(shown.exit, Exit::Code(0), "{}", shown.stderr.text());
    let shown = shown.stdout.text();
    let nix_setting = |key: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .or_else(|| shown.lines().any(|l| l == format!("{key} =")).then_some(""))
            .unwrap_or_else(|| panic!("nix show-config has no {key}:\n{shown}"))
            .to_owned()
    };
    assert_eq!(nix_setting("substituters"), "");
    assert_eq!(
        nix_setting("flake-registry"),
        registry.display().to_string()
    );
    assert!(nix_setting("experimental-features").contains("flakes"));
    let registries = sandbox
        .run(
            &Command::new("nix").args(["registry", "list"]),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(
        registries.exit,
        Exit::Code(0),
        "{}",
        registries.stderr.text()
    );
    assert_eq!(
        registries.stdout.text().trim(),
        "",
        "no registry entries are visible"
    );
}

#[tokio::test]
async fn source_copy_is_private_and_writable() {
    let w = world().await;
    let sandbox = w.sandbox.as_ref();
    let copy = PathBuf::from(sandbox.source_dir());
    assert_ne!(copy, w.source);
    assert!(!copy.starts_with(&w.source));

    assert!(sandbox.exists("flake.lock").await.unwrap());
    sandbox.remove("flake.lock").await.unwrap();
    assert!(!sandbox.exists("flake.lock").await.unwrap());
    assert_eq!(sandbox.read("flake.lock").await.unwrap(), None);
    // Removing what is not there is fine.
    sandbox.remove("flake.lock").await.unwrap();

    let wrote = sh(
        sandbox,
        "echo new > new-file && echo changed > flake.nix && mkdir d && touch d/x",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(wrote.exit, Exit::Code(0), "{}", wrote.stderr.text());
    assert_eq!(
        sandbox.read("new-file").await.unwrap().as_deref(),
        Some(&b"new\n"[..])
    );

    // The original is untouched.
    assert_eq!(
        std::fs::read(w.source.join("flake.lock")).unwrap(),
        b"{\"nodes\":{},\"version\":7}\n"
    );
    assert_eq!(
        std::fs::read(w.source.join("flake.nix")).unwrap(),
        b"{ outputs = _: { }; }\n"
    );
    assert!(!w.source.join("new-file").exists());
    assert!(!w.source.join("d").exists());
}

#[tokio::test]
async fn symlinks_are_copied_as_symlinks() {
    let w = world().await;
    let sandbox = w.sandbox.as_ref();
    let copy = PathBuf::from(sandbox.source_dir());

    let lock = copy.join("sub dir/flake.lock");
    assert!(std::fs::symlink_metadata(&lock)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_link(&lock).unwrap(),
        Path::new("../locks/real.lock")
    );
    // read follows the link, to the copy's target, not the original's.
    assert_eq!(
        sandbox.read("sub dir/flake.lock").await.unwrap().as_deref(),
        Some(&b"real lock\n"[..])
    );

    let dangling = copy.join("dangling");
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_link(&dangling).unwrap(),
        Path::new("does-not-exist")
    );
    assert!(
        sandbox.exists("dangling").await.unwrap(),
        "a dangling symlink exists"
    );
    assert_eq!(sandbox.read("dangling").await.unwrap(), None);

    // Removing a symlinked lock removes the link, never its target.
    sandbox.remove("sub dir/flake.lock").await.unwrap();
    assert!(!sandbox.exists("sub dir/flake.lock").await.unwrap());
    assert!(copy.join("locks/real.lock").exists());
    assert!(w.source.join("sub dir/flake.lock").exists());
}

#[tokio::test]
async fn destroy_and_drop_remove_the_scratch_dir() {
    let w = world().await;
    let root = sandbox_root(w.sandbox.as_ref());
    assert!(root.is_dir());
    // Something the command wrote, including a read-only directory, goes too.
    let out = sh(
        w.sandbox.as_ref(),
        "mkdir -p ro/inner && touch ro/inner/f && chmod 0555 ro/inner",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(out.exit, Exit::Code(0));
    w.sandbox.destroy().await.unwrap();
    assert!(!root.exists(), "{} survived destroy", root.display());
    assert!(w.source.join("flake.nix").exists(), "the original stays");

    // Dropping a sandbox without destroy cleans up as well.
    let executor = HostExecutor::new(&w.scratch);
    let sandbox = executor.sandbox(&spec(&w.source)).await.unwrap();
    let root = sandbox_root(sandbox.as_ref());
    assert!(root.is_dir());
    drop(sandbox);
    assert!(!root.exists(), "{} survived drop", root.display());
    let left: Vec<_> = std::fs::read_dir(&w.scratch).unwrap().collect();
    assert!(left.is_empty(), "scratch root not empty: {left:?}");
}

/// A registry file is copied in (the sandbox sees no host path) and is what Nix resolves
/// with; a URL registry is handed to Nix as its `flake-registry` setting.
#[tokio::test]
async fn the_chosen_flake_registry_is_the_one_nix_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let source = source_tree(tmp.path());
    let file = tmp.path().join("my-registry.json");
    std::fs::write(
        &file,
        r#"{"flakes":[{"from":{"id":"mine","type":"indirect"},"to":{"owner":"me","repo":"mine","type":"github"}}],"version":2}"#,
    )
    .unwrap();
    let executor = HostExecutor::new(tmp.path().join("scratch"));
    let with = |registry: FlakeRegistry| SandboxSpec {
        registry,
        ..spec(&source)
    };

    let sandbox = executor
        .sandbox(&with(FlakeRegistry::File(file.clone())))
        .await
        .unwrap();
    let list = sandbox
        .run(
            &Command::new("nix").args(["registry", "list"]),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(list.exit, Exit::Code(0), "{}", list.stderr.text());
    assert_eq!(
        list.stdout.text().trim(),
        "global flake:mine github:me/mine"
    );
    let conf = sh(
        sandbox.as_ref(),
        "cat \"$NIX_CONF_DIR/nix.conf\"",
        Duration::from_secs(10),
    )
    .await
    .stdout
    .text();
    assert!(
        !conf.contains(&file.display().to_string()),
        "the host path leaked into the sandbox: {conf}"
    );
    sandbox.destroy().await.unwrap();

    let url = "https://channels.nixos.org/flake-registry.json";
    let sandbox = executor
        .sandbox(&with(FlakeRegistry::Url(url.to_owned())))
        .await
        .unwrap();
    let shown = sandbox
        .run(
            &Command::new("nix").arg("show-config"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(
        shown
            .stdout
            .text()
            .lines()
            .any(|l| l == format!("flake-registry = {url}")),
        "{}",
        shown.stdout.text()
    );
    sandbox.destroy().await.unwrap();
}
