//! The podman executor against real podman and the real `gnfc/nix-2.8` image.
//!
//! Needs podman and the image: `scripts/test.sh` installs podman and runs
//! `gnfc images build` first. These tests fail (never skip) when either is missing.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use gnfc_containers::{
    connect_podman, Command, Executor, Exit, FlakeRegistry, Limits, PodmanError, PodmanExecutor,
    PodmanSettings, ProxyAccess, SandboxSpec, Ulimit,
};

const IMAGE: &str = "gnfc/nix-2.8";
const LIMITS: Limits = Limits {
    stderr_bytes: 64 * 1024,
    stdout_bytes: 64 * 1024,
};

struct World {
    tmp: tempfile::TempDir,
    source: PathBuf,
    _turn: Turn,
}

/// A test that measures this whole process (its resident memory) runs alone in the binary;
/// every other test holds the lock shared for as long as its `World` lives.
static TURNS: RwLock<()> = RwLock::new(());

enum Turn {
    Shared {
        _guard: RwLockReadGuard<'static, ()>,
    },
    Alone {
        _guard: RwLockWriteGuard<'static, ()>,
    },
}

fn world() -> World {
    with_turn(Turn::Shared {
        _guard: TURNS.read().unwrap_or_else(|e| e.into_inner()),
    })
}

/// A world for a test that no other test of this binary may run beside.
fn world_alone() -> World {
    with_turn(Turn::Alone {
        _guard: TURNS.write().unwrap_or_else(|e| e.into_inner()),
    })
}

fn with_turn(turn: Turn) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("repo");
    std::fs::create_dir_all(source.join("sub")).unwrap();
    std::fs::write(source.join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    std::fs::write(source.join("sub/file"), "content\n").unwrap();
    World {
        tmp,
        source,
        _turn: turn,
    }
}

fn settings(world: &World, memory_bytes: u64, pids: u64) -> PodmanSettings {
    PodmanSettings {
        runtime: "auto".to_owned(),
        ulimits: vec![
            "nofile=1024:4096".parse::<Ulimit>().unwrap(),
            "nproc=1024:4096".parse::<Ulimit>().unwrap(),
        ],
        memory_bytes,
        pids,
        cpus: 1.0,
        scratch_root: world.tmp.path().join("scratch"),
    }
}

async fn executor(world: &World, memory_bytes: u64, pids: u64) -> PodmanExecutor {
    let own = world.tmp.path().join("podman.sock");
    let connection = connect_podman(None, &own).await.unwrap_or_else(|e| {
        panic!("podman is needed for these tests (scripts/test.sh installs it): {e}")
    });
    PodmanExecutor::new(connection, settings(world, memory_bytes, pids), IMAGE)
        .await
        .unwrap_or_else(|e| panic!("{e} (scripts/test.sh builds the images)"))
}

fn spec(world: &World) -> SandboxSpec {
    SandboxSpec {
        source: world.source.clone(),
        image: Some(IMAGE.to_owned()),
        nix_config: vec![],
        env: vec![("GNFC_EXTRA".to_owned(), "passed".to_owned())],
        proxy: None,
        registry: FlakeRegistry::Empty,
        limits: LIMITS,
    }
}

