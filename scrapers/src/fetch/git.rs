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
        // The variable, not `-c http.sslCAInfo`: a GIT_SSL_CAINFO in gnfc's own environment
        // would win over the config option.
        command.env("GIT_SSL_CAINFO", ca);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs git in `dir` with a fixed identity, returning its stdout.
    fn git_in(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// An origin with three commits: clones of its head and of an older commit both hold
    /// exactly one commit.
    #[tokio::test]
    async fn clones_are_one_commit_deep() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin");
        std::fs::create_dir_all(&origin).unwrap();
        git_in(&origin, &["init", "-q"]);
        let mut commits = Vec::new();
        for n in 1..=3 {
            std::fs::write(origin.join("file"), format!("{n}\n")).unwrap();
            git_in(&origin, &["add", "file"]);
            git_in(&origin, &["commit", "-q", "-m", &format!("commit {n}")]);
            commits.push(git_in(&origin, &["rev-parse", "HEAD"]));
        }
        // file://, not a plain path: git ignores --depth for local paths.
        let url = format!("file://{}", origin.display());
        let network = GitNetwork::default();
        for (commit, into) in [(None, "head"), (Some(commits[1].as_str()), "older")] {
            let into = dir.path().join(into);
            let checked_out = shallow_clone(&url, commit, &into, &network).await.unwrap();
            assert_eq!(checked_out, commit.unwrap_or(&commits[2]));
            assert_eq!(git_in(&into, &["rev-list", "--count", "HEAD"]), "1");
            assert!(into.join(".git/shallow").is_file());
        }
    }
}
