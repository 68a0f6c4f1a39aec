//! Two lockfiles compared node by node: the nodes only one has, the nodes locked differently,
//! and the input edges (`inputs`, `follows`) that differ.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// The `locked` attributes that say what a node is pinned to.
const LOCKED_FIELDS: &[&str] = &[
    "type", "url", "owner", "repo", "path", "ref", "rev", "narHash",
];

/// What differs between lockfile `a` and lockfile `b`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockDiff {
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    /// Nodes of both whose pin differs.
    pub changed: Vec<NodeChange>,
    /// Input edges of nodes in both that differ.
    pub edges: Vec<EdgeChange>,
}

/// A node of both lockfiles, locked differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeChange {
    pub node: String,
    pub fields: Vec<FieldChange>,
}

/// One `locked` attribute of a node; `None` where a side does not have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// One input of a node: the node it points to, or `follows a/b` for a follows path; `None`
/// where a side does not have the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeChange {
    pub node: String,
    pub input: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

impl LockDiff {
    pub fn is_empty(&self) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.changed.is_empty()
            && self.edges.is_empty()
    }
}

/// Why a lockfile cannot be compared.
#[derive(Debug, thiserror::Error)]
#[error("the lockfile is not JSON with a `nodes` object: {0}")]
pub struct NotALockfile(String);

/// Compares two lockfiles (the bytes as stored).
pub fn lock_diff(a: &[u8], b: &[u8]) -> Result<LockDiff, NotALockfile> {
    let (a, b) = (nodes(a)?, nodes(b)?);
    let mut diff = LockDiff::default();
    for (name, node_a) in &a {
        let Some(node_b) = b.get(name) else {
            diff.only_in_a.push(name.clone());
            continue;
        };
        let fields = changed(
            LOCKED_FIELDS.iter().map(|f| (*f).to_owned()),
            |f| node_a.get("locked").and_then(|l| l.get(f)).map(scalar),
            |f| node_b.get("locked").and_then(|l| l.get(f)).map(scalar),
        );
        if !fields.is_empty() {
            let fields = fields
                .into_iter()
                .map(|(field, a, b)| FieldChange { field, a, b })
                .collect();
            diff.changed.push(NodeChange {
                node: name.clone(),
                fields,
            });
        }
        let inputs = |node: &Value| -> BTreeMap<String, String> {
            node.get("inputs")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), edge(v))).collect())
                .unwrap_or_default()
        };
        let (inputs_a, inputs_b) = (inputs(node_a), inputs(node_b));
        let names: BTreeSet<String> = inputs_a.keys().chain(inputs_b.keys()).cloned().collect();
        for (input, a, b) in changed(
            names.into_iter(),
            |i| inputs_a.get(i).cloned(),
            |i| inputs_b.get(i).cloned(),
        ) {
            diff.edges.push(EdgeChange {
                node: name.clone(),
                input,
                a,
                b,
            });
        }
    }
    diff.only_in_b = b.keys().filter(|n| !a.contains_key(*n)).cloned().collect();
    Ok(diff)
}

/// The keys whose two values differ, with both values.
fn changed(
    keys: impl Iterator<Item = String>,
    a: impl Fn(&str) -> Option<String>,
    b: impl Fn(&str) -> Option<String>,
) -> Vec<(String, Option<String>, Option<String>)> {
    keys.filter_map(|k| {
        let (a, b) = (a(&k), b(&k));
        (a != b).then_some((k, a, b))
    })
    .collect()
}

fn nodes(content: &[u8]) -> Result<Map<String, Value>, NotALockfile> {
    let json: Value = serde_json::from_slice(content).map_err(|e| NotALockfile(e.to_string()))?;
    match json.get("nodes") {
        Some(Value::Object(nodes)) => Ok(nodes.clone()),
        _ => Err(NotALockfile("no `nodes`".to_owned())),
    }
}

/// A JSON value as text: strings bare, anything else as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An input edge: a node name, or a follows path (a list of input names from the root).
fn edge(value: &Value) -> String {
    match value {
        Value::Array(path) => {
            let path: Vec<String> = path.iter().map(scalar).collect();
            format!("follows {}", path.join("/"))
        }
        other => scalar(other),
    }
}

