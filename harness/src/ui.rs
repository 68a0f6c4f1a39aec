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
