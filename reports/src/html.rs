//! The HTML report: one self-contained file (inline CSS, SVG and script; nothing fetched).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;

use gnfc_data::{Db, Outcome, OutputStatus, Stage};

use crate::compare::Comparison;
use crate::dataset::{RunData, TestResult};
use crate::pairs::PairComparison;
use crate::{outcome_counts, plots, Analysis, ReportError};

/// Rows of the per-flake table; beyond this, flakes where combos differ and failures are
/// kept first and the page says how many were left out (CSV and JSON have them all).
pub const MAX_ROWS: usize = 20_000;
/// Tests given a detail section (stderr, lockfile, outputs).
pub const MAX_DETAILS: usize = 2_000;
/// Bytes of stderr and lockfile shown per test.
const MAX_TEXT: usize = 64 * 1024;
/// Flakes listed per comparison group.
const GROUP_FLAKES: usize = 50;

const CSS: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// HTML-escapes text.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut cut = MAX_TEXT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n… ({} more bytes)", &s[..cut], s.len() - cut)
}

/// Whether the recorded results of a flake differ between combos.
fn differs(data: &RunData, flake: u32) -> bool {
    let mut verdicts = (0..data.combos.len())
        .filter_map(|c| u16::try_from(c).ok())
        .map(|c| data.test(flake, c).map(|t| (t.outcome, t.class)));
    let first = verdicts.next();
    verdicts.any(|v| Some(v) != first)
}

/// Writes the report.
pub async fn html_report(
    out: &mut impl Write,
    db: &Db,
    data: &RunData,
    analysis: &Analysis,
) -> Result<(), ReportError> {
    let mut h = String::with_capacity(1 << 20);
    let run = &data.run;
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>gnfc report: {}</title><style>{CSS}</style></head><body>\n",
        esc(&run.name)
    );
    let state = if run.finished_at.is_some() {
        "finished"
    } else {
        "unfinished"
    };
    let _ = write!(
        h,
        "<header><h1>gnfc run <code>{}</code></h1><p>{} of {} tests recorded, {state}; \
         {} flakes × {} combos.</p><nav><a href=\"#summary\">Summary</a> \
         <a href=\"#plots\">Plots</a> <a href=\"#comparisons\">Comparisons</a> \
         <a href=\"#lockfiles\">Lockfiles</a> <a href=\"#flakes\">Flakes</a> \
         <a href=\"#details\">Test details</a></nav></header>",
        esc(&run.name),
        run.done,
        run.planned,
        data.flakes.len(),
        data.combos.len()
    );
    let counts = outcome_counts(data);
    summary(&mut h, data, &counts);
    h.push_str("<section id=\"plots\"><h2>Plots</h2><div class=\"plots\">");
    for svg in [
        plots::outcome_shares(data, &counts),
        plots::failures_by_class(data, 15),
        plots::inputs_per_lock(&analysis.lockfiles.per_combo),
        plots::time_distribution(data, "Lock time", |t| t.lock_ms),
        plots::time_distribution(data, "Evaluation time (all outputs)", |t| t.eval_ms),
    ] {
        let _ = write!(h, "<figure>{svg}</figure>");
    }
    h.push_str("</div></section>\n");
    let shown = chosen_rows(data);
    let row_of: HashMap<&str, u32> = shown
        .iter()
        .filter_map(|f| Some((data.flakes.get(*f as usize)?.as_str(), *f)))
        .collect();
    comparisons(&mut h, &analysis.pairs, &row_of);
    lockfiles(&mut h, analysis);
    out.write_all(h.as_bytes()).map_err(io_error)?;
    h.clear();

    let detailed = flake_table(&mut h, data, &shown);
    out.write_all(h.as_bytes()).map_err(io_error)?;
    h.clear();
    details(out, db, data, &detailed).await?;
    let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
    out.write_all(h.as_bytes()).map_err(io_error)?;
    Ok(())
}

fn io_error(source: std::io::Error) -> ReportError {
    ReportError::Io {
        what: "the report",
        source,
    }
}