fn sh(script: &str) -> Command {
    Command::new("bash").args(["-c", script])
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn runs_nix_in_an_isolated_container() {
    let world = world();
    let executor = executor(&world, 1 << 30, 256).await;
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    assert_eq!(sandbox.source_dir(), "/gnfc/src");

    let out = sandbox
        .run(&Command::new("nix").arg("--version"), 30 * SECOND)
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::Code(0), "{}", out.stderr.text());
    assert!(out.stdout.text().contains("2.8.0"), "{}", out.stdout.text());

    // The source copy is writable and is what the sandbox's file methods see.
    let out = sandbox
        .run(
            &sh("cat sub/file && echo \"$GNFC_EXTRA $HOME\" && echo new > made && rm flake.nix"),
            30 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::Code(0), "{}", out.stderr.text());
    assert_eq!(out.stdout.text(), "content\npassed /gnfc/home\n");
    assert_eq!(sandbox.read("made").await.unwrap().unwrap(), b"new\n");
    assert!(!sandbox.exists("flake.nix").await.unwrap());
    assert!(
        world.source.join("flake.nix").exists(),
        "the snapshot is never written"
    );

    // The image is read-only and nothing of the host is mounted but the scratch dir.
    let out = sandbox
        .run(&sh("touch /etc/gnfc-was-here"), 30 * SECOND)
        .await
        .unwrap();
    assert_ne!(out.exit, Exit::Code(0));
    assert!(
        out.stderr.text().contains("Read-only file system"),
        "{}",
        out.stderr.text()
    );
    let out = sandbox
        .run(
            &Command::new("cat").arg("/proc/self/mountinfo"),
            30 * SECOND,
        )
        .await
        .unwrap();
    let mounts = out.stdout.text();
    let unexpected = unexpected_mounts(&mounts, &world.tmp.path().join("scratch"));
    assert!(
        unexpected.is_empty(),
        "mounts beyond the scratch dir and the runtime's own: {unexpected:#?}\n{mounts}"
    );
    for needed in ["/gnfc", "/nix"] {
        assert!(
            mounts.lines().any(|l| l.split(' ').nth(4) == Some(needed)),
            "{needed} is not mounted:\n{mounts}"
        );
    }

    // The limits, as the container itself sees them (cgroup v2, else v1), and no network
    // interface but loopback.
    let out = sandbox
        .run(
            &sh(
                "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; \
                 cat /sys/fs/cgroup/memory.max 2>/dev/null \
                   || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                 tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
            ),
            30 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::Code(0), "{}", out.stderr.text());
    assert_eq!(
        out.stdout.text(),
        format!("256\n{}\nlo\n", 1u64 << 30),
        "pids.max, memory limit, interfaces"
    );
    sandbox.destroy().await.unwrap();
    let leftovers = std::fs::read_dir(world.tmp.path().join("scratch"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "destroy removes the scratch directory");
}

/// The mounts in a container's `/proc/self/mountinfo` that are neither the read-only image,
/// the test's scratch dir (at `/gnfc`, its `nix/` at `/nix`), the runtime's own virtual file
/// systems under /proc, /sys, /dev, /run and the tmp dirs, nor the files podman itself puts in
/// every container (hosts, hostname, its init).
fn unexpected_mounts(mountinfo: &str, scratch_root: &Path) -> Vec<String> {
    const VIRTUAL: &[&str] = &[
        "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
    ];
    const RUNTIME_DIRS: &[&str] = &["/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"];
    let scratch_root = scratch_root.to_string_lossy().into_owned();
    let under = |path: &str, dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
    mountinfo
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let (root, point, options) = (fields[3], fields[4], fields[5]);
            let fs_type = line
                .split(" - ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or_default();
            let from_scratch = root.starts_with(&format!("{scratch_root}/"));
            let expected = match point {
                "/" => fs_type == "overlay" && options.split(',').any(|o| o == "ro"),
                "/gnfc" => from_scratch && !root.ends_with("/nix"),
                "/nix" => from_scratch && root.ends_with("/nix"),
                "/etc/hosts" | "/etc/hostname" | "/etc/resolv.conf" | "/run/.containerenv" => {
                    root.starts_with("/run/containers/storage/")
                        || root.starts_with("/var/lib/containers/storage/")
                }
                "/run/podman-init" => root.ends_with("/catatonit"),
                // A fresh mount (its own root), or a proc, cgroup or masking entry: a bind of
                // a host tmpfs would show the host directory as its root.
                _ => {
                    VIRTUAL.contains(&fs_type)
                        && RUNTIME_DIRS.iter().any(|d| under(point, d))
                        && (root == "/"
                            || root == "/null"
                            || ["proc", "cgroup", "cgroup2"].contains(&fs_type))
                }
            };
            !expected
        })
        .map(str::to_owned)
        .collect()
}

/// A TCP server on the host, reachable on every address but from a container.
fn host_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn host_addresses() -> Vec<String> {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|a| !a.contains(':'))
        .map(str::to_owned)
        .chain(["127.0.0.1".to_owned(), "10.88.0.1".to_owned()])
        .collect()
}

