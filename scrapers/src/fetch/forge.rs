//! Where each forge serves a repo's head commit and its tarballs: the URLs Nix itself uses,
//! under configurable bases (the real forges, or a mirror).

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use gnfc_data::NewRepo;

/// Bases of the forges' URLs.
#[derive(Debug, Clone)]
pub struct ForgeUrls {
    pub github: String,
    pub github_api: String,
    pub gitlab: String,
    pub sourcehut: String,
}

impl Default for ForgeUrls {
    fn default() -> ForgeUrls {
        ForgeUrls {
            github: "https://github.com".to_owned(),
            github_api: "https://api.github.com".to_owned(),
            gitlab: "https://gitlab.com".to_owned(),
            sourcehut: "https://git.sr.ht".to_owned(),
        }
    }
}

/// Everything but unreserved characters is escaped in a path segment, so a name with
/// spaces, `!`, `?`, `#`, `%` or unicode stays one segment of the URL meant.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'!')
    .add(b'"')
    .add(b'#')
    .add(b'$')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Each segment of a `/`-separated path (a GitLab group path) escaped.
fn segs(s: &str) -> String {
    s.split('/').map(seg).collect::<Vec<_>>().join("/")
}

/// How a forge answers "which commit is the head of this ref".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadLookup {
    /// JSON with the commit in `sha` (GitHub) …
    GithubJson(String),
    /// … a JSON list whose first element's `id` is it (GitLab) …
    GitlabJson(String),
    /// … or git's dumb-HTTP files: `HEAD` names the branch, `info/refs` its commit.
    DumbHttp { head: String, refs: String },
}

impl ForgeUrls {
    fn base(&self, forge: &str) -> Option<&str> {
        match forge {
            "github" => Some(&self.github),
            "gitlab" => Some(&self.gitlab),
            "sourcehut" => Some(&self.sourcehut),
            _ => None,
        }
        .map(|b| b.trim_end_matches('/'))
    }

    /// How to learn the commit at `reference` (`HEAD` = the default branch).
    pub(crate) fn head(&self, repo: &NewRepo, reference: &str) -> Option<HeadLookup> {
        let (o, n) = (&repo.owner, &repo.name);
        Some(match repo.forge.as_str() {
            "github" => HeadLookup::GithubJson(format!(
                "{}/repos/{}/{}/commits/{}",
                self.github_api.trim_end_matches('/'),
                seg(o),
                seg(n),
                seg(reference)
            )),
            "gitlab" => HeadLookup::GitlabJson(format!(
                "{}/api/v4/projects/{}/repository/commits?ref_name={}",
                self.base("gitlab")?,
                seg(&format!("{o}/{n}")),
                seg(reference)
            )),
            "sourcehut" => {
                let base = format!("{}/~{}/{}", self.base("sourcehut")?, seg(o), seg(n));
                HeadLookup::DumbHttp {
                    head: format!("{base}/HEAD"),
                    refs: format!("{base}/info/refs"),
                }
            }
            _ => return None,
        })
    }

    /// The tarball of `commit`; `None` for forges without one (fetched with git).
    pub(crate) fn tarball(&self, repo: &NewRepo, commit: &str) -> Option<String> {
        let (o, n) = (&repo.owner, &repo.name);
        let base = self.base(&repo.forge)?;
        Some(match repo.forge.as_str() {
            "github" => format!("{base}/{}/{}/archive/{commit}.tar.gz", seg(o), seg(n)),
            "gitlab" => format!(
                "{base}/api/v4/projects/{}/repository/archive.tar.gz?sha={commit}",
                seg(&format!("{o}/{n}"))
            ),
            _ => format!("{base}/~{}/{}/archive/{commit}.tar.gz", seg(o), seg(n)),
        })
    }

    /// The URL `git clone` takes.
    pub(crate) fn clone_url(&self, repo: &NewRepo) -> String {
        match (repo.forge.as_str(), self.base(&repo.forge)) {
            ("sourcehut", Some(base)) => {
                format!("{base}/~{}/{}", seg(&repo.owner), seg(&repo.name))
            }
            (_, Some(base)) => format!("{base}/{}/{}", segs(&repo.owner), seg(&repo.name)),
            _ => repo.url.clone(),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn repo(forge: &str, owner: &str, name: &str) -> NewRepo {
        NewRepo {
            forge: forge.into(),
            owner: owner.into(),
            name: name.into(),
            url: String::new(),
            stars: None,
            default_branch: None,
        }
    }

    #[test]
    fn documented_urls_with_hostile_names_kept_in_their_segment() {
        let f = ForgeUrls::default();
        assert_eq!(
            f.tarball(&repo("github", "NixOS", "nix"), "abc").unwrap(),
            "https://github.com/NixOS/nix/archive/abc.tar.gz"
        );
        assert_eq!(
            f.tarball(&repo("github", "we ird", "../x?y#z!ü"), "abc")
                .unwrap(),
            "https://github.com/we%20ird/..%2Fx%3Fy%23z%21%C3%BC/archive/abc.tar.gz"
        );
        assert_eq!(
            f.tarball(&repo("gitlab", "group/sub", "r"), "abc").unwrap(),
            "https://gitlab.com/api/v4/projects/group%2Fsub%2Fr/repository/archive.tar.gz?sha=abc"
        );
        assert_eq!(
            f.head(&repo("sourcehut", "u", "r"), "HEAD").unwrap(),
            HeadLookup::DumbHttp {
                head: "https://git.sr.ht/~u/r/HEAD".into(),
                refs: "https://git.sr.ht/~u/r/info/refs".into()
            }
        );
        assert_eq!(
            f.head(&repo("github", "o", "r"), "HEAD").unwrap(),
            HeadLookup::GithubJson("https://api.github.com/repos/o/r/commits/HEAD".into())
        );
        assert_eq!(f.tarball(&repo("git", "h", "r"), "abc"), None);
    }
}
