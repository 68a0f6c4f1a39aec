//! Faults of the podman executor seen through `gnfc run`: podman's socket going away mid-run,
//! and an image that was never built. Real podman, real Nix 2.8 image.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{corpus_dir, podman_lock, podman_lock_async, Workspace};

/// A workspace whose calls are quiet and talk to the podman socket they are given, not to
/// one `CONTAINER_HOST` names.
fn workspace() -> Workspace {
    Workspace::new().env_remove("CONTAINER_HOST").quiet()
}

/// A `podman system service` of the test's own, on its own socket.
struct Service {
    socket: PathBuf,
    child: Child,
}

impl Service {
    fn start(socket: &Path) -> Service {
        let _ = std::fs::remove_file(socket);
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman is needed (scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "podman service did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Service {
            socket: socket.to_owned(),
            child,
        }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_the_podman_socket_mid_run_retries_and_blames_no_flake() {
    let _podman = podman_lock_async().await;
    let ws = workspace();
    let corpus = corpus_dir();
    let add = ws.gnfc(&["corpus", "add", corpus.to_str().unwrap()]);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let socket = ws.join("podman.sock");
    let url = format!("unix://{}", socket.display());
    let service = Service::start(&socket);

    let mut run = ws
        .command(&[
            "--podman-socket",
            &url,
            "run",
            "--name",
            "flaky-socket",
            "--executor",
            "podman",
            "--impl",
            "nix-2.8",
            "--resolver",
            "native",
            "--filter",
            "corpus/[a-e]*",
            "--timeout",
            "60",
            "--jobs",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Pull the socket out from under the run while tests are in flight, then bring it back.
    std::thread::sleep(Duration::from_secs(4));
    service.stop();
    std::thread::sleep(Duration::from_secs(3));
    let service = Service::start(&socket);

    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");

    // Every result is what the flake deserves: no harness errors, no flake blamed.
    let check = ws.gnfc(&["corpus", "check", "--run", "flaky-socket"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(text.contains(", 0 mismatches"), "{text}");
    let db = ws.db().await;
    let run = db.run("flaky-socket").await.unwrap();
    let tests = db.tests(run.id).await.unwrap();
    assert!(tests.len() >= 10, "{}", tests.len());
    let retried = tests.iter().filter(|t| t.attempt > 1).count();
    assert!(
        retried > 0,
        "no test was retried: the socket loss hit nothing"
    );
    db.close().await;
    service.stop();
}

#[test]
fn a_missing_image_is_one_clear_error_before_any_test() {
    let _podman = podman_lock();
    let ws = workspace();
    std::fs::write(
        ws.join("gnfc.toml"),
        "[run]\nexecutor = \"podman\"\nimplementations = [\"nix-9\"]\n\n\
         [implementations.\"nix-9\"]\ncommand = [\"nix\"]\nimage = \"gnfc/nix-9-never-built\"\n\
         recipe = \"debian:forky\"\n",
    )
    .unwrap();
    let corpus = corpus_dir().join("syntax-error");
    let add = ws.gnfc(&["corpus", "add", corpus.to_str().unwrap()]);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let out = ws.gnfc(&["run", "--name", "never"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gnfc/nix-9-never-built"), "{stderr}");
    assert!(
        stderr.contains("gnfc images build --impl nix-9"),
        "{stderr}"
    );
    let status = ws.gnfc(&["status"]);
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("never"),
        "no run was created"
    );
}