#[tokio::test]
async fn a_direct_connection_from_a_container_fails() {
    let world = world();
    let executor = executor(&world, 1 << 30, 256).await;
    let (listener, port) = host_listener();
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    for address in host_addresses() {
        let out = sandbox
            .run(
                &sh(&format!(
                    "exec 3<>/dev/tcp/{address}/{port} && echo connected"
                )),
                10 * SECOND,
            )
            .await
            .unwrap();
        assert_ne!(out.exit, Exit::Code(0), "{address}: {}", out.stdout.text());
        assert!(!out.stdout.text().contains("connected"), "{address}");
    }
    assert!(
        listener.accept().is_err(),
        "nothing reached the host's listener"
    );
    sandbox.destroy().await.unwrap();
}

/// An HTTP proxy on a unix socket that answers a request with its request line. Connections
/// that send nothing (the container's readiness probes) are skipped.
fn unix_proxy(path: &Path) -> std::thread::JoinHandle<String> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for _ in 0..100 {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let Some(line) = String::from_utf8_lossy(&request)
                .lines()
                .next()
                .map(str::to_owned)
            else {
                continue;
            };
            let body = format!("proxied {line}");
            write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            return line;
        }
        panic!("no request reached the proxy");
    })
}

#[tokio::test]
async fn the_proxy_socket_is_the_only_way_out() {
    let world = world();
    let executor = executor(&world, 1 << 30, 256).await;
    let socket = world.tmp.path().join("proxy.sock");
    let ca = world.tmp.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let server = unix_proxy(&socket);
    let mut spec = spec(&world);
    spec.proxy = Some(ProxyAccess {
        addr: "127.0.0.1:9".parse().unwrap(),
        unix_socket: socket,
        ca_cert: ca,
    });
    let sandbox = executor.sandbox(&spec).await.unwrap();
    let script = r#"
        echo "proxy=$http_proxy cert=$NIX_SSL_CERT_FILE"
        for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/3128) 2>/dev/null && break; sleep 0.1; done
        exec 3<>/dev/tcp/127.0.0.1/3128
        printf 'GET http://forge.test/x HTTP/1.0\r\nHost: forge.test\r\n\r\n' >&3
        cat <&3
    "#;
    let out = sandbox.run(&sh(script), 30 * SECOND).await.unwrap();
    assert_eq!(out.exit, Exit::Code(0), "{}", out.stderr.text());
    let text = out.stdout.text();
    assert!(
        text.contains("proxy=http://127.0.0.1:3128 cert=/gnfc/proxy-ca.pem"),
        "{text}"
    );
    assert!(
        text.contains("proxied GET http://forge.test/x HTTP/1.0"),
        "{text}"
    );
    assert_eq!(server.join().unwrap(), "GET http://forge.test/x HTTP/1.0");
    sandbox.destroy().await.unwrap();
}

/// Live processes whose command line contains `marker`: a forked shell keeps its parent's
/// command line, so these are the bomb's and nothing else on the host (other tests' containers
/// and builds run beside this one).
fn processes_mentioning(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .count()
}

#[tokio::test]
async fn a_fork_bomb_hits_the_pids_limit_and_is_killed_at_the_timeout() {
    let world = world();
    let executor = executor(&world, 1 << 30, 128).await;
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    let marker = format!(
        "gnfc-bomb-{}-{}",
        std::process::id(),
        world.tmp.path().display()
    );
    let sampler = {
        let marker = marker.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            for _ in 0..40 {
                peak = peak.max(processes_mentioning(&marker));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        })
    };
    let started = Instant::now();
    let out = sandbox
        .run(
            &sh(&format!(
                ": {marker}; bomb() {{ bomb | bomb & }}; bomb; wait; exit 1"
            )),
            4 * SECOND,
        )
        .await
        .unwrap();
    // Either the bomb fizzles out against the limit (and the script fails) or the timeout
    // kills it; both within the time limit.
    assert!(started.elapsed() < 15 * SECOND, "{:?}", started.elapsed());
    assert_ne!(out.exit, Exit::Code(0), "{}", out.stderr.text());
    let peak = sampler.join().unwrap();
    // The bomb really ran (it fills the limit within milliseconds), and never past it.
    assert!(peak >= 32, "only {peak} bomb processes seen: did it run?");
    assert!(
        peak <= 128,
        "{peak} bomb processes at once: the pids limit of 128 did not hold"
    );
    sandbox.destroy().await.unwrap();
}

