//! What a source reports: a flake file in a repo on a forge, and the ways people name repos
//! (Sourcegraph repository names, URLs, `owner/repo`, flakerefs).

use gnfc_data::{FoundFlake, NewRepo};

/// Where a repo lives, which decides its URL and how it is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forge {
    Github,
    Gitlab,
    Sourcehut,
    /// Any other git host: fetched by cloning `url`.
    Git {
        url: String,
    },
}

impl Forge {
    /// The name stored in `repos.forge`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Sourcehut => "sourcehut",
            Forge::Git { .. } => "git",
        }
    }
}

/// One flake file a source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub forge: Forge,
    /// `NixOS`; a GitLab group path (`group/sub`); a sourcehut user without `~`; the host
    /// for other git repos.
    pub owner: String,
    pub name: String,
    /// Path of the flake file in the repo.
    pub path: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub stars: Option<i64>,
}

impl Found {
    /// A repo found at `forge` with the flake at the root.
    pub fn new(forge: Forge, owner: &str, name: &str) -> Found {
        Found {
            forge,
            owner: owner.to_owned(),
            name: name.to_owned(),
            path: "flake.nix".to_owned(),
            commit: None,
            branch: None,
            stars: None,
        }
    }

    /// The repo's identity. Forge names are case-insensitive, so the URL is lower-cased: the
    /// same repo spelt `NixOS/nix` by one source and `nixos/nix` by another is one repo.
    pub fn url(&self) -> String {
        match &self.forge {
            Forge::Github => format!("https://github.com/{}/{}", self.owner, self.name),
            Forge::Gitlab => format!("https://gitlab.com/{}/{}", self.owner, self.name),
            Forge::Sourcehut => format!("https://git.sr.ht/~{}/{}", self.owner, self.name),
            Forge::Git { url } => return url.clone(),
        }
        .to_lowercase()
    }

    pub fn into_found_flake(self) -> FoundFlake {
        FoundFlake {
            repo: NewRepo {
                forge: self.forge.as_str().to_owned(),
                url: self.url(),
                owner: self.owner,
                name: self.name,
                stars: self.stars,
                default_branch: self.branch,
            },
            path: self.path,
            commit: self.commit,
        }
    }
}

/// A repo name part that URLs would reinterpret: empty, `.` or `..`.
fn bad_part(part: &str) -> bool {
    part.is_empty() || part == "." || part == ".." || part.contains('\0')
}

fn checked(owner: &str, name: &str, what: &str) -> Result<(), String> {
    let name = name.strip_suffix(".git").unwrap_or(name);
    if owner.split('/').any(bad_part) || bad_part(name) || name.contains('/') {
        return Err(format!(
            "'{what}' does not name a repo: owner and name must be non-empty and neither may \
             be '.' or '..'"
        ));
    }
    Ok(())
}

/// A Sourcegraph repository name (`github.com/NixOS/nix`, `gitlab.com/group/sub/repo`,
/// `git.sr.ht/~user/repo`, or another host's path).
pub fn from_repository_name(repository: &str) -> Result<Found, String> {
    let (host, path) = repository
        .split_once('/')
        .ok_or_else(|| format!("'{repository}' is not a HOST/PATH repository name"))?;
    from_host_path(host, path, &format!("https://{repository}"))
}

fn from_host_path(host: &str, path: &str, url: &str) -> Result<Found, String> {
    // URLs and flakerefs percent-encode what a path segment cannot hold (`%20`).
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let path = decoded.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("'{url}' has no OWNER/NAME path"))?;
    let (forge, owner) = match host.to_lowercase().as_str() {
        "github.com" => {
            // Only the first two segments name a repo (`/o/r/tree/main` is a page of it).
            let mut parts = path.split('/');
            let (o, r) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            checked(o, r, url)?;
            return Ok(Found::new(Forge::Github, o, r));
        }
        "gitlab.com" => (Forge::Gitlab, owner),
        "git.sr.ht" => (
            Forge::Sourcehut,
            owner
                .strip_prefix('~')
                .ok_or_else(|| format!("'{url}': sourcehut owners start with '~'"))?,
        ),
        _ => (
            Forge::Git {
                url: url.to_owned(),
            },
            owner,
        ),
    };
    checked(owner, name, url)?;
    let owner = if matches!(forge, Forge::Git { .. }) {
        host
    } else {
        owner
    };
    Ok(Found::new(forge, owner, name))
}

