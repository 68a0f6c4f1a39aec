//! Applying the comparison model to every flake of two sides: two combos of one run
//! (`gnfc compare`), or one combo in two runs (`gnfc diff`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compare::{compare, Comparison};
use crate::dataset::{RunData, TestResult};

/// One side of a pair: a combo of a run.
#[derive(Debug, Clone, Copy)]
pub struct PairSide<'a> {
    pub data: &'a RunData,
    pub combo: u16,
}

impl<'a> PairSide<'a> {
    pub fn name(&self) -> &'a str {
        self.data
            .combos
            .get(self.combo as usize)
            .map_or("", String::as_str)
    }

    fn test(&self, flake: &str) -> Option<&'a TestResult> {
        self.data
            .flake_named(flake)
            .and_then(|f| self.data.test(f, self.combo))
    }
}

/// How one output of a flake changed (only outputs that changed are kept).
#[derive(Debug, Clone, Serialize)]
pub struct OutputChange {
    pub attr_path: String,
    pub comparison: Comparison,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// How one flake changed from side a to side b.
#[derive(Debug, Clone, Serialize)]
pub struct FlakeChange {
    pub flake: String,
    pub comparison: Comparison,
    /// `outcome (class)` on each side, absent when the side has no test.
    pub a: Option<String>,
    pub b: Option<String>,
    /// The error class that explains the change: b's for a regression or changed failure,
    /// a's for a fix.
    pub class: Option<String>,
    #[serde(skip)]
    pub a_test: Option<i64>,
    #[serde(skip)]
    pub b_test: Option<i64>,
    pub outputs: Vec<OutputChange>,
}

/// Flakes of one comparison class and error class: one line of `gnfc compare`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassGroup {
    pub comparison: Comparison,
    pub class: Option<String>,
    pub count: usize,
    pub flakes: Vec<String>,
}

/// Every flake of two sides compared.
#[derive(Debug, Clone, Serialize)]
pub struct PairComparison {
    pub a: String,
    pub b: String,
    /// How many flakes fall in each comparison, in [`Comparison::ALL`] order.
    pub counts: BTreeMap<Comparison, usize>,
    /// The flakes whose result changed ([`Comparison::is_change`]), in side a's then side b's
    /// flake order; the unchanged ones are only counted.
    pub changes: Vec<FlakeChange>,
}

impl PairComparison {
    pub fn count(&self, c: Comparison) -> usize {
        self.counts.get(&c).copied().unwrap_or(0)
    }

    /// The changed flakes grouped by (comparison, class), most frequent first within each
    /// comparison, comparisons most alarming first.
    pub fn groups(&self) -> Vec<ClassGroup> {
        let mut groups: BTreeMap<(Comparison, Option<String>), Vec<String>> = BTreeMap::new();
        for f in &self.changes {
            groups
                .entry((f.comparison, f.class.clone()))
                .or_default()
                .push(f.flake.clone());
        }
        let mut list: Vec<ClassGroup> = groups
            .into_iter()
            .map(|((comparison, class), flakes)| ClassGroup {
                comparison,
                class,
                count: flakes.len(),
                flakes,
            })
            .collect();
        let rank = |c: Comparison| Comparison::ALL.iter().position(|x| *x == c);
        list.sort_by(|x, y| {
            rank(x.comparison)
                .cmp(&rank(y.comparison))
                .then(y.count.cmp(&x.count))
                .then(x.class.cmp(&y.class))
        });
        list
    }
}

