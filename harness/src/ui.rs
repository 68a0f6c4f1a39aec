//! What commands show while they work, alike in every command: spinners, the progress of
//! scrapes and fetches, plurals. All of it is hidden with `--quiet`.

use std::time::Duration;

use gnfc_scrapers::Progress;
use indicatif::{ProgressBar, ProgressStyle};

const TICK: Duration = Duration::from_millis(200);

/// A ticking spinner saying `message`, laid out by the indicatif `template` (the default
/// layout when `None`); hidden when quiet.
pub(crate) fn spinner(
    quiet: bool,
    message: impl Into<String>,
    template: Option<&str>,
) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.into());
    if let Some(Ok(style)) = template.map(ProgressStyle::with_template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(TICK);
    bar
}

/// Progress of a scrape or fetch on a spinner: what is being fetched, rate-limit waits
/// (said to be waits, with how long), and warnings printed above it.
#[derive(Debug)]
pub(crate) struct BarProgress {
    pub bar: ProgressBar,
    quiet: bool,
}

impl BarProgress {
    pub(crate) fn new(quiet: bool, total: Option<u64>) -> BarProgress {
        let bar = match (quiet, total) {
            (true, _) => ProgressBar::hidden(),
            (false, Some(n)) => ProgressBar::new(n),
            (false, None) => ProgressBar::new_spinner(),
        };
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {prefix} · {wide_msg}"
        } else {
            "{spinner} [{elapsed_precise}] {prefix} · {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(TICK);
        BarProgress { bar, quiet }
    }
}

impl Progress for BarProgress {
    fn status(&self, text: &str) {
        self.bar.set_message(text.to_owned());
    }

    fn waiting(&self, why: &str, secs: u64) {
        self.bar
            .set_message(format!("rate-limited: waiting {secs}s ({why})"));
    }

    fn warn(&self, text: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("warning: {text}"));
        }
    }
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The line of a stderr where a rule's match starts, split around the matched part (cut at
/// the line's end), for showing which line made the rule match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchedLine {
    /// 1-based.
    pub number: usize,
    before: String,
    matched: String,
    after: String,
}

impl MatchedLine {
    pub(crate) fn of(stderr: &[u8], span: std::ops::Range<usize>) -> MatchedLine {
        let start = span.start.min(stderr.len());
        let line_start = stderr[..start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = stderr[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(stderr.len(), |i| start + i);
        let end = span.end.clamp(start, line_end);
        MatchedLine {
            number: stderr[..line_start].iter().filter(|&&b| b == b'\n').count() + 1,
            before: String::from_utf8_lossy(&stderr[line_start..start]).into_owned(),
            matched: String::from_utf8_lossy(&stderr[start..end]).into_owned(),
            after: String::from_utf8_lossy(&stderr[end..line_end]).into_owned(),
        }
    }

    /// `prefix` and the line, then carets under the matched part.
    pub(crate) fn underlined(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}{}{}\n{}{}",
            self.before,
            self.matched,
            self.after,
            " ".repeat(prefix.chars().count() + self.before.chars().count()),
            "^".repeat(self.matched.chars().count().max(1))
        )
    }
}

#[cfg(test)]
mod unit {
    use super::MatchedLine;

    #[test]
    fn a_match_is_underlined_on_its_own_line() {
        let stderr = b"warning: dirty\nerror: attribute 'x' missing\n  at y\n";
        let start = 22;
        let line = MatchedLine::of(stderr, start..start + 13);
        assert_eq!(line.number, 2);
        assert_eq!(
            line.underlined("> "),
            "> error: attribute 'x' missing\n         ^^^^^^^^^^^^^"
        );
        // A match running past its line is cut at the line's end.
        let long = MatchedLine::of(stderr, start..stderr.len());
        assert_eq!(
            long.underlined("").lines().nth(1),
            Some("       ^^^^^^^^^^^^^^^^^^^^^")
        );
    }
}
