//! Lockfile analysis: how many inputs a lock has per combo, inputs locked more than once,
//! whether combos lock a flake alike; and drvPath divergence between combos.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gnfc_data::Db;
use serde::Serialize;

use crate::dataset::{RunData, Sym};
use crate::ReportError;

/// What a lockfile locks, reduced to what the analysis compares.
#[derive(Debug, Clone, Default)]
struct LockSummary {
    nodes: i64,
    /// Original reference (canonical JSON) → what it was locked to (rev or narHash), one
    /// entry per node locking it.
    inputs: BTreeMap<String, Vec<String>>,
}

impl LockSummary {
    fn parse(nodes: i64, content: &[u8]) -> LockSummary {
        let mut summary = LockSummary {
            nodes,
            inputs: BTreeMap::new(),
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(content) else {
            return summary;
        };
        let Some(map) = json.get("nodes").and_then(|n| n.as_object()) else {
            return summary;
        };
        for node in map.values() {
            let (Some(original), Some(locked)) = (node.get("original"), node.get("locked")) else {
                continue;
            };
            let pin = ["narHash", "rev", "path"]
                .iter()
                .find_map(|k| locked.get(*k).and_then(|v| v.as_str()))
                .map_or_else(|| locked.to_string(), str::to_owned);
            // serde_json's maps are sorted, so equal references print equal.
            summary
                .inputs
                .entry(original.to_string())
                .or_default()
                .push(pin);
        }
        for pins in summary.inputs.values_mut() {
            pins.sort();
        }
        summary
    }

    fn duplicated(&self) -> impl Iterator<Item = &String> {
        self.inputs
            .iter()
            .filter(|(_, pins)| pins.len() > 1)
            .map(|(original, _)| original)
    }
}

/// Nodes per lock of one combo.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStats {
    pub combo: String,
    pub locks: usize,
    pub mean: f64,
    pub median: f64,
    /// Locks per node count (0, 1, 2, …).
    pub distribution: BTreeMap<i64, usize>,
    /// Locks that lock one original reference more than once.
    pub locks_with_duplicates: usize,
}

/// A flake whose combos locked it differently.
#[derive(Debug, Clone, Serialize)]
pub struct LockDisagreement {
    pub flake: String,
    pub combos: Vec<String>,
    /// Original references locked differently (or only) by some combos.
    pub differing_inputs: Vec<String>,
}

/// An input locked more than once in one lock, and how many locks do so.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicatedInput {
    pub original: String,
    pub locks: usize,
}