#[tokio::test]
async fn a_memory_hog_is_an_oom_kill() {
    let world = world();
    let executor = executor(&world, 256 << 20, 256).await;
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    let out = sandbox
        .run(
            &sh("x=$(head -c 1000000000 /dev/zero | tr '\\0' a); echo ${#x}"),
            60 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::OutOfMemory, "{}", out.stderr.text());
    assert_eq!(out.exit.code(), 137);
    sandbox.destroy().await.unwrap();
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn endless_stderr_is_capped_and_memory_stays_flat() {
    let world = world_alone();
    let executor = executor(&world, 1 << 30, 256).await;
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    let before = rss_kib();
    let out = sandbox
        .run(&sh("yes 'error: again and again' >&2"), 5 * SECOND)
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::TimedOut);
    // The cap plus the one-line marker saying how much was dropped.
    let kept = out.stderr.bytes().len();
    assert!(
        kept > LIMITS.stderr_bytes && kept < LIMITS.stderr_bytes + 64,
        "{kept}"
    );
    assert!(
        out.stderr.total() > 10 * LIMITS.stderr_bytes as u64,
        "{}",
        out.stderr.total()
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "gnfc grew by {grown} KiB");
    sandbox.destroy().await.unwrap();
}

#[tokio::test]
async fn a_sleep_times_out_at_the_limit() {
    let world = world();
    let executor = executor(&world, 1 << 30, 256).await;
    let sandbox = executor.sandbox(&spec(&world)).await.unwrap();
    let started = Instant::now();
    let out = sandbox
        .run(&Command::new("sleep").arg("600"), 2 * SECOND)
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::TimedOut);
    assert_eq!(out.exit.code(), 124);
    // Stopped by the limit, not by `sleep` ending: the upper bound is wide because tearing
    // down a container on a loaded machine takes its time, and still far below 600 s.
    let took = started.elapsed();
    assert!(took >= 2 * SECOND && took < 60 * SECOND, "{took:?}");
    sandbox.destroy().await.unwrap();
}

#[tokio::test]
async fn a_missing_image_names_the_build_command() {
    let world = world();
    let own = world.tmp.path().join("podman.sock");
    let connection = connect_podman(None, &own).await.unwrap();
    let err = PodmanExecutor::new(connection, settings(&world, 1 << 30, 256), "gnfc/absent")
        .await
        .unwrap_err();
    assert!(matches!(err, PodmanError::ImageMissing { .. }), "{err}");
    assert!(err.to_string().contains("gnfc images build"), "{err}");
}

#[tokio::test]
async fn containers_of_a_killed_run_are_removed_at_the_next_start() {
    let world = world();
    let dead_owner = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let name = format!("gnfc-leftover-{}", std::process::id());
    let created = std::process::Command::new("podman")
        .args(["create", "--name", &name, "--label"])
        .arg(format!("io.gnfc.owner={dead_owner}"))
        .args(["--network", "none", IMAGE, "sleep", "600"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let _executor = executor(&world, 1 << 30, 256).await;
    let exists = std::process::Command::new("podman")
        .args(["container", "exists", &name])
        .status()
        .unwrap();
    assert!(
        !exists.success(),
        "the leftover container {name} is still there"
    );
}

#[tokio::test]
async fn gnfc_starts_a_podman_service_when_none_answers() {
    let world = world();
    let socket = world.tmp.path().join("own/podman.sock");
    let explicit = format!("unix://{}", socket.display());
    let connection = connect_podman(Some(&explicit), &socket).await.unwrap();
    assert!(connection.started_service());
    assert!(connection.docker.ping().await.is_ok());
    drop(connection);
    // Stopping it removes its socket.
    let deadline = Instant::now() + 10 * SECOND;
    while socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!socket.exists());
}