/// A line of a repo list: a URL, `owner/repo` (GitHub), or a flakeref (`github:o/r/ref`,
/// `gitlab:`, `sourcehut:`, `git+https://…?ref=…&rev=…`, with an optional `?dir=sub`).
pub fn from_list_line(line: &str) -> Result<Found, String> {
    let (body, query) = match line.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (line, None),
    };
    let param = |key: &str| {
        query.and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_owned())
        })
    };
    let mut found = if let Some((scheme, rest)) = body.split_once(':') {
        match scheme {
            "github" | "gitlab" | "sourcehut" => {
                let parts: Vec<&str> = rest.split('/').collect();
                if parts.len() < 2 {
                    return Err(format!("'{line}': a {scheme}: flakeref needs OWNER/REPO"));
                }
                // GitLab owners may be nested groups only in the URL form; the flakeref
                // form is OWNER/REPO[/REF] like the others (as Nix reads it).
                let (owner, name, rest) = (parts[0], parts[1], &parts[2..]);
                let host = match scheme {
                    "github" => "github.com",
                    "gitlab" => "gitlab.com",
                    _ => "git.sr.ht",
                };
                // (`line` only names the repo in messages: these forges have fixed URLs.)
                let mut found = from_host_path(host, &format!("{owner}/{name}"), line)?;
                let reference = (!rest.is_empty()).then(|| rest.join("/"));
                set_ref(
                    &mut found,
                    reference.or_else(|| param("rev")).or_else(|| param("ref")),
                );
                found
            }
            "https" | "http" | "git+https" | "git+http" => {
                let url = body.strip_prefix("git+").unwrap_or(body);
                let without = url.split_once("://").map_or("", |(_, r)| r);
                let (host, path) = without
                    .split_once('/')
                    .ok_or_else(|| format!("'{line}' is a URL without a repo path"))?;
                let mut found = from_host_path(host, path, url)?;
                set_ref(&mut found, param("rev").or_else(|| param("ref")));
                found
            }
            _ => {
                return Err(format!(
                    "'{line}': unknown scheme '{scheme}:' (use a https:// URL, OWNER/REPO, or a \
                     github:, gitlab:, sourcehut: or git+https: flakeref)"
                ))
            }
        }
    } else {
        let parts: Vec<&str> = body.split('/').collect();
        if parts.len() != 2 {
            return Err(format!(
                "'{line}' is neither a URL, nor OWNER/REPO, nor a flakeref"
            ));
        }
        checked(parts[0], parts[1], line)?;
        Found::new(Forge::Github, parts[0], parts[1])
    };
    if let Some(dir) = param("dir").filter(|d| !d.is_empty()) {
        if dir.split('/').any(|p| p == "..") {
            return Err(format!("'{line}': dir may not leave the repo"));
        }
        found.path = format!("{}/flake.nix", dir.trim_matches('/'));
    }
    Ok(found)
}

/// A ref that is a full commit hash pins the commit; anything else names a branch.
fn set_ref(found: &mut Found, reference: Option<String>) {
    match reference {
        Some(r) if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) => {
            found.commit = Some(r)
        }
        Some(r) => found.branch = Some(r),
        None => {}
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn repository_names_of_each_forge() {
        let f = from_repository_name("github.com/NixOS/nix").unwrap();
        assert_eq!(
            (f.forge.as_str(), f.owner.as_str(), f.name.as_str()),
            ("github", "NixOS", "nix")
        );
        assert_eq!(f.url(), "https://github.com/nixos/nix");
        let f = from_repository_name("gitlab.com/group/sub/repo").unwrap();
        assert_eq!((f.owner.as_str(), f.name.as_str()), ("group/sub", "repo"));
        let f = from_repository_name("git.sr.ht/~sircmpwn/hare").unwrap();
        assert_eq!(f.url(), "https://git.sr.ht/~sircmpwn/hare");
        let f = from_repository_name("codeberg.org/a/b").unwrap();
        assert_eq!(
            f.forge,
            Forge::Git {
                url: "https://codeberg.org/a/b".to_owned()
            }
        );
        assert!(from_repository_name("github.com/../etc").is_err());
        assert!(from_repository_name("nohost").is_err());
    }

    #[test]
    fn list_lines_in_every_form() {
        let f = from_list_line("NixOS/nixpkgs").unwrap();
        assert_eq!(f.url(), "https://github.com/nixos/nixpkgs");
        let f = from_list_line("https://github.com/numtide/flake-utils.git").unwrap();
        assert_eq!(f.name, "flake-utils");
        let f = from_list_line("https://github.com/o/r/tree/main/sub").unwrap();
        assert_eq!((f.owner.as_str(), f.name.as_str()), ("o", "r"));
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let f = from_list_line(&format!("github:o/r/{rev}?dir=a/b")).unwrap();
        assert_eq!(f.commit.as_deref(), Some(rev));
        assert_eq!(f.path, "a/b/flake.nix");
        let f = from_list_line("gitlab:g/r/main").unwrap();
        assert_eq!(
            (f.forge.as_str(), f.branch.as_deref()),
            ("gitlab", Some("main"))
        );
        let f = from_list_line("sourcehut:~u/r").unwrap();
        assert_eq!(f.owner, "u");
        let f = from_list_line("git+https://codeberg.org/a/b?ref=dev").unwrap();
        assert_eq!(f.forge.as_str(), "git");
        assert_eq!(f.branch.as_deref(), Some("dev"));
        for bad in [
            "a/b/c",
            "ftp:x/y",
            "github:o",
            "../..",
            "github:../x",
            "o/r?dir=../x",
        ] {
            assert!(from_list_line(bad).is_err(), "{bad}");
        }
        // Hostile but harmless names are kept as they are (the store is content-addressed).
        let f = from_list_line("we ird/na me!ü").unwrap();
        assert_eq!(f.name, "na me!ü");
        let f = from_list_line("github:o/na%20me%21").unwrap();
        assert_eq!(f.name, "na me!");
        assert!(from_list_line("github:o/%2E%2E").is_err());
    }
}
