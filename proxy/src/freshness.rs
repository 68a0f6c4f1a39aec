//! Which answers can change upstream. A nightly run in record mode must see today's branch
//! heads, not the ones the cache recorded last night, yet stay consistent within itself:
//! answers that can change (*mutable*) are fetched once per run and pinned for it (see
//! `cache/index.rs`), all others are served from the cache forever.
//!
//! Mutable:
//! - forge URLs (GitHub and its API and codeload, raw.githubusercontent.com, GitLab,
//!   SourceHut, and the GitLab and GitHub Enterprise APIs on any host) that no full commit
//!   hash pins: `commits/HEAD`, `commits?ref_name=main`, `archive/main.tar.gz`,
//!   `archive/refs/heads/…`, `tarball/v1.0`, release downloads (tags can move);
//! - git over HTTP on any host: `info/refs`, `git-upload-pack` (protocol v2 lists refs
//!   there), and the dumb protocol's `HEAD`, `packed-refs` and `refs/…` files;
//! - `channels.nixos.org` (the flake registry, channel redirects), `nixos.org/channels/…`
//!   and FlakeHub's version requests (`flakehub.com/f/o/p/0.1.tar.gz`).
//!
//! Immutable: a URL with a `narHash` (its content is checked against it), forge URLs with a
//! 40- or 64-hex commit hash, FlakeHub's `/f/pinned/` URLs, and everything else — binary
//! caches' `.narinfo` and `/nar/` files, versioned release tarballs. A plain URL that
//! names no version (`example.org/latest.tar.gz`) is indistinguishable from one that does,
//! and is treated as immutable: refetching every unknown URL every night would refetch
//! everything.

use http::Uri;

/// Hosts that serve repositories by ref: their URLs change unless a commit hash pins them.
const FORGE_HOSTS: [&str; 6] = [
    "github.com",
    "api.github.com",
    "codeload.github.com",
    "raw.githubusercontent.com",
    "gitlab.com",
    "git.sr.ht",
];

/// API paths of self-hosted forges (Nix's `gitlab:o/r?host=…`, GitHub Enterprise).
const FORGE_API_PREFIXES: [&str; 2] = ["/api/v4/projects/", "/api/v3/repos/"];

/// Path ends of git's smart and dumb HTTP protocols that name refs, not objects.
const GIT_REF_FILES: [&str; 4] = ["info/refs", "git-upload-pack", "HEAD", "packed-refs"];
/// Directories of the dumb protocol's loose refs.
const GIT_REF_DIRS: [&str; 2] = ["/refs/heads/", "/refs/tags/"];

/// Whether the answer to `url` (`scheme://host[:port]/path?query`, as the cache spells it)
/// can differ from one day to the next.
pub(crate) fn is_mutable(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let path = uri.path();
    let query = uri.query().unwrap_or_default();
    // Nix writes `narHash`; parameter names are compared without case all the same.
    let nar_hash = query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case("narhash"))
    });
    if nar_hash {
        return false;
    }
    if is_git_ref_path(path) {
        return true;
    }
    match host.as_str() {
        "channels.nixos.org" => return true,
        "nixos.org" if path.starts_with("/channels/") => return true,
        "flakehub.com" => return path.starts_with("/f/") && !path.starts_with("/f/pinned/"),
        _ => {}
    }
    let forge = FORGE_HOSTS.contains(&host.as_str())
        || FORGE_API_PREFIXES.iter().any(|p| path.starts_with(p));
    forge && !pinned_by_hash(path, query)
}

/// `…/info/refs`, `…/git-upload-pack`, `…/HEAD`, `…/packed-refs`, and the dumb protocol's
/// `…/refs/heads/…` and `…/refs/tags/…` files.
fn is_git_ref_path(path: &str) -> bool {
    GIT_REF_FILES
        .iter()
        .any(|file| path.strip_suffix(file).is_some_and(|p| p.ends_with('/')))
        || GIT_REF_DIRS.iter().any(|dir| path.contains(dir))
}

/// Whether a path segment (file extensions aside) or a query value is a full commit hash.
fn pinned_by_hash(path: &str, query: &str) -> bool {
    let segments = path
        .split('/')
        .map(|segment| segment.split('.').next().unwrap_or_default());
    let values = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(_, v)| v));
    segments.chain(values).any(is_commit_hash)
}