/// An output that evaluates under two combos, to different derivations.
#[derive(Debug, Clone, Serialize)]
pub struct DrvDivergence {
    pub flake: String,
    pub attr_path: String,
    pub a: String,
    pub b: String,
    pub drv_a: String,
    pub drv_b: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockAnalysis {
    pub per_combo: Vec<NodeStats>,
    pub duplicated_inputs: Vec<DuplicatedInput>,
    /// Flakes locked by two or more combos.
    pub flakes_compared: usize,
    pub flakes_agreeing: usize,
    pub disagreements: Vec<LockDisagreement>,
}

/// How many disagreements and divergences are listed in full (all are counted).
pub const LIST_LIMIT: usize = 500;

/// Reads the run's lockfiles once and analyses them.
pub async fn analyse_locks(db: &Db, data: &RunData) -> Result<LockAnalysis, ReportError> {
    let mut locks: HashMap<Sym, LockSummary> = HashMap::new();
    db.scan_lockfiles(data.run.id, |l| {
        if let Some(sym) = data.strings.find(&l.hash) {
            locks.insert(sym, LockSummary::parse(l.nodes, &l.content));
        }
    })
    .await?;
    Ok(analyse(data, &locks))
}

fn analyse(data: &RunData, locks: &HashMap<Sym, LockSummary>) -> LockAnalysis {
    let mut per_combo = Vec::new();
    for (ci, combo) in data.combos.iter().enumerate() {
        let mut nodes: Vec<i64> = Vec::new();
        let mut with_dup = 0;
        for t in data.tests.iter().filter(|t| t.combo as usize == ci) {
            if let Some(lock) = t.lockfile.and_then(|h| locks.get(&h)) {
                nodes.push(lock.nodes);
                with_dup += usize::from(lock.duplicated().next().is_some());
            }
        }
        nodes.sort_unstable();
        let mut distribution = BTreeMap::new();
        for n in &nodes {
            *distribution.entry(*n).or_default() += 1;
        }
        per_combo.push(NodeStats {
            combo: combo.clone(),
            locks: nodes.len(),
            mean: mean(&nodes),
            median: median(&nodes),
            distribution,
            locks_with_duplicates: with_dup,
        });
    }

    let mut dup_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for lock in locks.values() {
        for original in lock.duplicated() {
            *dup_counts.entry(original).or_default() += 1;
        }
    }
    let mut duplicated_inputs: Vec<DuplicatedInput> = dup_counts
        .into_iter()
        .map(|(original, locks)| DuplicatedInput {
            original: original.to_owned(),
            locks,
        })
        .collect();
    duplicated_inputs.sort_by(|a, b| b.locks.cmp(&a.locks).then(a.original.cmp(&b.original)));
    duplicated_inputs.truncate(LIST_LIMIT);

    let (mut compared, mut agreeing, mut disagreements) = (0, 0, Vec::new());
    for (fi, flake) in data.flakes.iter().enumerate() {
        let fi = u32::try_from(fi).unwrap_or(u32::MAX);
        let locked: Vec<(u16, Sym)> = (0..data.combos.len())
            .filter_map(|c| u16::try_from(c).ok())
            .filter_map(|c| Some((c, data.test(fi, c)?.lockfile?)))
            .collect();
        if locked.len() < 2 {
            continue;
        }
        compared += 1;
        let first = locked[0].1;
        if locked.iter().all(|(_, h)| *h == first) {
            agreeing += 1;
            continue;
        }
        let summaries: Vec<Option<&LockSummary>> =
            locked.iter().map(|(_, h)| locks.get(h)).collect();
        let originals: BTreeSet<&String> = summaries
            .iter()
            .flatten()
            .flat_map(|s| s.inputs.keys())
            .collect();
        let differing: Vec<String> = originals
            .into_iter()
            .filter(|o| {
                let pins: Vec<Option<&Vec<String>>> = summaries
                    .iter()
                    .map(|s| s.and_then(|s| s.inputs.get(*o)))
                    .collect();
                pins.iter().any(|p| *p != pins[0])
            })
            .cloned()
            .collect();
        if differing.is_empty() {
            // Different bytes, same pins (formatting, lock version): they agree.
            agreeing += 1;
        } else if disagreements.len() < LIST_LIMIT {
            disagreements.push(LockDisagreement {
                flake: flake.clone(),
                combos: locked
                    .iter()
                    .map(|(c, _)| data.combos[*c as usize].clone())
                    .collect(),
                differing_inputs: differing,
            });
        }
    }
    LockAnalysis {
        per_combo,
        duplicated_inputs,
        flakes_compared: compared,
        flakes_agreeing: agreeing,
        disagreements,
    }
}

/// Outputs of one flake that evaluate under both combos to different drvPaths.
pub fn drv_divergence(data: &RunData, a: u16, b: u16) -> (usize, Vec<DrvDivergence>) {
    let mut count = 0;
    let mut list = Vec::new();
    for (fi, flake) in data.flakes.iter().enumerate() {
        let fi = u32::try_from(fi).unwrap_or(u32::MAX);
        let (Some(ta), Some(tb)) = (data.test(fi, a), data.test(fi, b)) else {
            continue;
        };
        let drvs_a: HashMap<Sym, &str> = data
            .outputs_of(ta)
            .iter()
            .filter_map(|o| Some((o.attr, o.drv_path.as_deref()?)))
            .collect();
        for o in data.outputs_of(tb) {
            let (Some(drv_b), Some(drv_a)) = (o.drv_path.as_deref(), drvs_a.get(&o.attr)) else {
                continue;
            };
            if *drv_a != drv_b {
                count += 1;
                if list.len() < LIST_LIMIT {
                    list.push(DrvDivergence {
                        flake: flake.clone(),
                        attr_path: data.strings.get(o.attr).to_owned(),
                        a: data.combos[a as usize].clone(),
                        b: data.combos[b as usize].clone(),
                        drv_a: (*drv_a).to_owned(),
                        drv_b: drv_b.to_owned(),
                    });
                }
            }
        }
    }
    (count, list)
}

pub(crate) fn mean(sorted: &[i64]) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.iter().map(|n| *n as f64).sum::<f64>() / sorted.len() as f64
}

pub(crate) fn median(sorted: &[i64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2] as f64,
        n => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    const LOCK: &str = r#"{"nodes":{
      "root":{"inputs":{"a":"a","b":"b"}},
      "a":{"locked":{"type":"github","owner":"o","repo":"nixpkgs","rev":"r1","narHash":"h1"},
           "original":{"type":"github","owner":"o","repo":"nixpkgs"}},
      "b":{"locked":{"type":"github","owner":"o","repo":"nixpkgs","rev":"r2","narHash":"h2"},
           "original":{"repo":"nixpkgs","owner":"o","type":"github"}}
    },"root":"root","version":7}"#;

    #[test]
    fn an_input_locked_twice_is_a_duplicate_whatever_its_key_order() {
        let s = LockSummary::parse(2, LOCK.as_bytes());
        let dups: Vec<_> = s.duplicated().collect();
        assert_eq!(dups.len(), 1, "{:?}", s.inputs);
        assert!(dups[0].contains("nixpkgs"));
        assert_eq!(s.inputs[dups[0]], vec!["h1".to_owned(), "h2".to_owned()]);
        assert!(LockSummary::parse(0, b"not json").inputs.is_empty());
    }

    #[test]
    fn mean_and_median() {
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(median(&[1, 2, 3, 10]), 2.5);
        assert_eq!(median(&[1, 5, 9]), 5.0);
        assert!((mean(&[5, 5, 6]) - 16.0 / 3.0).abs() < 1e-9);
    }
}
