//! The retry list: flakes worth running again, one label per line, as
//! `gnfc run --flakes-from FILE` reads them.

use std::collections::BTreeSet;

use crate::compare::{is_spurious_category, Comparison};
use crate::dataset::RunData;
use crate::pairs::PairComparison;

/// Flakes whose result depends on the combo in any of `pairs` (regressed or fixed, either
/// direction, spuriously or not, or flaky), or that failed spuriously in any combo of `data`.
pub fn retry_list(data: &RunData, pairs: &[PairComparison]) -> Vec<String> {
    let mut flakes: BTreeSet<&str> = BTreeSet::new();
    for p in pairs {
        for c in &p.changes {
            if matches!(
                c.comparison,
                Comparison::Regressed
                    | Comparison::Fixed
                    | Comparison::SpuriousRegressed
                    | Comparison::SpuriousFixed
                    | Comparison::Flaky
            ) {
                flakes.insert(&c.flake);
            }
        }
    }
    for t in &data.tests {
        if data.str(t.category).is_some_and(is_spurious_category) {
            if let Some(f) = data.flakes.get(t.flake as usize) {
                flakes.insert(f);
            }
        }
    }
    flakes.into_iter().map(str::to_owned).collect()
}
