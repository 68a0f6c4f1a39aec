//! Lists of flakes in a file (`gnfc run --flakes-from FILE`): one `owner/repo[/subdir]` per
//! line, blank lines and `#` comments ignored — what `gnfc report --retry-list` prints.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context as _;
use gnfc_data::FlakeRow;

/// Keeps the flakes of `corpus` that `file` lists; a listed name the corpus lacks is an error
/// (a typo would otherwise silently shrink the run).
pub fn keep_listed(corpus: Vec<FlakeRow>, file: &Path) -> anyhow::Result<Vec<FlakeRow>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the flake list {}", file.display()))?;
    let wanted: BTreeSet<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    if wanted.is_empty() {
        anyhow::bail!(
            "{} lists no flakes (one owner/repo[/subdir] per line expected)",
            file.display()
        );
    }
    let known: BTreeSet<String> = corpus.iter().map(FlakeRow::label).collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !known.contains(*w))
        .collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "{}: {} listed flakes are not in the corpus (see `gnfc corpus list`): {}",
            file.display(),
            unknown.len(),
            unknown
                .iter()
                .take(10)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(corpus
        .into_iter()
        .filter(|f| wanted.contains(f.label().as_str()))
        .collect())
}
