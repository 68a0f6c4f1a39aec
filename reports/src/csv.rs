//! CSV for researchers: one row per test, or one row per output (RFC 4180 quoting).

use std::io::Write;

use gnfc_data::{Outcome, OutputStatus};

use crate::dataset::RunData;

/// Quotes a field when it holds a comma, quote or line break.
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn row(out: &mut impl Write, fields: &[&str]) -> std::io::Result<()> {
    let line: Vec<_> = fields.iter().map(|f| field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

/// The columns both files start with, so they join on `test_id`.
const KEY_COLUMNS: [&str; 5] = ["run", "test_id", "flake", "implementation", "resolver"];

fn header(out: &mut impl Write, rest: &[&str]) -> std::io::Result<()> {
    let columns: Vec<&str> = KEY_COLUMNS.iter().chain(rest).copied().collect();
    row(out, &columns)
}

fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// `run,flake,implementation,resolver,outcome,class,category,…` per test.
pub fn tests_csv(out: &mut impl Write, data: &RunData) -> std::io::Result<()> {
    header(
        out,
        &[
            "outcome",
            "class",
            "category",
            "detail",
            "exit_code",
            "lock_ms",
            "enumerate_ms",
            "eval_ms",
            "total_ms",
            "lockfile_hash",
            "outputs_total",
            "outputs_failed",
            "attempt",
            "flaky",
        ],
    )?;
    for t in &data.tests {
        let (implementation, resolver) = data.implementation_resolver(t.combo);
        let outputs = data.outputs_of(t);
        let failed = outputs
            .iter()
            .filter(|o| o.status != OutputStatus::Pass)
            .count();
        row(
            out,
            &[
                &data.run.name,
                &t.id.to_string(),
                data.flakes.get(t.flake as usize).map_or("", String::as_str),
                implementation,
                resolver,
                t.outcome.map_or("", Outcome::as_str),
                data.str(t.class).unwrap_or(""),
                data.str(t.category).unwrap_or(""),
                t.detail.as_deref().unwrap_or(""),
                &num(t.exit_code),
                &num(t.lock_ms),
                &num(t.enumerate_ms),
                &num(t.eval_ms),
                &num(t.total_ms),
                data.str(t.lockfile).unwrap_or(""),
                &outputs.len().to_string(),
                &failed.to_string(),
                &t.attempt.to_string(),
                if t.flaky { "1" } else { "0" },
            ],
        )?;
    }
    Ok(())
}

/// `run,test_id,flake,implementation,resolver,attr_path,status,drv_path,…` per output.
pub fn outputs_csv(out: &mut impl Write, data: &RunData) -> std::io::Result<()> {
    header(
        out,
        &[
            "attr_path",
            "status",
            "drv_path",
            "eval_ms",
            "class",
            "category",
            "detail",
        ],
    )?;
    for t in &data.tests {
        let (implementation, resolver) = data.implementation_resolver(t.combo);
        let flake = data.flakes.get(t.flake as usize).map_or("", String::as_str);
        let id = t.id.to_string();
        for o in data.outputs_of(t) {
            row(
                out,
                &[
                    &data.run.name,
                    &id,
                    flake,
                    implementation,
                    resolver,
                    data.strings.get(o.attr),
                    o.status.as_str(),
                    o.drv_path.as_deref().unwrap_or(""),
                    &o.eval_ms.to_string(),
                    data.str(o.class).unwrap_or(""),
                    data.str(o.category).unwrap_or(""),
                    o.detail.as_deref().unwrap_or(""),
                ],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
