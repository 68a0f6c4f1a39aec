//! Shallow git clones, for forges without tarballs or when asked for.

use std::path::Path;

use tokio::process::Command;

use super::FetchError;

/// What a clone goes through.
#[derive(Debug, Clone, Default)]
pub(crate) struct GitNetwork<'a> {
    pub proxy: Option<&'a str>,
    pub ca_file: Option<&'a Path>,
}

fn git(network: &GitNetwork<'_>) -> Command {
    let mut command = Command::new("git");
    if let Some(proxy) = network.proxy {
        command.arg("-c").arg(format!("http.proxy={proxy}"));
    }
    if let Some(ca) = network.ca_file {
        command
            .arg("-c")
            .arg(format!("http.sslCAInfo={}", ca.display()));
    }
    // Never wait for a password nobody will type.
    command.env("GIT_TERMINAL_PROMPT", "0").kill_on_drop(true);
    command
}

async fn run(mut command: Command, what: &str) -> Result<String, FetchError> {
    let output = command
        .output()
        .await
        .map_err(|e| FetchError::Git(format!("cannot run git ({e}); install git")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(FetchError::Git(format!(
            "{what}: {}",
            crate::http::excerpt(&stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Clones `url` into `into` (which must not exist) with depth 1, at `commit` if given, else
/// at the default branch head; returns the commit checked out.
pub(crate) async fn shallow_clone(
    url: &str,
    commit: Option<&str>,
    into: &Path,
    network: &GitNetwork<'_>,
) -> Result<String, FetchError> {
    match commit {
        None => {
            let mut clone = git(network);
            clone
                .args(["clone", "--quiet", "--depth", "1", "--"])
                .arg(url)
                .arg(into);
            run(clone, &format!("git clone {url}")).await?;
        }
        Some(commit) => {
            let mut init = git(network);
            init.args(["init", "--quiet"]).arg(into);
            run(init, "git init").await?;
            let mut fetch = git(network);
            fetch
                .arg("-C")
                .arg(into)
                .args(["fetch", "--quiet", "--depth", "1", "--"])
                .arg(url)
                .arg(commit);
            run(fetch, &format!("git fetch {url} {commit}")).await?;
            let mut checkout = git(network);
            checkout
                .arg("-C")
                .arg(into)
                .args(["checkout", "--quiet", "FETCH_HEAD"]);
            run(checkout, "git checkout").await?;
        }
    }
    let mut head = git(network);
    head.arg("-C").arg(into).args(["rev-parse", "HEAD"]);
    run(head, "git rev-parse HEAD").await
}