/// SHA-1 (40 hex digits) or SHA-256 (64) object names, as git spells them.
fn is_commit_hash(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn check(urls: &[&str], mutable: bool) {
        for url in urls {
            let url = url.replace("{rev}", REV);
            assert_eq!(is_mutable(&url), mutable, "{url}");
        }
    }

    #[test]
    fn branch_heads_and_registries_are_mutable() {
        check(
            &[
                // github:o/r and github:o/r/branch, every Nix version.
                "https://api.github.com/repos/NixOS/nixpkgs/commits/HEAD",
                "https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-unstable",
                "https://api.github.com/repos/o/r/commits/release%2F1.0",
                "https://api.github.com/repos/o/r/tarball/main",
                "https://api.github.com/repos/o/r",
                // tarball+https: branch archives and the codeload redirect they lead to.
                "https://github.com/NixOS/nixpkgs/archive/nixos-unstable.tar.gz",
                "https://github.com/o/r/archive/refs/heads/main.tar.gz",
                "https://github.com/o/r/archive/v1.0.tar.gz",
                "https://codeload.github.com/o/r/tar.gz/refs/heads/main",
                "https://codeload.github.com/o/r/legacy.tar.gz/main",
                "https://github.com/o/r/releases/latest/download/x.tar.gz",
                "https://raw.githubusercontent.com/o/r/main/flake.nix",
                "https://github.com/NixOS/flake-registry/raw/master/flake-registry.json",
                // gitlab:o/r, also on a self-hosted instance.
                "https://gitlab.com/api/v4/projects/o%2Fr/repository/commits?ref_name=main",
                "https://git.example.org/api/v4/projects/o%2Fr/repository/commits?ref_name=HEAD",
                "https://gitlab.com/o/r/-/archive/main/r-main.tar.gz",
                "https://ghe.example.org/api/v3/repos/o/r/commits/main",
                // sourcehut:~o/r and git+https: on any host.
                "https://git.sr.ht/~o/r/HEAD",
                "https://git.sr.ht/~o/r/info/refs",
                "https://git.sr.ht/~o/r/archive/main.tar.gz",
                "https://codeberg.org/o/r.git/info/refs?service=git-upload-pack",
                "https://codeberg.org/o/r.git/git-upload-pack",
                "https://example.org/r.git/HEAD",
                "https://example.org/r.git/refs/heads/main",
                // The flake registry, channels, FlakeHub version requests.
                "https://channels.nixos.org/flake-registry.json",
                "https://channels.nixos.org/nixos-unstable/nixexprs.tar.xz",
                "https://nixos.org/channels/nixpkgs-unstable/nixexprs.tar.xz",
                "https://flakehub.com/f/NixOS/nixpkgs/0.1.tar.gz",
                "https://flakehub.com/f/NixOS/nixpkgs/*.tar.gz",
            ],
            true,
        );
    }

    #[test]
    fn what_a_hash_pins_is_immutable() {
        check(
            &[
                "https://api.github.com/repos/o/r/commits/{rev}",
                "https://api.github.com/repos/o/r/tarball/{rev}",
                "https://github.com/o/r/archive/{rev}.tar.gz",
                "https://codeload.github.com/o/r/tar.gz/{rev}",
                "https://codeload.github.com/o/r/legacy.tar.gz/{rev}",
                "https://raw.githubusercontent.com/o/r/{rev}/flake.nix",
                "https://gitlab.com/api/v4/projects/o%2Fr/repository/archive.tar.gz?sha={rev}",
                "https://gitlab.com/api/v4/projects/o%2Fr/repository/commits?ref_name={rev}",
                "https://git.sr.ht/~o/r/archive/{rev}.tar.gz",
                // SHA-256 repositories.
                "https://github.com/o/r/archive/{rev}012345678901234567890123.tar.gz",
                // A narHash pins any URL, a branch archive too.
                "https://github.com/o/r/archive/main.tar.gz?narHash=sha256-AAAA",
                "https://example.org/latest.tar.gz?narHash=sha256-AAAA",
                // Content-addressed stores, versioned releases, pinned FlakeHub URLs.
                "https://cache.nixos.org/nix-cache-info",
                "https://cache.nixos.org/0123456789abcdfghijklmnpqrsvwxyz.narinfo",
                "https://cache.nixos.org/nar/0123456789abcdfghijklmnpqrsvwxyz.nar.xz",
                "https://releases.nixos.org/nixos/24.05/nixos-24.05.1/nixexprs.tar.xz",
                "https://api.flakehub.com/f/pinned/NixOS/nixpkgs/0.1.1/0190.tar.gz",
                "https://flakehub.com/f/pinned/NixOS/nixpkgs/0.1.1/0190.tar.gz",
                "https://example.org/foo-1.2.tar.gz",
                "https://localhost:8443/hello",
                "not a url",
            ],
            false,
        );
    }

    #[test]
    fn only_full_hashes_pin() {
        // An abbreviated hash is a ref name to the forge (it resolves it, or not).
        assert!(is_mutable(
            "https://api.github.com/repos/o/r/commits/0123456"
        ));
        assert!(is_mutable(&format!(
            "https://api.github.com/repos/o/r/commits/{}",
            &REV[..39]
        )));
        assert!(is_mutable(&format!(
            "https://api.github.com/repos/o/r/commits/{REV}0"
        )));
    }
}