fn summary(h: &mut String, data: &RunData, counts: &[Vec<usize>]) {
    h.push_str(
        "<section id=\"summary\"><h2>Summary</h2><table><thead><tr><th>combo</th><th>tests</th>",
    );
    for o in Outcome::ALL {
        let _ = write!(h, "<th>{o}</th>");
    }
    h.push_str("<th>median lock</th><th>median eval</th></tr></thead><tbody>");
    for (ci, combo) in data.combos.iter().enumerate() {
        let row = &counts[ci];
        let total: usize = row.iter().sum();
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{total}</td>", esc(combo));
        for (o, c) in Outcome::ALL.iter().zip(row) {
            match crate::outcome_share(*o, *c, row) {
                Some(share) => write!(h, "<td class=\"n\">{c} <small>({share:.0}%)</small></td>"),
                None => write!(h, "<td class=\"n\">{c}</td>"),
            }
            .ok();
        }
        let med = |f: fn(&TestResult) -> Option<i64>| {
            let mut v: Vec<i64> = data
                .tests
                .iter()
                .filter(|t| t.combo as usize == ci)
                .filter_map(f)
                .collect();
            v.sort_unstable();
            crate::lockfiles::median(&v)
        };
        let _ = write!(
            h,
            "<td class=\"n\">{:.0} ms</td><td class=\"n\">{:.0} ms</td></tr>",
            med(|t| t.lock_ms),
            med(|t| t.eval_ms)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn flake_link(flake: &str, row_of: &HashMap<&str, u32>) -> String {
    match row_of.get(flake) {
        Some(i) => format!("<a href=\"#f{i}\">{}</a>", esc(flake)),
        None => esc(flake),
    }
}

fn comparisons(h: &mut String, pairs: &[PairComparison], row_of: &HashMap<&str, u32>) {
    h.push_str("<section id=\"comparisons\"><h2>Comparisons</h2>");
    if pairs.is_empty() {
        h.push_str("<p>Only one combo: nothing to compare.</p>");
    }
    for p in pairs {
        let _ = write!(
            h,
            "<h3><code>{}</code> → <code>{}</code></h3><table class=\"counts\"><tr>",
            esc(&p.a),
            esc(&p.b)
        );
        for c in Comparison::ALL {
            let _ = write!(h, "<th class=\"c-{c}\">{c}</th>");
        }
        h.push_str("</tr><tr>");
        for c in Comparison::ALL {
            let _ = write!(h, "<td class=\"n\">{}</td>", p.count(*c));
        }
        h.push_str("</tr></table>");
        let groups = p.groups();
        if groups.is_empty() {
            continue;
        }
        h.push_str("<table class=\"groups\"><thead><tr><th>comparison</th><th>class</th><th>flakes</th><th>which</th></tr></thead><tbody>");
        for g in groups {
            let links: Vec<String> = g
                .flakes
                .iter()
                .take(GROUP_FLAKES)
                .map(|f| flake_link(f, row_of))
                .collect();
            let more = g.flakes.len().saturating_sub(GROUP_FLAKES);
            let _ = write!(
                h,
                "<tr><td class=\"c-{}\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}{}</td></tr>",
                g.comparison,
                g.comparison,
                esc(g.class.as_deref().unwrap_or("-")),
                g.count,
                links.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

fn lockfiles(h: &mut String, analysis: &Analysis) {
    let l = &analysis.lockfiles;
    h.push_str("<section id=\"lockfiles\"><h2>Lockfiles</h2><table><thead><tr><th>combo</th><th>locks</th><th>mean inputs</th><th>median</th><th>with duplicated inputs</th></tr></thead><tbody>");
    for s in &l.per_combo {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&s.combo),
            s.locks,
            s.mean,
            s.median,
            s.locks_with_duplicates
        );
    }
    let _ = write!(
        h,
        "</tbody></table><p>{} of {} flakes locked by several combos got the same pins.</p>",
        l.flakes_agreeing, l.flakes_compared
    );
    if !l.disagreements.is_empty() {
        h.push_str("<h3>Locks that differ between combos</h3><table><thead><tr><th>flake</th><th>combos</th><th>inputs pinned differently</th></tr></thead><tbody>");
        for d in &l.disagreements {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&d.flake),
                esc(&d.combos.join(", ")),
                esc(&d.differing_inputs.join("\n"))
            );
        }
        h.push_str("</tbody></table>");
    }
    if !l.duplicated_inputs.is_empty() {
        h.push_str("<h3>Inputs locked more than once in one lock</h3><table><thead><tr><th>original reference</th><th>locks</th></tr></thead><tbody>");
        for d in &l.duplicated_inputs {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                esc(&d.original),
                d.locks
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("<h3>drvPath divergence</h3>");
    if analysis.drv_divergence.iter().all(|d| d.count == 0) {
        h.push_str("<p>No output evaluates to different drvPaths between compared combos.</p>");
    }
    for d in analysis.drv_divergence.iter().filter(|d| d.count > 0) {
        let _ = write!(
            h,
            "<p>{} outputs differ between <code>{}</code> and <code>{}</code>.</p><table><thead><tr><th>flake</th><th>output</th><th>drvPath a</th><th>drvPath b</th></tr></thead><tbody>",
            d.count,
            esc(&d.a),
            esc(&d.b)
        );
        for o in &d.outputs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&o.flake),
                esc(&o.attr_path),
                esc(&o.drv_a),
                esc(&o.drv_b)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

/// The flakes the table shows: where combos differ first, then with failures, then the rest,
/// up to [`MAX_ROWS`], in plan order.
fn chosen_rows(data: &RunData) -> Vec<u32> {
    let n = u32::try_from(data.flakes.len()).unwrap_or(u32::MAX);
    let failing = |f: u32| {
        (0..data.combos.len())
            .filter_map(|c| u16::try_from(c).ok())
            .any(|c| {
                data.test(f, c)
                    .is_some_and(|t| t.outcome != Some(Outcome::Pass))
            })
    };
    let mut rows: Vec<u32> = Vec::new();
    let mut taken = vec![false; data.flakes.len()];
    let tiers: [&dyn Fn(u32) -> bool; 3] = [&|f| differs(data, f), &failing, &|_| true];
    for tier in tiers {
        for f in 0..n {
            if rows.len() >= MAX_ROWS {
                break;
            }
            if !taken[f as usize] && tier(f) {
                taken[f as usize] = true;
                rows.push(f);
            }
        }
    }
    rows.sort_unstable();
    rows
}

/// Writes the filterable table; returns the tests that get a detail section.
fn flake_table(h: &mut String, data: &RunData, rows: &[u32]) -> Vec<usize> {
    let mut classes: BTreeSet<&str> = BTreeSet::new();
    for t in &data.tests {
        if let Some(c) = data.str(t.class) {
            classes.insert(c);
        }
    }
    h.push_str("<section id=\"flakes\"><h2>Flakes</h2><div class=\"filters\">");
    h.push_str("<label>outcome <select id=\"f-outcome\"><option value=\"\">any</option>");
    for o in Outcome::ALL {
        let _ = write!(h, "<option>{o}</option>");
    }
    h.push_str(
        "</select></label> <label>class <select id=\"f-class\"><option value=\"\">any</option>",
    );
    for c in &classes {
        let _ = write!(h, "<option>{}</option>", esc(c));
    }
    h.push_str(
        "</select></label> <label>combo <select id=\"f-combo\"><option value=\"\">any</option>",
    );
    for c in &data.combos {
        let _ = write!(h, "<option>{}</option>", esc(c));
    }
    let _ = write!(
        h,
        "</select></label> <label><input type=\"checkbox\" id=\"f-differ\"> only where combos \
         differ</label> <label>flake <input type=\"search\" id=\"f-search\" \
         placeholder=\"name contains\"></label> <span id=\"f-count\">{} of {} flakes shown</span></div>",
        rows.len(),
        rows.len()
    );
    if rows.len() < data.flakes.len() {
        let _ = write!(
            h,
            "<p class=\"note\">The table lists {} of {} flakes (those where combos differ and \
             those with failures first); `gnfc report --format csv` has every test.</p>",
            rows.len(),
            data.flakes.len()
        );
    }
    h.push_str("<table id=\"flake-table\"><thead><tr><th>flake</th>");
    for c in &data.combos {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>\n");
    let mut detailed = Vec::new();
    let mut index_of: HashMap<i64, usize> = HashMap::new();
    for (i, t) in data.tests.iter().enumerate() {
        index_of.insert(t.id, i);
    }
    for &f in rows {
        let flake = data.flakes.get(f as usize).map_or("", String::as_str);
        let differ = differs(data, f);
        let _ = write!(
            h,
            "<tr id=\"f{f}\" data-differ=\"{}\" data-flake=\"{}\"><td>{}</td>",
            u8::from(differ),
            esc(&flake.to_lowercase()),
            esc(flake)
        );
        for c in 0..data.combos.len() {
            let combo = esc(&data.combos[c]);
            let Some(t) = u16::try_from(c).ok().and_then(|c| data.test(f, c)) else {
                let _ = write!(
                    h,
                    "<td data-combo=\"{combo}\" data-outcome=\"\" data-class=\"\">-</td>"
                );
                continue;
            };
            let outcome = t.outcome.map_or("pending", Outcome::as_str);
            let class = data.str(t.class).unwrap_or("");
            let want_detail = detailed.len() < MAX_DETAILS && t.outcome.is_some();
            let text = if want_detail {
                detailed.extend(index_of.get(&t.id));
                format!("<a href=\"#t{}\">{outcome}</a>", t.id)
            } else {
                outcome.to_owned()
            };
            let _ = write!(
                h,
                "<td class=\"o-{outcome}\" data-combo=\"{combo}\" data-outcome=\"{outcome}\" \
                 data-class=\"{}\">{text}{}{}</td>",
                esc(class),
                if class.is_empty() {
                    String::new()
                } else {
                    format!(" <small>{}</small>", esc(class))
                },
                if t.flaky { " <small>flaky</small>" } else { "" }
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></section>\n");
    detailed
}

async fn details(
    out: &mut impl Write,
    db: &Db,
    data: &RunData,
    tests: &[usize],
) -> Result<(), ReportError> {
    out.write_all(b"<section id=\"details\"><h2>Test details</h2>\n")
        .map_err(io_error)?;
    let mut locks: HashMap<u32, String> = HashMap::new();
    for &i in tests {
        let Some(t) = data.tests.get(i) else { continue };
        let mut h = String::new();
        let flake = data.flakes.get(t.flake as usize).map_or("", String::as_str);
        let combo = data.combos.get(t.combo as usize).map_or("", String::as_str);
        let _ = write!(
            h,
            "<details id=\"t{}\"><summary><b>{}</b> · {} · {}</summary><p>attempt {}{}; lock {} ms, \
             enumerate {} ms, eval {} ms, total {} ms{}</p>",
            t.id,
            esc(flake),
            esc(combo),
            esc(&data.verdict(t)),
            t.attempt,
            data.first_verdict(t)
                .map(|f| format!(" (flaky: first attempt was {})", esc(&f)))
                .unwrap_or_default(),
            ms(t.lock_ms),
            ms(t.enumerate_ms),
            ms(t.eval_ms),
            ms(t.total_ms),
            t.detail
                .as_deref()
                .map(|d| format!("; detail <code>{}</code>", esc(d)))
                .unwrap_or_default()
        );
        let outputs = data.outputs_of(t);
        if !outputs.is_empty() {
            h.push_str("<table><thead><tr><th>output</th><th>status</th><th>class</th><th>drvPath</th><th>ms</th></tr></thead><tbody>");
            for o in outputs {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td class=\"s-{}\">{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                    esc(data.strings.get(o.attr)),
                    o.status,
                    o.status,
                    esc(data.str(o.class).unwrap_or("")),
                    esc(o.drv_path.as_deref().unwrap_or("")),
                    o.eval_ms
                );
            }
            h.push_str("</tbody></table>");
        }
        let mut stages: Vec<(Stage, String)> = [Stage::Prepare, Stage::Lock, Stage::Enumerate]
            .into_iter()
            .map(|s| (s, String::new()))
            .collect();
        stages.extend(
            outputs
                .iter()
                .filter(|o| o.status != OutputStatus::Pass)
                .map(|o| (Stage::Eval, data.strings.get(o.attr).to_owned())),
        );
        for (stage, attr) in stages {
            if let Some(s) = db.stderr(t.id, stage, &attr).await? {
                if s.kept.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let _ = write!(
                    h,
                    "<h4>stderr: {stage} {}<small> ({} bytes)</small></h4><pre>{}</pre>",
                    esc(&attr),
                    s.total_bytes,
                    esc(&clip(&String::from_utf8_lossy(&s.kept)))
                );
            }
        }
        if let Some(hash) = t.lockfile {
            if let std::collections::hash_map::Entry::Vacant(e) = locks.entry(hash) {
                let text = db
                    .lockfile(data.strings.get(hash))
                    .await?
                    .map(|l| clip(&String::from_utf8_lossy(&l.content)))
                    .unwrap_or_default();
                e.insert(text);
            }
            let _ = write!(
                h,
                "<h4>flake.lock <small>{}</small></h4><pre>{}</pre>",
                esc(data.strings.get(hash)),
                esc(locks.get(&hash).map_or("", String::as_str))
            );
        }
        h.push_str("</details>\n");
        out.write_all(h.as_bytes()).map_err(io_error)?;
    }
    out.write_all(b"</section>\n").map_err(io_error)?;
    Ok(())
}

fn ms(v: Option<i64>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn escaping_and_clipping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let long = "é".repeat(MAX_TEXT);
        let clipped = clip(&long);
        assert!(clipped.len() < long.len());
        assert!(clipped.ends_with("more bytes)"));
        assert_eq!(clip("short"), "short");
    }
}
