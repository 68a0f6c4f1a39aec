//! Names every failure.
//!
//! A failing stage's stderr is matched against an ordered list of rules; the first rule that
//! matches names the error class. All rules of a stage are compiled into one
//! [`regex::bytes::RegexSet`], so stderr is scanned once however many rules there are; only
//! the winning rule's own regex runs again, to capture its `detail` group.
//!
//! Rules come from TOML (`classifier/rules.toml` is built in; users add their own files):
//!
//! ```toml
//! [[rule]]
//! id = "relative-path-outside-store"
//! pattern = '''relative path '(?P<detail>[^']*)' points outside of its parent's store path'''
//! category = "flake"
//! stage = "any"
//! description = "a path: input reaches above the flake's own source tree"
//! ```

mod rules;

pub use rules::{Category, Class, RuleError, RuleSet, RuleStage};
