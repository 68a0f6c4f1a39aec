//! What can be wrong with rule and override files.

use gnfc_data::Stage;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: rule #{position} '{id}': invalid pattern: {cause}")]
    Pattern {
        origin: String,
        position: usize,
        id: String,
        cause: Box<regex::Error>,
    },
    #[error("{origin}: rule #{position}: id '{id}' is already used by rule #{first} of {first_origin}; ids must be unique")]
    DuplicateId {
        origin: String,
        position: usize,
        id: String,
        first_origin: String,
        first: usize,
    },
    #[error("{origin}: rule #{position}: id '{id}' must be lowercase kebab-case (a-z, 0-9, -)")]
    BadId {
        origin: String,
        position: usize,
        id: String,
    },
    #[error("{origin}: rule #{position} '{id}': {message}")]
    BadField {
        origin: String,
        position: usize,
        id: String,
        message: String,
    },
    #[error("{origin}: rule #{position} '{id}': with this rule the {stage} rules compile to more than {limit} bytes together; shorten the largest patterns (bounded repetitions such as \\w{{300}} are the usual cause) ({cause})")]
    TooLarge {
        origin: String,
        position: usize,
        id: String,
        stage: Stage,
        limit: usize,
        cause: Box<regex::Error>,
    },
    #[error("rule '{id}' cannot be written as TOML: {cause}")]
    Serialise { id: String, cause: toml::ser::Error },
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{origin}: override #{position} (test {test}): {message}")]
    BadOverride {
        origin: String,
        position: usize,
        test: i64,
        message: String,
    },
}