/// Compares side b with side a for every flake either side tested.
pub fn compare_pair(a: PairSide<'_>, b: PairSide<'_>) -> PairComparison {
    let mut flakes: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for side in [a, b] {
        for t in side.data.tests.iter().filter(|t| t.combo == side.combo) {
            let label = side
                .data
                .flakes
                .get(t.flake as usize)
                .map_or("", String::as_str);
            if seen.insert(label) {
                flakes.push(label);
            }
        }
    }
    let mut counts: BTreeMap<Comparison, usize> = BTreeMap::new();
    let mut changes = Vec::new();
    for flake in flakes {
        let (ta, tb) = (a.test(flake), b.test(flake));
        let sa = ta.and_then(|t| a.data.side(t));
        let sb = tb.and_then(|t| b.data.side(t));
        let comparison = compare(sa, sb);
        *counts.entry(comparison).or_default() += 1;
        if !comparison.is_change() {
            continue;
        }
        let class = match comparison {
            Comparison::Fixed | Comparison::SpuriousFixed => sa.and_then(|s| s.class),
            _ => sb.and_then(|s| s.class).or(sa.and_then(|s| s.class)),
        };
        let outputs = match (ta, tb) {
            (Some(ta), Some(tb)) => output_changes(a.data, ta, b.data, tb),
            _ => Vec::new(),
        };
        changes.push(FlakeChange {
            flake: flake.to_owned(),
            comparison,
            a: ta.map(|t| a.data.verdict(t)),
            b: tb.map(|t| b.data.verdict(t)),
            class: class.map(str::to_owned),
            a_test: ta.map(|t| t.id),
            b_test: tb.map(|t| t.id),
            outputs,
        });
    }
    PairComparison {
        a: a.name().to_owned(),
        b: b.name().to_owned(),
        counts,
        changes,
    }
}

/// Per-output comparison of two tests of one flake: the outputs whose result changed. Only
/// tests that enumerated outputs have any, so this matters for `partial` ones.
fn output_changes(
    da: &RunData,
    ta: &TestResult,
    db: &RunData,
    tb: &TestResult,
) -> Vec<OutputChange> {
    let (oa, ob) = (da.outputs_of(ta), db.outputs_of(tb));
    if oa.is_empty() && ob.is_empty() {
        return Vec::new();
    }
    let mut attrs: BTreeMap<&str, (Option<usize>, Option<usize>)> = BTreeMap::new();
    for (i, o) in oa.iter().enumerate() {
        attrs.entry(da.strings.get(o.attr)).or_default().0 = Some(i);
    }
    for (i, o) in ob.iter().enumerate() {
        attrs.entry(db.strings.get(o.attr)).or_default().1 = Some(i);
    }
    let describe = |d: &RunData, o: &crate::dataset::OutputResult| match d.str(o.class) {
        Some(class) => format!("{} ({class})", o.status),
        None => o.status.to_string(),
    };
    attrs
        .into_iter()
        .filter_map(|(attr, (ia, ib))| {
            let xa = ia.and_then(|i| oa.get(i));
            let xb = ib.and_then(|i| ob.get(i));
            let comparison = compare(xa.map(|o| da.output_side(o)), xb.map(|o| db.output_side(o)));
            comparison.is_change().then(|| OutputChange {
                attr_path: attr.to_owned(),
                comparison,
                a: xa.map(|o| describe(da, o)),
                b: xb.map(|o| describe(db, o)),
            })
        })
        .collect()
}

/// The pairs a report compares within one run: combos that differ only in implementation
/// (same resolver) or only in resolver (same implementation).
pub fn natural_pairs(data: &RunData) -> Vec<(u16, u16)> {
    let split = |c: &str| -> (String, String) {
        match c.rsplit_once('/') {
            Some((i, r)) => (i.to_owned(), r.to_owned()),
            None => (c.to_owned(), String::new()),
        }
    };
    let parts: Vec<(String, String)> = data.combos.iter().map(|c| split(c)).collect();
    let mut pairs = Vec::new();
    for (i, (ia, ra)) in parts.iter().enumerate() {
        for (j, (ib, rb)) in parts.iter().enumerate().skip(i + 1) {
            if ia == ib || ra == rb {
                if let (Ok(i), Ok(j)) = (u16::try_from(i), u16::try_from(j)) {
                    pairs.push((i, j));
                }
            }
        }
    }
    pairs
}
