//! The flake registry the mirror answers `channels.nixos.org/flake-registry.json` with when
//! no registry file is configured: the global registry's entries, then one entry per
//! repository the mirror holds that no global entry already names, so that `nixpkgs`,
//! `flake-utils` or `flake:my-lib` resolve offline exactly as they do online.

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// Nix's global registry (`flake-registry.json` of github.com/NixOS/flake-registry, which
/// `channels.nixos.org/flake-registry.json` serves): id → `github:` owner, repo, and the ref
/// or subdirectory where the entry has one. Facts, written here so the answer needs no
/// network; an entry whose repository the mirror does not hold fails to fetch as any
/// offline miss does.
const GLOBAL: &[Entry<'static>] = &[
    Entry::github("agda", "agda", "agda"),
    Entry::github("arion", "hercules-ci", "arion"),
    Entry::github("blender-bin", "edolstra", "nix-warez").dir("blender"),
    Entry::github("bundlers", "NixOS", "bundlers"),
    Entry::github("cachix", "cachix", "cachix"),
    Entry::github("composable", "ComposableFi", "composable"),
    Entry::github("disko", "nix-community", "disko"),
    Entry::github("dreampkgs", "nix-community", "dreampkgs"),
    Entry::github("dwarffs", "edolstra", "dwarffs"),
    Entry::github("emacs-overlay", "nix-community", "emacs-overlay"),
    Entry::github("fenix", "nix-community", "fenix"),
    Entry::github("flake-parts", "hercules-ci", "flake-parts"),
    Entry::github("flake-utils", "numtide", "flake-utils"),
    Entry::github("gemini", "nix-community", "flake-gemini"),
    Entry::github("helix", "helix-editor", "helix"),
    Entry::github("hercules-ci-agent", "hercules-ci", "hercules-ci-agent"),
    Entry::github("hercules-ci-effects", "hercules-ci", "hercules-ci-effects"),
    Entry::github("home-manager", "nix-community", "home-manager"),
    Entry::github("hydra", "NixOS", "hydra"),
    Entry::github("mach-nix", "DavHau", "mach-nix"),
    Entry::github("nickel", "tweag", "nickel"),
    Entry::github("nimble", "nix-community", "flake-nimble"),
    Entry::github("nix", "NixOS", "nix"),
    Entry::github("nix-darwin", "LnL7", "nix-darwin"),
    Entry::github("nix-serve", "edolstra", "nix-serve"),
    Entry::github("nixops", "NixOS", "nixops"),
    Entry::github("nixos-hardware", "NixOS", "nixos-hardware"),
    Entry::github("nixos-homepage", "NixOS", "nixos-homepage"),
    Entry::github("nixos-search", "NixOS", "nixos-search"),
    Entry::github("nixpkgs", "NixOS", "nixpkgs").reference("nixpkgs-unstable"),
    Entry::github("nur", "nix-community", "NUR"),
    Entry::github("patchelf", "NixOS", "patchelf"),
    Entry::github("poetry2nix", "nix-community", "poetry2nix"),
    Entry::github("pridefetch", "SpyHoodle", "pridefetch"),
    Entry::github("sops-nix", "Mic92", "sops-nix"),
    Entry::github("systems", "nix-systems", "default"),
    Entry::github("templates", "NixOS", "templates"),
];

/// One registry entry: `id` → `github:owner/repo[/ref][?dir=…]`.
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    id: &'a str,
    owner: &'a str,
    repo: &'a str,
    reference: Option<&'a str>,
    dir: Option<&'a str>,
}

impl<'a> Entry<'a> {
    const fn github(id: &'a str, owner: &'a str, repo: &'a str) -> Entry<'a> {
        Entry {
            id,
            owner,
            repo,
            reference: None,
            dir: None,
        }
    }

    const fn reference(self, reference: &'a str) -> Entry<'a> {
        Entry {
            reference: Some(reference),
            ..self
        }
    }

    const fn dir(self, dir: &'a str) -> Entry<'a> {
        Entry {
            dir: Some(dir),
            ..self
        }
    }
}

/// The registry (format version 2) for a mirror holding `held` (`owner/repo` names).
pub(crate) fn registry(held: &[(String, String)]) -> Value {
    let mut ids: BTreeSet<String> = GLOBAL.iter().map(|e| e.id.to_owned()).collect();
    let mut flakes: Vec<Value> = GLOBAL.iter().map(entry).collect();
    for (owner, repo) in held {
        // A repository of the mirror is `flake:REPO` unless a global entry has that name
        // (the global registry wins, as it does for Nix) or Nix would not accept it as an id.
        if is_flake_id(repo) && ids.insert(repo.clone()) {
            flakes.push(entry(&Entry::github(repo, owner, repo)));
        }
    }
    json!({ "flakes": flakes, "version": 2 })
}

fn entry(to: &Entry<'_>) -> Value {
    let mut target = json!({ "type": "github", "owner": to.owner, "repo": to.repo });
    if let Some(reference) = to.reference {
        target["ref"] = json!(reference);
    }
    if let Some(dir) = to.dir {
        target["dir"] = json!(dir);
    }
    json!({ "from": { "type": "indirect", "id": to.id }, "to": target })
}

/// Nix's rule for flake ids: a letter, then letters, digits, `-` and `_`.
fn is_flake_id(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_of<'a>(registry: &'a Value, id: &str) -> &'a Value {
        registry["flakes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"]["id"] == id)
            .map(|e| &e["to"])
            .unwrap_or_else(|| panic!("no entry {id} in {registry}"))
    }

    #[test]
    fn global_entries_come_first_and_win_over_held_repos() {
        let held = vec![
            ("gnfc-forge".to_owned(), "github-lib".to_owned()),
            ("someone".to_owned(), "nixpkgs".to_owned()),
            ("~gnfc".to_owned(), "hut-lib".to_owned()),
            ("odd".to_owned(), "1-starts-with-a-digit".to_owned()),
        ];
        let r = registry(&held);
        assert_eq!(r["version"], 2);
        assert_eq!(
            target_of(&r, "nixpkgs"),
            &json!({"type": "github", "owner": "NixOS", "repo": "nixpkgs", "ref": "nixpkgs-unstable"})
        );
        assert_eq!(target_of(&r, "blender-bin")["dir"], "blender");
        assert_eq!(
            target_of(&r, "github-lib"),
            &json!({"type": "github", "owner": "gnfc-forge", "repo": "github-lib"})
        );
        assert_eq!(target_of(&r, "hut-lib")["owner"], "~gnfc");
        let ids: Vec<&str> = r["flakes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["from"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.iter().filter(|id| **id == "nixpkgs").count(), 1);
        assert!(!ids.contains(&"1-starts-with-a-digit"));
        assert_eq!(ids.len(), GLOBAL.len() + 2);
    }
}