/// The diff as text, `a` and `b` named by `label_a` and `label_b`.
pub fn lock_diff_text(diff: &LockDiff, label_a: &str, label_b: &str) -> String {
    if diff.is_empty() {
        return "the two lockfiles lock the same nodes alike, with the same inputs\n".to_owned();
    }
    let mut out = String::new();
    let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
    for (label, only) in [(label_a, &diff.only_in_a), (label_b, &diff.only_in_b)] {
        if !only.is_empty() {
            let _ = writeln!(out, "nodes only in {label}: {}", only.join(", "));
        }
    }
    if !diff.changed.is_empty() {
        let _ = writeln!(out, "nodes locked differently ({label_a} → {label_b}):");
        for node in &diff.changed {
            let _ = writeln!(out, "  {}", node.node);
            for f in &node.fields {
                let _ = writeln!(out, "    {}: {} → {}", f.field, side(&f.a), side(&f.b));
            }
        }
    }
    if !diff.edges.is_empty() {
        let _ = writeln!(out, "inputs that differ ({label_a} → {label_b}):");
        for e in &diff.edges {
            let _ = writeln!(
                out,
                "  {}.{}: {} → {}",
                e.node,
                e.input,
                side(&e.a),
                side(&e.b)
            );
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    const A: &str = r#"{"nodes":{
      "root":{"inputs":{"nixpkgs":"nixpkgs","utils":"utils"}},
      "nixpkgs":{"locked":{"type":"github","owner":"o","repo":"nixpkgs","rev":"r1","narHash":"h1"},
                 "original":{"type":"github","owner":"o","repo":"nixpkgs"}},
      "utils":{"inputs":{"nixpkgs":"nixpkgs_2"},
               "locked":{"type":"git","url":"file:///u","rev":"u1","narHash":"hu"}},
      "nixpkgs_2":{"locked":{"type":"github","owner":"o","repo":"nixpkgs","rev":"r0","narHash":"h0"}}
    },"root":"root","version":7}"#;

    const B: &str = r#"{"nodes":{
      "root":{"inputs":{"nixpkgs":"nixpkgs","utils":"utils"}},
      "nixpkgs":{"locked":{"type":"github","owner":"o","repo":"nixpkgs","rev":"r2","narHash":"h2"},
                 "original":{"type":"github","owner":"o","repo":"nixpkgs"}},
      "utils":{"inputs":{"nixpkgs":["nixpkgs"]},
               "locked":{"type":"git","url":"file:///u","rev":"u1","narHash":"hu"}}
    },"root":"root","version":7}"#;

    #[test]
    fn nodes_pins_and_follows_are_compared() {
        let diff = lock_diff(A.as_bytes(), B.as_bytes()).unwrap();
        assert_eq!(diff.only_in_a, ["nixpkgs_2"]);
        assert!(diff.only_in_b.is_empty());
        assert_eq!(
            diff.changed,
            [NodeChange {
                node: "nixpkgs".to_owned(),
                fields: vec![
                    FieldChange {
                        field: "rev".to_owned(),
                        a: Some("r1".to_owned()),
                        b: Some("r2".to_owned()),
                    },
                    FieldChange {
                        field: "narHash".to_owned(),
                        a: Some("h1".to_owned()),
                        b: Some("h2".to_owned()),
                    },
                ],
            }]
        );
        assert_eq!(
            diff.edges,
            [EdgeChange {
                node: "utils".to_owned(),
                input: "nixpkgs".to_owned(),
                a: Some("nixpkgs_2".to_owned()),
                b: Some("follows nixpkgs".to_owned()),
            }]
        );
        let text = lock_diff_text(&diff, "test 1", "test 2");
        assert!(text.contains("nodes only in test 1: nixpkgs_2"), "{text}");
        assert!(text.contains("    rev: r1 → r2"), "{text}");
        assert!(
            text.contains("  utils.nixpkgs: nixpkgs_2 → follows nixpkgs"),
            "{text}"
        );
    }

    #[test]
    fn a_lockfile_equals_itself_and_garbage_is_refused() {
        let same = lock_diff(A.as_bytes(), A.as_bytes()).unwrap();
        assert!(same.is_empty());
        assert!(lock_diff_text(&same, "a", "b").contains("alike"));
        assert!(lock_diff(b"not json", A.as_bytes()).is_err());
        assert!(lock_diff(A.as_bytes(), b"{\"version\":7}").is_err());
    }

    #[test]
    fn an_input_on_one_side_only_is_an_edge_change() {
        let b = A.replace(
            r#""inputs":{"nixpkgs":"nixpkgs","utils":"utils"}"#,
            r#""inputs":{"nixpkgs":"nixpkgs"}"#,
        );
        let diff = lock_diff(A.as_bytes(), b.as_bytes()).unwrap();
        assert_eq!(diff.edges.len(), 1, "{diff:?}");
        assert_eq!(diff.edges[0].b, None);
        assert!(lock_diff_text(&diff, "a", "b").contains("root.utils: utils → (none)"));
    }
}
