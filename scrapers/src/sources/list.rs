//! A file of repos, one a line: URLs, `owner/repo`, or flakerefs; `#` starts a comment.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::found::from_list_line;
use crate::source::{read_cursor, write_cursor};
use crate::{Page, ScrapeError, SharedProgress, Source};

/// Lines per page: a list is read in pages only so a huge one shows progress and resumes.
const LINES_PER_PAGE: usize = 1000;

#[derive(Debug)]
pub struct List {
    path: PathBuf,
    lines: Vec<String>,
    progress: SharedProgress,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// Index of the next line to read.
    line: usize,
}

impl List {
    pub fn open(path: PathBuf, progress: SharedProgress) -> Result<List, ScrapeError> {
        let text = std::fs::read_to_string(&path).map_err(|source| ScrapeError::List {
            path: path.clone(),
            source,
        })?;
        Ok(List {
            lines: text.lines().map(str::to_owned).collect(),
            path,
            progress,
        })
    }
}

#[async_trait::async_trait]
impl Source for List {
    fn name(&self) -> &'static str {
        "list"
    }

    fn query(&self) -> String {
        std::fs::canonicalize(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }

    fn start(&self) -> serde_json::Value {
        write_cursor(&Cursor { line: 0 })
    }

    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError> {
        let Cursor { line } = read_cursor(self.name(), cursor)?;
        let end = (line + LINES_PER_PAGE).min(self.lines.len());
        self.progress.status(&format!(
            "list: lines {}-{end} of {}",
            line + 1,
            self.lines.len()
        ));
        let mut found = Vec::new();
        for (i, text) in self.lines.iter().enumerate().take(end).skip(line) {
            let text = text.split('#').next().unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            match from_list_line(text) {
                Ok(f) => found.push(f),
                Err(e) => self.progress.warn(&format!(
                    "{}:{}: {e}; line skipped",
                    self.path.display(),
                    i + 1
                )),
            }
        }
        Ok(Page {
            found,
            next: (end < self.lines.len()).then(|| write_cursor(&Cursor { line: end })),
            interrupted: None,
        })
    }
}
