//! Keys of a configuration, and where the parser found them in its text.

use toml_edit::{ImDocument, Item};

use super::errors::Location;

/// The way from the top of a config to one value: keys of tables, indices of arrays.
/// Kept as steps, not a dotted string, because names such as `nix-2.8` hold dots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn new(key: &str) -> KeyPath {
        KeyPath::default().key(key)
    }

    pub fn key(mut self, key: &str) -> KeyPath {
        self.0.push(Step::Key(key.to_owned()));
        self
    }

    pub fn index(mut self, index: usize) -> KeyPath {
        self.0.push(Step::Index(index));
        self
    }
}

/// A config text as the TOML parser read it, with the span of every key and value.
#[derive(Debug)]
pub struct Spans<'a> {
    text: &'a str,
    document: ImDocument<&'a str>,
}

impl<'a> Spans<'a> {
    /// `None` when the text is not TOML (the deserialiser reports that first).
    pub fn parse(text: &'a str) -> Option<Spans<'a>> {
        let document = ImDocument::parse(text).ok()?;
        Some(Spans { text, document })
    }

    /// Where the value at `path` is written: the value itself, else its key. A value the
    /// text does not write (a default) is placed at the nearest enclosing table it does
    /// write; `None` when there is none.
    pub fn locate(&self, path: &KeyPath) -> Option<Location> {
        let mut item: &Item = self.document.as_item();
        let mut found = None;
        for step in &path.0 {
            let (next, key_span) = match step {
                Step::Key(key) => (
                    item.get(key.as_str()),
                    item.as_table_like()
                        .and_then(|t| t.key(key))
                        .and_then(toml_edit::Key::span),
                ),
                Step::Index(index) => (item.get(*index), None),
            };
            let Some(next) = next else { break };
            found = next.span().or(key_span).or(found);
            item = next;
        }
        found.map(|span| Location::of_offset(self.text, span.start))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn at(text: &str, path: &KeyPath) -> Option<(usize, usize)> {
        Spans::parse(text)
            .unwrap()
            .locate(path)
            .map(|l| (l.line, l.column))
    }

    #[test]
    fn values_are_found_through_tables_arrays_and_dotted_names() {
        let text = "[run]\nimplementations = [\"a\", \"nix-2.8\"]\n\n\
                    [implementations.\"nix-2.8\"]\ncommand = []\n\n\
                    [[outputs]]\npath = \"x\"\n[[outputs]]\npath = \"y..z\"\n\n\
                    [limits]\ninline = { memory = \"1\" }\n";
        let run = KeyPath::new("run").key("implementations");
        assert_eq!(at(text, &run.clone().index(1)), Some((2, 25)));
        let imp = KeyPath::new("implementations").key("nix-2.8");
        assert_eq!(at(text, &imp.clone().key("command")), Some((5, 11)));
        let output = KeyPath::new("outputs").index(1).key("path");
        assert_eq!(at(text, &output), Some((10, 8)));
        let inline = KeyPath::new("limits").key("inline").key("memory");
        assert_eq!(at(text, &inline), Some((13, 21)));
    }

    #[test]
    fn unwritten_values_fall_back_to_their_table() {
        let text = "# comment\n[limits]\ntimeout_secs = 5\n";
        assert_eq!(
            at(text, &KeyPath::new("limits").key("memory")),
            Some((2, 1))
        );
        assert_eq!(at(text, &KeyPath::new("run").key("systems")), None);
    }
}
